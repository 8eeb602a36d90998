//! A quantile sketch for SQL's `approx_percentile_cont`: exact for small groups, log
//! buckets past them.
//!
//! Up to [`EXACT`] values a group keeps them as they are and answers exactly
//! (interpolated between the two nearest ranks, as `percentile_cont`). Past that,
//! values go into buckets whose bounds are the f64 values with the same sign, exponent
//! and top 7 mantissa bits: 128 buckets per power of two, found with one shift of the
//! value's bits (no logarithm), so a bucket's midpoint is within 1/256 (0.4 %) of any
//! value in it. A group's buckets are a dense run from its lowest to its highest; past
//! [`MAX_BUCKETS`] the lowest are merged, which coarsens only the bottom of a range
//! wider than 2^32 (and a value below the run costs one add, however far below).
//! Counts add, so merging partial states is exact.
//!
//! Written here because DataFusion's t-digest has no grouped accumulator (it sorts
//! every batch once per group and per quantile), and no crate offers a sketch that
//! plugs into DataFusion's `GroupsAccumulator`.

use datafusion::common::{DataFusionError, Result};

/// Values kept exactly per group before it switches to buckets.
pub const EXACT: usize = 64;

/// Most buckets per sign in one group; past it the lowest are merged.
pub const MAX_BUCKETS: usize = 4096;

/// Bits of an f64 below a bucket's index (52 mantissa bits minus the 7 kept).
const SHIFT: u32 = 45;

/// One group's values.
#[derive(Debug, Default, Clone)]
pub struct Sketch {
    /// The values while there are at most [`EXACT`] and no buckets.
    exact: Vec<f64>,
    bucketed: bool,
    zeros: u64,
    pos: Store,
    neg: Store,
}

/// Counts of a dense run of bucket indexes (of |value|).
#[derive(Debug, Default, Clone)]
struct Store {
    base: u32,
    counts: Vec<u64>,
}

fn bucket_of(magnitude: f64) -> u32 {
    // A positive finite f64's bits order like its value; the top 19 of them are the
    // exponent and the first 7 mantissa bits.
    (magnitude.to_bits() >> SHIFT) as u32
}

fn bucket_value(index: u32) -> f64 {
    let lo = f64::from_bits(u64::from(index) << SHIFT);
    let hi = f64::from_bits(u64::from(index + 1) << SHIFT);
    if hi.is_finite() {
        lo + (hi - lo) / 2.0
    } else {
        lo
    }
}

impl Store {
    /// The count of bucket `index`, if the run holds it.
    #[inline]
    fn slot(&mut self, index: u32) -> Option<&mut u64> {
        index
            .checked_sub(self.base)
            .and_then(|at| self.counts.get_mut(at as usize))
    }

    #[inline]
    fn add(&mut self, index: u32, n: u64) {
        // Most values land in the run the group already has.
        if let Some(c) = self.slot(index) {
            *c += n;
            return;
        }
        self.grow_to(index, n);
    }

    /// Adds `n` to bucket `index`, outside the run: the run grows to it, at most
    /// [`MAX_BUCKETS`] long, and what falls below its lowest bucket is counted there.
    /// The cost is bounded by the growth, never by how far below the run a value is
    /// (a group holding `inf` or 1e300 among latencies put every later value a few
    /// hundred thousand buckets below its run, each one shifting them all).
    fn grow_to(&mut self, index: u32, n: u64) {
        if self.counts.is_empty() {
            self.base = index;
            self.counts.push(n);
            return;
        }
        let max = MAX_BUCKETS as u32;
        let top = self.base + self.counts.len() as u32 - 1;
        if index > top {
            self.raise_base((index + 1).saturating_sub(max));
            self.counts.resize((index - self.base + 1) as usize, 0);
            self.counts[(index - self.base) as usize] += n;
        } else {
            // Below the run: it reaches down to `index` if it can, else `index` is
            // counted in its lowest bucket.
            let base = index.max((top + 1).saturating_sub(max));
            let grow = self.base.saturating_sub(base) as usize;
            if grow > 0 {
                self.counts.splice(0..0, std::iter::repeat_n(0, grow));
                self.base = base;
            }
            self.counts[0] += n;
        }
    }

