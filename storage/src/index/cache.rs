//! Opened index sidecars (full-text, tag) by Parquet path, up to a byte budget,
//! evicting the least recently used: a search opens the same files' indexes again and
//! again, and parsing them is most of a small search's time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::StorageError;

/// An opened index's size in memory, for the budget.
pub trait Cached {
    fn bytes(&self) -> usize;
}

pub struct IndexCache<T> {
    budget: usize,
    state: Mutex<CacheState<T>>,
}

struct CacheState<T> {
    tick: u64,
    bytes: usize,
    entries: HashMap<String, (u64, Arc<T>)>,
}

impl<T: Cached> IndexCache<T> {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::new(CacheState {
                tick: 0,
                bytes: 0,
                entries: HashMap::new(),
            }),
        }
    }

    /// The index of `parquet`, opened by `open` once and then served from memory.
    pub fn get(
        &self,
        parquet: &str,
        open: impl FnOnce() -> Result<T, StorageError>,
    ) -> Result<Arc<T>, StorageError> {
        if let Ok(mut s) = self.state.lock() {
            s.tick += 1;
            let tick = s.tick;
            if let Some(e) = s.entries.get_mut(parquet) {
                e.0 = tick;
                return Ok(Arc::clone(&e.1));
            }
        }
        let index = Arc::new(open()?);
        if let Ok(mut s) = self.state.lock() {
            let tick = s.tick;
            s.bytes += index.bytes();
            if let Some((_, old)) = s
                .entries
                .insert(parquet.to_string(), (tick, Arc::clone(&index)))
            {
                s.bytes -= old.bytes();
            }
            while s.bytes > self.budget && s.entries.len() > 1 {
                let Some(oldest) = s
                    .entries
                    .iter()
                    .filter(|(p, _)| p.as_str() != parquet)
                    .min_by_key(|(_, (t, _))| *t)
                    .map(|(p, _)| p.clone())
                else {
                    break;
                };
                if let Some((_, old)) = s.entries.remove(&oldest) {
                    s.bytes -= old.bytes();
                }
            }
        }
        Ok(index)
    }

    /// Indexes held.
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `parquet`'s index is held.
    pub fn contains(&self, parquet: &str) -> bool {
        self.state
            .lock()
            .is_ok_and(|s| s.entries.contains_key(parquet))
    }

    pub fn forget(&self, parquet: &str) {
        if let Ok(mut s) = self.state.lock()
            && let Some((_, old)) = s.entries.remove(parquet)
        {
            s.bytes -= old.bytes();
        }
    }
}
