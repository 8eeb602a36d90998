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
    /// Batches stored here in another ingester's place (it refused, or was down), with
    /// that owner's ordinal: asked for by the owner when it restarts.
    held_for: VecDeque<(Instant, u128, usize)>,
}

impl Ids {
    fn remember(&mut self, id: u128, at: Instant, here: bool) {
        if self.stored.insert(id, (at, here)).is_none() {
            self.order.push_back((at, id));
        }
        self.forget_old(at);
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some(&(at, _, _)) = self.held_for.front() {
            if now.saturating_duration_since(at) <= WINDOW && self.held_for.len() <= MAX_IDS {
                break;
            }
            self.held_for.pop_front();
        }
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

    /// The batches another ingester stored in this one's place recently (this one
    /// refused them, or was down): a retry of one must not be stored here again.
    fn held_for_me(&self) -> Vec<u128>;
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

    /// Records that batch `id`, whose owner is ingester `owner`, was stored here in its
    /// place.
    pub fn held_for(&self, id: u128, owner: usize) {
        if let Ok(mut ids) = self.ids.lock() {
            let now = Instant::now();
            ids.held_for.push_back((now, id, owner));
            ids.forget_old(now);
        }
    }

    /// The batches stored here recently in ingester `owner`'s place.
    pub fn held_for_owner(&self, owner: usize) -> Vec<u128> {
        let Ok(mut ids) = self.ids.lock() else {
            return Vec::new();
        };
        ids.forget_old(Instant::now());
        ids.held_for
            .iter()
            .filter(|(_, _, o)| *o == owner)
            .map(|(_, id, _)| *id)
            .collect()
    }

    /// Remembers `found` as batches another ingester stored in this one's place, so a
    /// retry of one is acknowledged without storing it here. Returns those this node
    /// stored (or is storing) itself too: counted twice, which the caller reports.
    pub fn mark_elsewhere(&self, found: impl IntoIterator<Item = u128>) -> usize {
        let Ok(mut ids) = self.ids.lock() else {
            return 0;
        };
        let now = Instant::now();
        let mut both = 0;
        for id in found {
            match ids.stored.get(&id) {
                Some((_, true)) => both += 1,
                Some((_, false)) => {}
                None if ids.pending.contains(&id) => both += 1,
                None => ids.remember(id, now, false),
            }
        }
        both
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
    fn batches_stored_in_an_owners_place_are_listed_for_it_and_not_stored_by_it() {
        let ids = BatchIds::default();
        ids.held_for(1, 0);
        ids.held_for(2, 1);
        ids.held_for(3, 0);
        assert_eq!(ids.held_for_owner(0), vec![1, 3]);
        assert_eq!(ids.held_for_owner(2), Vec::<u128>::new());
        // The owner's side: told (or asking at start), a retry is not stored again.
        let owner = BatchIds::default();
        let Begin::New(here) = owner.begin(5) else {
            panic!("new")
        };
        here.stored();
        assert_eq!(
            owner.mark_elsewhere([1, 3, 5]),
            1,
            "5 is here too: reported"
        );
        assert!(matches!(owner.begin(1), Begin::Stored));
        assert!(!owner.holds(1) && owner.holds(5));
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
