//! Opened index sidecars (full-text, tag) by Parquet path, up to a byte budget: a
//! search opens the same files' indexes again and again, and parsing them is most of a
//! small search's time.
//!
//! The policy is `quick_cache`'s (CLOCK-Pro: an index enters cold and turns hot when it
//! is asked again), not plain LRU: a query reads a range's files in order, and when the
//! range holds a little more than the budget, LRU evicts each index just before it is
//! next needed and nothing is ever served from memory; here the hot ones stay and the
//! overflow churns through the cold part.

use std::sync::Arc;

use quick_cache::sync::Cache;

use crate::StorageError;

/// An opened index's size in memory, for the budget.
pub trait Cached {
    fn bytes(&self) -> usize;
}

#[derive(Clone)]
struct ByBytes;

impl<T: Cached> quick_cache::Weighter<String, Arc<T>> for ByBytes {
    fn weight(&self, _: &String, index: &Arc<T>) -> u64 {
        index.bytes().max(1) as u64
    }
}

pub struct IndexCache<T> {
    cache: Cache<String, Arc<T>, ByBytes>,
}

/// The size of an index the cache expects, to size its tables.
const TYPICAL_INDEX: usize = 1 << 20;

impl<T: Cached> IndexCache<T> {
    pub fn new(budget: usize) -> Self {
        let options = quick_cache::OptionsBuilder::new()
            // One shard: the budget is a few dozen large indexes, not spread thin.
            .shards(1)
            .estimated_items_capacity((budget / TYPICAL_INDEX).clamp(16, 65_536))
            .weight_capacity(budget as u64)
            .build();
        let options = match options {
            Ok(o) => o,
            // Only a bad allocation fraction fails, and none is set.
            Err(_) => unreachable!("index cache options without fractions"),
        };
        Self {
            cache: Cache::with_options(options, ByBytes, Default::default(), Default::default()),
        }
    }

    /// The index of `parquet`, opened by `open` once (one opener at a time per file)
    /// and then served from memory while the budget keeps it.
    pub fn get(
        &self,
        parquet: &str,
        open: impl FnOnce() -> Result<T, StorageError>,
    ) -> Result<Arc<T>, StorageError> {
        self.cache
            .get_or_insert_with(parquet, || open().map(Arc::new))
    }

    /// Indexes held.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// Whether `parquet`'s index is held.
    pub fn contains(&self, parquet: &str) -> bool {
        self.cache.peek(parquet).is_some()
    }

    pub fn forget(&self, parquet: &str) {
        self.cache.remove(parquet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Sized(usize);

    impl Cached for Sized {
        fn bytes(&self) -> usize {
            self.0
        }
    }

    fn sized(n: usize) -> Result<Sized, StorageError> {
        Ok(Sized(n))
    }

    #[test]
    fn a_range_a_little_larger_than_the_budget_is_still_mostly_served_from_memory() {
        // 24 indexes of 10 bytes read in order, again and again, under a budget of 200:
        // LRU would open every one every time.
        let cache = IndexCache::new(200);
        let opened = AtomicUsize::new(0);
        for _ in 0..20 {
            for i in 0..24 {
                cache
                    .get(&i.to_string(), || {
                        opened.fetch_add(1, Ordering::Relaxed);
                        sized(10)
                    })
                    .unwrap();
                assert!(cache.bytes() <= 200);
            }
        }
        let opened = opened.load(Ordering::Relaxed);
        assert!(opened < 20 * 24 / 2, "opened {opened} of {} reads", 20 * 24);
    }
}
