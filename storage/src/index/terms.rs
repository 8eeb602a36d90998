//! Infix lookup over a full-text index's term dictionary (`TextQuery::Contains`).
//!
//! A substring of a token has no entry of its own in the dictionary (an FST), so
//! tantivy answers `.*needle.*` by walking every term through a regex automaton: most
//! of a substring search's time on large files. [`TermList`] lays a dictionary's terms
//! end to end in one buffer, NUL-separated (tokens never hold NUL), built once per
//! opened index, so the terms containing a needle are found with a SIMD substring
//! search (`memchr::memmem`) over the buffer, then looked up by exact term.

use memchr::memmem;

/// One segment's terms of one field, in dictionary order.
#[derive(Debug, Default)]
pub struct TermList {
    /// The terms, each followed by a NUL.
    blob: Vec<u8>,
    /// Where each term starts in `blob`.
    starts: Vec<u32>,
}

impl TermList {
    /// Lays out `terms` (a dictionary's, in order); `None` past 4 GiB of terms.
    pub fn new<'a>(terms: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let mut list = TermList::default();
        for t in terms {
            list.starts.push(u32::try_from(list.blob.len()).ok()?);
            list.blob.extend_from_slice(t);
            list.blob.push(0);
        }
        list.blob.shrink_to_fit();
        list.starts.shrink_to_fit();
        Some(list)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.blob.capacity() + self.starts.capacity() * 4
    }

    /// The terms containing `needle`, in dictionary order, or `None` when there are
    /// more than `max` of them (the caller then asks the dictionary itself). A needle
    /// with a NUL is in no term.
    pub fn containing(&self, needle: &[u8], max: usize) -> Option<Vec<&[u8]>> {
        if needle.contains(&0) {
            return Some(Vec::new());
        }
        let mut out: Vec<&[u8]> = Vec::new();
        let mut last = usize::MAX;
        for at in memmem::find_iter(&self.blob, needle) {
            // The term holding the match (a match never spans a NUL).
            let i = self.starts.partition_point(|&s| s as usize <= at) - 1;
            if i == last {
                continue;
            }
            last = i;
            if out.len() == max {
                return None;
            }
            out.push(self.term(i));
        }
        Some(out)
    }

    fn term(&self, i: usize) -> &[u8] {
        let start = self.starts[i] as usize;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.blob.len(), |&s| s as usize)
            - 1;
        &self.blob[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_each_term_holding_the_needle_once() {
        let terms: Vec<&[u8]> = vec![b"10013", b"210013x", b"abc", b"x1001", b"z100130013"];
        let list = TermList::new(terms.iter().copied()).unwrap();
        let found = list.containing(b"10013", 10).unwrap();
        assert_eq!(found, vec![&b"10013"[..], b"210013x", b"z100130013"]);
        assert_eq!(list.containing(b"q", 10).unwrap(), Vec::<&[u8]>::new());
        // Past the cap, the caller falls back.
        assert_eq!(list.containing(b"1", 2), None);
        assert_eq!(list.containing(b"c\0x", 10).unwrap(), Vec::<&[u8]>::new());
    }

    proptest! {
        /// The same terms as a scan with `contains`.
        #[test]
        fn matches_a_scan(
            mut terms in proptest::collection::vec("[a-c0-2]{1,6}", 0..60),
            needle in "[a-c0-2]{1,3}",
        ) {
            terms.sort();
            terms.dedup();
            let list = TermList::new(terms.iter().map(|t| t.as_bytes())).unwrap();
            let want: Vec<&[u8]> = terms
                .iter()
                .filter(|t| t.contains(needle.as_str()))
                .map(|t| t.as_bytes())
                .collect();
            prop_assert_eq!(list.containing(needle.as_bytes(), usize::MAX).unwrap(), want);
        }
    }
}
