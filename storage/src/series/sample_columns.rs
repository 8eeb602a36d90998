//! One series' samples as a read hands them out: timestamps and values in two
//! vectors side by side, the shape PromQL's engine evaluates over, so a query's
//! samples are decoded straight into the vectors it keeps (no `(time, value)` pair
//! per sample to split afterwards).

/// One series' samples: `ts[i]` (ns) and `vals[i]`, in the order read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SeriesSamples {
    pub ts: Vec<i64>,
    pub vals: Vec<f64>,
}

impl SeriesSamples {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            vals: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Keeps the first `len` samples (times and values alike).
    pub fn truncate(&mut self, len: usize) {
        self.ts.truncate(len);
        self.vals.truncate(len);
    }

    #[inline]
    pub fn push(&mut self, t: i64, v: f64) {
        self.ts.push(t);
        self.vals.push(v);
    }

    /// Moves `other`'s samples after this one's.
    pub fn append(&mut self, other: &mut SeriesSamples) {
        if self.is_empty() {
            std::mem::swap(self, other);
            return;
        }
        self.ts.append(&mut other.ts);
        self.vals.append(&mut other.vals);
    }

    /// Puts `older` (read from an older source) before this one's samples.
    pub fn prepend(&mut self, mut older: SeriesSamples) {
        older.append(self);
        *self = older;
    }

    /// (time, value) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.ts.iter().copied().zip(self.vals.iter().copied())
    }

    /// Sorts the samples from index `from` on by time, stably: of samples with equal
    /// times the one read last stays last. Nothing moves when they are in order.
    pub fn sort_from(&mut self, from: usize) {
        let ts = &self.ts[from.min(self.ts.len())..];
        if ts.is_sorted() {
            return;
        }
        let mut order: Vec<usize> = (0..ts.len()).collect();
        order.sort_by_key(|&i| ts[i]);
        let ts: Vec<i64> = order.iter().map(|&i| ts[i]).collect();
        let vals: Vec<f64> = order.iter().map(|&i| self.vals[from + i]).collect();
        self.ts.truncate(from);
        self.vals.truncate(from);
        self.ts.extend(ts);
        self.vals.extend(vals);
    }

    /// Sorts every sample by time, stably (see [`Self::sort_from`]).
    pub fn sort(&mut self) {
        self.sort_from(0);
    }
}

impl FromIterator<(i64, f64)> for SeriesSamples {
    fn from_iter<I: IntoIterator<Item = (i64, f64)>>(iter: I) -> Self {
        let mut out = SeriesSamples::default();
        out.extend(iter);
        out
    }
}

impl Extend<(i64, f64)> for SeriesSamples {
    fn extend<I: IntoIterator<Item = (i64, f64)>>(&mut self, iter: I) {
        for (t, v) in iter {
            self.push(t, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_is_stable_and_keeps_the_prefix() {
        let mut s: SeriesSamples = [(5, 0.0), (3, 1.0), (1, 2.0), (3, 3.0), (2, 4.0)]
            .into_iter()
            .collect();
        s.sort_from(1);
        let got: Vec<_> = s.iter().collect();
        assert_eq!(got, [(5, 0.0), (1, 2.0), (2, 4.0), (3, 1.0), (3, 3.0)]);
        s.sort();
        assert_eq!(s.ts, [1, 2, 3, 3, 5]);
        assert_eq!(s.vals, [2.0, 4.0, 1.0, 3.0, 0.0]);
    }

    #[test]
    fn append_and_prepend_keep_the_order_read() {
        let mut head: SeriesSamples = [(10, 1.0), (11, 2.0)].into_iter().collect();
        let older: SeriesSamples = [(1, 0.5)].into_iter().collect();
        head.prepend(older);
        let mut more: SeriesSamples = [(12, 3.0)].into_iter().collect();
        head.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(head.ts, [1, 10, 11, 12]);
        let mut empty = SeriesSamples::default();
        empty.append(&mut head);
        assert_eq!(empty.len(), 4);
    }
}