    /// Moves the run's lowest bucket up to `base` (if it is below), counting the
    /// buckets under it there.
    fn raise_base(&mut self, base: u32) {
        if base <= self.base {
            return;
        }
        let cut = ((base - self.base) as usize).min(self.counts.len());
        let low: u64 = self.counts.drain(..cut).sum();
        self.base = base;
        if self.counts.is_empty() {
            self.counts.push(0);
        }
        self.counts[0] += low;
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn merge(&mut self, other: &Store) {
        for (i, &n) in other.counts.iter().enumerate() {
            if n > 0 {
                self.add(other.base + i as u32, n);
            }
        }
    }
}

impl Sketch {
    /// Adds a positive finite `v` whose bucket the sketch already has, and says so;
    /// `false` (nothing added) for any other value: [`Sketch::insert`] it then. The
    /// common case, with no change to the heap the sketch holds.
    #[inline]
    pub fn try_count(&mut self, v: f64) -> bool {
        if !(self.bucketed && v > 0.0 && v <= f64::MAX) {
            return false;
        }
        match self.pos.slot(bucket_of(v)) {
            Some(c) => {
                *c += 1;
                true
            }
            None => false,
        }
    }

    /// Adds a value; NaN is skipped.
    #[inline]
    pub fn insert(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        if !self.bucketed {
            self.exact.push(v);
            if self.exact.len() > EXACT {
                self.switch_to_buckets();
            }
            return;
        }
        self.bucket(v, 1);
    }

    fn bucket(&mut self, v: f64, n: u64) {
        if v == 0.0 {
            self.zeros += n;
        } else if v > 0.0 {
            self.pos.add(bucket_of(v.min(f64::MAX)), n);
        } else {
            self.neg.add(bucket_of((-v).min(f64::MAX)), n);
        }
    }

    fn switch_to_buckets(&mut self) {
        self.bucketed = true;
        for v in std::mem::take(&mut self.exact) {
            self.bucket(v, 1);
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        if !self.bucketed && !other.bucketed && self.exact.len() + other.exact.len() <= EXACT {
            self.exact.extend_from_slice(&other.exact);
            return;
        }
        if !self.bucketed {
            self.switch_to_buckets();
        }
        for &v in &other.exact {
            self.bucket(v, 1);
        }
        self.zeros += other.zeros;
        self.pos.merge(&other.pos);
        self.neg.merge(&other.neg);
    }

    pub fn count(&self) -> u64 {
        if self.bucketed {
            self.zeros + self.pos.total() + self.neg.total()
        } else {
            self.exact.len() as u64
        }
    }

    /// Heap bytes held (for the query's memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.exact.capacity() * 8 + (self.pos.counts.capacity() + self.neg.counts.capacity()) * 8
    }

    /// The `p` quantile (0..=1), interpolated between the two nearest ranks; `None`
    /// without values.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = p.clamp(0.0, 1.0) * (n - 1) as f64;
        let (lo, hi) = (rank.floor() as u64, rank.ceil() as u64);
        let frac = rank - rank.floor();
        let (a, b) = if self.bucketed {
            (self.value_at(lo), self.value_at(hi))
        } else {
            let mut sorted = self.exact.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            (sorted[lo as usize], sorted[hi as usize])
        };
        Some(a + (b - a) * frac)
    }

    /// The value of 0-based rank `k` of the bucketed values, ascending.
    fn value_at(&self, k: u64) -> f64 {
        let mut seen = 0u64;
        for (i, &c) in self.neg.counts.iter().enumerate().rev() {
            seen += c;
            if k < seen {
                return -bucket_value(self.neg.base + i as u32);
            }
        }
        seen += self.zeros;
        if k < seen {
            return 0.0;
        }
        for (i, &c) in self.pos.counts.iter().enumerate() {
            seen += c;
            if k < seen {
                return bucket_value(self.pos.base + i as u32);
            }
        }
        self.pos
            .counts
            .len()
            .checked_sub(1)
            .map_or(0.0, |last| bucket_value(self.pos.base + last as u32))
    }

