//! The body terms of an opened full-text index as one flat byte string, for substring
//! lookups (`|= "…"`, SQL `LIKE '%…%'`): which terms contain a fragment.
//!
//! tantivy's term dictionary is an FST: it answers a whole term or a prefix by walking
//! a few states, but "terms containing `x`" (the regex `.*x.*`) walks every state of
//! it, decoding each term byte through the automaton. Here the same terms, in the
//! dictionary's order, are laid end to end with a separator byte that no UTF-8 text
//! holds (`0xFF`), so the lookup is one SIMD substring scan (`memchr::memmem`) over
//! plain bytes, and a hit names its term by its offset. The list is derived from the
//! index, never written: it is built the first time a file is asked for a fragment
//! (one pass over the dictionary) and kept with the opened index while the storage's
//! [`TermBudget`] has room (a quarter of `storage.text_index_cache`, on top of it: the
//! lists must not push the indexes themselves out of their cache). Without room, the
//! list answers the query that built it and is dropped. The terms found are asked as
//! an [`AnyTermQuery`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use memchr::memmem;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TantivyError, Term};

/// Between two terms: a byte UTF-8 never holds, so no match of a `&str` spans terms.
const SEPARATOR: u8 = 0xFF;

/// One segment's terms of one field, in dictionary order.
#[derive(Debug, Default)]
pub struct TermList {
    /// The terms, each followed by [`SEPARATOR`].
    bytes: Vec<u8>,
    /// Where each term starts in `bytes`, ascending.
    starts: Vec<u32>,
}

impl TermList {
    /// Reads `field`'s term dictionary of `segment`.
    pub fn build(segment: &SegmentReader, field: Field) -> tantivy::Result<Self> {
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted.terms().stream()?;
        let mut list = TermList::default();
        while stream.advance() {
            list.push(stream.key())?;
        }
        list.bytes.shrink_to_fit();
        list.starts.shrink_to_fit();
        Ok(list)
    }

    fn push(&mut self, term: &[u8]) -> tantivy::Result<()> {
        let start = u32::try_from(self.bytes.len())
            .map_err(|_| tantivy::TantivyError::InvalidArgument("term list past 4 GiB".into()))?;
        self.starts.push(start);
        self.bytes.extend_from_slice(term);
        self.bytes.push(SEPARATOR);
        Ok(())
    }

    /// Memory held.
    pub fn bytes(&self) -> usize {
        self.bytes.capacity() + self.starts.capacity() * 4
    }

    /// The terms holding `fragment` (each once, in dictionary order). An empty fragment
    /// is in every term.
    pub fn containing<'a>(&'a self, fragment: &str) -> impl Iterator<Item = &'a str> + 'a {
        let finder = memmem::Finder::new(fragment.as_bytes()).into_owned();
        let mut from = 0usize;
        std::iter::from_fn(move || {
            let at = from + finder.find(self.bytes.get(from..)?)?;
            if at >= self.bytes.len() {
                return None; // an empty fragment, past the last term
            }
            // The term holding the hit: the last one starting at or before it.
            let i = self.starts.partition_point(|&s| s as usize <= at) - 1;
            let start = self.starts[i] as usize;
            let end = self.term_end(i);
            // Each term once: the next search starts past this term.
            from = end + 1;
            std::str::from_utf8(&self.bytes[start..end]).ok()
        })
    }

    /// Where term `i` ends (its separator).
    fn term_end(&self, i: usize) -> usize {
        self.starts
            .get(i + 1)
            .map_or(self.bytes.len(), |&s| s as usize)
            - 1
    }

    /// The number of terms.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// The rows holding any of a few known terms of one field: what a fragment's terms are
/// asked as. Each term is looked up in the dictionary (a walk of its own bytes) and its
/// postings set bits. tantivy's `TermSetQuery` would do the same through an automaton
/// of the terms, but builds that automaton's registry (a large zeroed table) for every
/// file of every query, which cost more than the lookups themselves.
#[derive(Clone, Debug)]
pub struct AnyTermQuery {
    field: Field,
    terms: Arc<[Term]>,
}

impl AnyTermQuery {
    /// `terms` must all be of `field`.
    pub fn new(field: Field, terms: Vec<Term>) -> Self {
        AnyTermQuery {
            field,
            terms: terms.into(),
        }
    }
}

impl Query for AnyTermQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for AnyTermQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let inverted = reader.inverted_index(self.field)?;
        for term in self.terms.iter() {
            let Some(info) = inverted.get_term_info(term)? else {
                continue; // a term of another segment
            };
            let mut postings =
                inverted.read_block_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            while !postings.docs().is_empty() {
                for &doc in postings.docs() {
                    docs.insert(doc);
                }
                postings.advance();
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.scorer(reader, 1.0)?.seek(doc) == doc {
            Ok(Explanation::new("AnyTermQuery", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} holds none of the terms"
            )))
        }
    }
}

/// Bytes the term lists kept across all opened indexes may hold.
#[derive(Clone, Debug)]
pub struct TermBudget {
    limit: usize,
    held: Arc<AtomicUsize>,
}

impl TermBudget {
    pub fn new(limit: usize) -> Self {
        TermBudget {
            limit,
            held: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Takes `bytes` if they fit.
    pub fn take(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|n| *n <= self.limit)
            })
            .is_ok()
    }

    /// Gives back what [`TermBudget::take`] took.
    pub fn give(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(terms: &[&str]) -> TermList {
        let mut l = TermList::default();
        for t in terms {
            l.push(t.as_bytes()).unwrap();
        }
        l
    }

    #[test]
    fn finds_each_term_holding_the_fragment_once() {
        let l = list(&["10013", "aa", "aaa", "baab", "x10013y", "zz"]);
        let got: Vec<&str> = l.containing("aa").collect();
        assert_eq!(got, ["aa", "aaa", "baab"]);
        let got: Vec<&str> = l.containing("10013").collect();
        assert_eq!(got, ["10013", "x10013y"]);
        assert_eq!(l.containing("zzz").count(), 0);
        // A fragment spanning two adjacent terms is no match.
        assert_eq!(l.containing("ab10").count(), 0);
        assert_eq!(l.containing("").count(), 6);
        assert_eq!(l.len(), 6);
    }

    #[test]
    fn multibyte_terms_match_by_their_bytes() {
        let l = list(&["größe", "straße", "ß"]);
        let got: Vec<&str> = l.containing("ß").collect();
        assert_eq!(got, ["größe", "straße", "ß"]);
        assert!(list(&[]).containing("a").next().is_none());
    }

    #[test]
    fn the_budget_takes_only_what_fits() {
        let b = TermBudget::new(100);
        assert!(b.take(60));
        assert!(!b.take(41));
        assert!(b.clone().take(40));
        assert_eq!(b.held(), 100);
        b.give(60);
        assert_eq!(b.held(), 40);
    }
}
