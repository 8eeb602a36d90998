//! The ids of the batches other ingesters forwarded to this one (`cluster.md`, "Write
//! path"), so that a request answered 5xx and retried unchanged is stored once.
//!
//! A forwarded batch is stored in an identified WAL record (`wal.md`, code 6), so its
//! id is durable exactly when its rows are, and replay remembers the ids of the
//! records it reads. In memory an id is kept for [`WINDOW`], at most [`MAX_IDS`] of
//! them (the oldest forgotten first): memory stays bounded, and retries come within
//! seconds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stored batch's id is remembered.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// At most this many ids are remembered (about 48 bytes each).
pub const MAX_IDS: usize = 500_000;

#[derive(Default)]
struct Ids {
    /// When each batch was stored, and whether its rows are here (not when another
    /// ingester holds them in this one's place: a retry is still acknowledged, but a
    /// peer asking must not think this one has them).
    stored: HashMap<u128, (Instant, bool)>,
    order: VecDeque<(Instant, u128)>,
    pending: HashSet<u128>,
}

impl Ids {
    fn remember(&mut self, id: u128, at: Instant, here: bool) {
        if self.stored.insert(id, (at, here)).is_none() {
            self.order.push_back((at, id));
        }
        self.forget_old(at);
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.order.front() {
            let expired = now.saturating_duration_since(at) > WINDOW;
            if !expired && self.order.len() <= MAX_IDS {
                break;
            }
            self.order.pop_front();
            if self.stored.get(&id).is_some_and(|(t, _)| *t == at) {
                self.stored.remove(&id);
            }
        }
    }
}

/// The other ingesters of a cluster, asked by one that restarts: a batch it stored
/// just before it went down, without its answer reaching the sender, may have been
/// sent to another ingester in its place and stored there (`cluster.md`, "Write path").
/// Blocking: called while the storage opens.
pub trait BatchPeers: Send + Sync {
    /// Which of `ids` (batches in this node's WAL) another ingester holds.
    fn held_elsewhere(&self, ids: &[u128]) -> Vec<u128>;
}

/// The forwarded batches this node stored recently, and those being stored now.
#[derive(Clone, Default)]
pub struct BatchIds {
    ids: Arc<Mutex<Ids>>,
}

/// What [`BatchIds::begin`] found.
pub enum Begin {
    /// Not stored yet: store it, then [`Storing::stored`].
    New(Storing),
    /// Stored already (a retry): acknowledge it without storing it again.
    Stored,
    /// The same batch is being stored by another request right now: answer "retry".
    InProgress,
}

/// A batch being stored under its id; dropped without [`Storing::stored`] (the store
/// failed), the id is free again.
pub struct Storing {
    ids: BatchIds,
    id: u128,
    done: bool,
}

impl Storing {
    /// The batch's rows are acknowledged (in the WAL, in an identified record).
    pub fn stored(mut self) {
        self.done = true;
        if let Ok(mut ids) = self.ids.ids.lock() {
            ids.pending.remove(&self.id);
            ids.remember(self.id, Instant::now(), true);
        }
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        if !self.done
            && let Ok(mut ids) = self.ids.ids.lock()
        {
            ids.pending.remove(&self.id);
        }
    }
}

impl BatchIds {
    /// Starts storing batch `id`, unless it is stored or being stored.
    pub fn begin(&self, id: u128) -> Begin {
        let Ok(mut ids) = self.ids.lock() else {
            return Begin::InProgress;
        };
        ids.forget_old(Instant::now());
        if ids.stored.contains_key(&id) {
            return Begin::Stored;
        }
        if !ids.pending.insert(id) {
            return Begin::InProgress;
        }
        Begin::New(Storing {
            ids: self.clone(),
            id,
            done: false,
        })
    }

    /// Remembers the ids of records replayed from the WAL; `here`: whether their rows
    /// are (false for those another ingester holds in this one's place).
    pub(crate) fn replayed(&self, found: impl IntoIterator<Item = u128>, here: bool) {
        if let Ok(mut ids) = self.ids.lock() {
            let now = Instant::now();
            for id in found {
                ids.remember(id, now, here);
            }
        }
    }

    /// Whether the rows of batch `id` are here (stored recently, or replayed).
    pub fn holds(&self, id: u128) -> bool {
        self.ids
            .lock()
            .is_ok_and(|ids| ids.stored.get(&id).is_some_and(|(_, here)| *here))
    }

    /// How many remembered batches another ingester holds in this one's place (left
    /// out of the replay): after a flush, the WAL no longer holds them, so a later replay
    /// need not ask again (the other may have forgotten by then).
    pub fn held_elsewhere(&self) -> usize {
        self.ids.lock().map_or(0, |ids| {
            ids.stored.values().filter(|(_, here)| !here).count()
        })
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.ids.lock().map(|i| i.stored.len()).unwrap_or(0)
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_stored_once_and_a_failed_store_frees_its_id() {
        let ids = BatchIds::default();
        let Begin::New(first) = ids.begin(7) else {
            panic!("a new id")
        };
        assert!(matches!(ids.begin(7), Begin::InProgress));
        drop(first);
        let Begin::New(again) = ids.begin(7) else {
            panic!("a failed store frees its id")
        };
        again.stored();
        assert!(matches!(ids.begin(7), Begin::Stored));
        assert_eq!(ids.len(), 1);
        ids.replayed([8], true);
        ids.replayed([9], false);
        assert!(matches!(ids.begin(9), Begin::Stored));
        assert!(ids.holds(8) && ids.holds(7));
        assert!(
            !ids.holds(9),
            "held elsewhere: a retry is acknowledged, a peer is told no"
        );
        assert_eq!(ids.held_elsewhere(), 1);
    }

    #[test]
    fn old_ids_are_forgotten() {
        let mut ids = Ids::default();
        let start = Instant::now();
        ids.remember(1, start, true);
        ids.remember(2, start + WINDOW, true);
        assert!(ids.stored.contains_key(&1), "kept for the whole window");
        ids.forget_old(start + WINDOW + Duration::from_secs(1));
        assert!(!ids.stored.contains_key(&1));
        assert!(ids.stored.contains_key(&2));
        assert_eq!(ids.order.len(), 1);
    }
}