    /// The sketch as bytes (an aggregation's partial state).
    pub fn encode(&self, out: &mut Vec<u8>) {
        if !self.bucketed {
            out.push(0);
            out.extend_from_slice(&(self.exact.len() as u32).to_le_bytes());
            for v in &self.exact {
                out.extend_from_slice(&v.to_le_bytes());
            }
            return;
        }
        out.push(1);
        out.extend_from_slice(&self.zeros.to_le_bytes());
        for s in [&self.pos, &self.neg] {
            out.extend_from_slice(&s.base.to_le_bytes());
            out.extend_from_slice(&(s.counts.len() as u32).to_le_bytes());
            for c in &s.counts {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }

    /// Reads what [`Sketch::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Sketch> {
        let mut r = Reader(bytes);
        let mut s = Sketch::default();
        match r.u8()? {
            0 => {
                let n = r.u32()? as usize;
                if n > EXACT {
                    return Err(bad_state());
                }
                for _ in 0..n {
                    s.exact.push(f64::from_bits(r.u64()?));
                }
            }
            1 => {
                s.bucketed = true;
                s.zeros = r.u64()?;
                for store in [&mut s.pos, &mut s.neg] {
                    store.base = r.u32()?;
                    let n = r.u32()? as usize;
                    if n > MAX_BUCKETS || (store.base as u64 + n as u64) > u64::from(u32::MAX) {
                        return Err(bad_state());
                    }
                    store.counts = (0..n).map(|_| r.u64()).collect::<Result<_>>()?;
                }
            }
            _ => return Err(bad_state()),
        }
        if !r.0.is_empty() {
            return Err(bad_state());
        }
        Ok(s)
    }
}

fn bad_state() -> DataFusionError {
    DataFusionError::Internal("approx_percentile_cont: a partial state is malformed".into())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or_else(bad_state)?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `percentile_cont`: interpolated between the two nearest ranks.
    fn exact_quantile(values: &[f64], p: f64) -> f64 {
        let (a, b, frac) = nearest_ranks(values, p);
        a + (b - a) * frac
    }

    fn nearest_ranks(values: &[f64], p: f64) -> (f64, f64, f64) {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = p * (v.len() - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        (v[lo], v[hi], rank - rank.floor())
    }

    #[test]
    fn small_groups_are_exact() {
        let mut s = Sketch::default();
        for v in [5.0, 1.0, 3.0, f64::NAN, 2.0, 4.0] {
            s.insert(v);
        }
        assert_eq!(s.count(), 5);
        assert_eq!(s.quantile(0.5), Some(3.0));
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(1.0), Some(5.0));
        assert_eq!(s.quantile(0.9), Some(4.6));
        assert_eq!(Sketch::default().quantile(0.5), None);
    }

    #[test]
    fn buckets_are_within_a_quarter_percent_on_skewed_latencies() {
        // Log-normal-ish latencies from 10 µs to minutes, with zeros and a negative.
        let mut values = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            values.push((10_000.0 * (u * 16.0).exp()).round());
        }
        values.extend([0.0, 0.0, -5.0]);
        let mut s = Sketch::default();
        for &v in &values {
            s.insert(v);
        }
        for p in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999] {
            let want = exact_quantile(&values, p);
            let got = s.quantile(p).unwrap();
            assert!(
                ((got - want) / want).abs() <= 1.0 / 256.0 + 1e-9,
                "p{p}: {got} vs {want}"
            );
        }
        assert_eq!(s.quantile(0.0), Some(-bucket_value(bucket_of(5.0))));
    }

    #[test]
    fn try_count_leaves_infinities_to_insert() {
        let mut s = Sketch::default();
        (1..=100).for_each(|v| s.insert(f64::from(v)));
        assert!(s.try_count(50.0));
        assert!(!s.try_count(f64::INFINITY));
        assert!(!s.try_count(-1.0));
        assert_eq!(s.count(), 101);
    }

    #[test]
    fn a_huge_value_keeps_the_run_bounded() {
        // An infinity (counted as f64::MAX) and then values far below it: the run
        // ends at f64::MAX's bucket, MAX_BUCKETS long, and everything lower is
        // counted in its lowest bucket. Before, each such value spliced and drained
        // the whole distance to the run (~130k buckets from 1.0), and the vector
        // kept that capacity.
        let mut s = Sketch::default();
        (0..=EXACT).for_each(|_| s.insert(f64::INFINITY));
        for i in 0..5_000 {
            s.insert(1e-300 * f64::from(i + 1));
            s.insert(f64::from(i));
        }
        assert_eq!(s.count(), 10_000 + EXACT as u64 + 1);
        assert_eq!(s.pos.counts.len(), MAX_BUCKETS);
        assert!(s.heap_bytes() <= 2 * MAX_BUCKETS * 8, "{}", s.heap_bytes());
        let top = bucket_of(f64::MAX);
        assert_eq!(s.pos.base, top + 1 - MAX_BUCKETS as u32);
        // 0.0 (i = 0) is a zero; the other 9,999 finite values are in the lowest bucket.
        assert_eq!(s.zeros, 1);
        assert_eq!(s.pos.counts[0], 9_999);
        assert_eq!(s.quantile(1.0), Some(bucket_value(top)));
    }

    /// Values over any range, with zeros and infinities.
    fn wide() -> impl Strategy<Value = f64> {
        prop_oneof![
            20 => (-300i32..300, 1.0f64..10.0, any::<bool>())
                .prop_map(|(e, m, neg)| if neg { -m * 10f64.powi(e) } else { m * 10f64.powi(e) }),
            1 => Just(0.0),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
        ]
    }

    proptest! {
        /// The bucket runs are bounded, and a bucketed sketch does not depend on the
        /// order its values came in (what falls below a run ends in its lowest
        /// bucket either way).
        #[test]
        fn any_order_builds_the_same_bounded_sketch(
            values in proptest::collection::vec(wide(), (EXACT + 1)..300),
        ) {
            let build = |vs: &[f64]| {
                let mut s = Sketch::default();
                vs.iter().for_each(|&v| s.insert(v));
                let mut bytes = Vec::new();
                s.encode(&mut bytes);
                (s, bytes)
            };
            let (s, given) = build(&values);
            prop_assert!(s.pos.counts.len() <= MAX_BUCKETS && s.neg.counts.len() <= MAX_BUCKETS);
            prop_assert_eq!(s.count(), values.len() as u64);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!(&build(&sorted).1, &given);
            sorted.reverse();
            prop_assert_eq!(&build(&sorted).1, &given);
        }

        /// Merging states in any split gives the same answers as one sketch, and a
        /// state survives encoding.
        #[test]
        fn merge_and_encoding_are_lossless(
            values in proptest::collection::vec(-1e9f64..1e12, 0..400),
            split in 0usize..400,
            p in 0.0f64..=1.0,
        ) {
            let split = split.min(values.len());
            let (mut a, mut b, mut whole) = (Sketch::default(), Sketch::default(), Sketch::default());
            values[..split].iter().for_each(|&v| a.insert(v));
            values[split..].iter().for_each(|&v| b.insert(v));
            values.iter().for_each(|&v| whole.insert(v));
            let mut bytes = Vec::new();
            b.encode(&mut bytes);
            a.merge(&Sketch::decode(&bytes).unwrap());
            prop_assert_eq!(a.count(), whole.count());
            if values.len() > EXACT || split == 0 || split == values.len() {
                // Bucketed on both paths (or the same exact values): equal answers.
                let (x, y) = (a.quantile(p), whole.quantile(p));
                prop_assert!(x == y || (x.unwrap() - y.unwrap()).abs() <= y.unwrap().abs() * 1e-12);
            }
            if !values.is_empty() {
                let (lo, hi, _) = nearest_ranks(&values, p);
                let want = exact_quantile(&values, p);
                let got = a.quantile(p).unwrap();
                // Interpolating between two bucket midpoints stays within their error.
                let bound = lo.abs().max(hi.abs()) / 256.0 * (1.0 + 1e-9) + 1e-9;
                prop_assert!((got - want).abs() <= bound, "{got} vs {want}");
            }
        }

        /// Counting through `try_count` where it can, as the grouped accumulator does,
        /// builds the same sketch as `insert` alone.
        #[test]
        fn try_count_adds_as_insert_does(
            values in proptest::collection::vec(prop_oneof![
                40 => -1e9f64..1e12,
                1 => Just(0.0),
                1 => Just(f64::NAN),
            ], 0..300),
        ) {
            let (mut fast, mut plain) = (Sketch::default(), Sketch::default());
            for &v in &values {
                if !fast.try_count(v) {
                    fast.insert(v);
                }
                plain.insert(v);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            fast.encode(&mut a);
            plain.encode(&mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn malformed_states_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Sketch::decode(&bytes);
        }
    }
}
