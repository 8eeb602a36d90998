//! A cluster ingester's lease on its node id (`storage/docs/format/cluster.md`, "Epochs
//! and fencing"): it acknowledges writes only while its last confirmation that the
//! manifest head still holds its epoch (a poll, or a commit of its own) is younger
//! than the lease, `2 × cluster.poll_interval`. A process paused past that (a stopped
//! pod whose twin took over) refuses what comes when it wakes, before its next poll
//! fences it. A process that has just claimed its epoch waits one lease before it
//! accepts writes, so an earlier process with its node id has run out of its own.
//!
//! The check runs in the WAL writer before a group is written, so a refused write is
//! never in the WAL. (A pause between the check and the acknowledgement is not
//! covered.) A single node and the roles that take no writes hold no lease.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::StorageError;

pub(crate) struct Lease {
    /// `None`: no lease (a single node, a querier, the compactor).
    length: Option<Duration>,
    confirmed: Mutex<Instant>,
    not_before: Instant,
}

impl Lease {
    /// No lease: every write may be acknowledged.
    pub(crate) fn none() -> Self {
        let now = Instant::now();
        Lease {
            length: None,
            confirmed: Mutex::new(now),
            not_before: now,
        }
    }

    /// A lease of `length` starting now, the epoch having just been claimed: writes
    /// wait one `length` first.
    pub(crate) fn claimed(length: Duration) -> Self {
        let now = Instant::now();
        Lease {
            length: Some(length),
            confirmed: Mutex::new(now),
            not_before: now + length,
        }
    }

    /// The head was just seen holding this process's epoch.
    pub(crate) fn confirm(&self) {
        if let Ok(mut c) = self.confirmed.lock() {
            *c = Instant::now();
        }
    }

    /// Whether a write may be acknowledged now; the error says why not (503).
    pub(crate) fn check(&self) -> Result<(), StorageError> {
        let Some(length) = self.length else {
            return Ok(());
        };
        let now = Instant::now();
        if now < self.not_before {
            return Err(StorageError::Closed(format!(
                "starting: waiting {:?} more for the lease of an earlier process with this node id to run out; retry",
                self.not_before - now
            )));
        }
        let confirmed = self.confirmed.lock().map_or(now, |c| *c);
        let age = now.saturating_duration_since(confirmed);
        if age > length {
            return Err(StorageError::Closed(format!(
                "the lease ran out: this node's epoch was last confirmed in the manifest {age:?} ago (lease {length:?}); another process may hold its node id; retry"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_wait_one_lease_after_a_claim_and_stop_when_it_runs_out() {
        assert!(Lease::none().check().is_ok());
        let lease = Lease::claimed(Duration::from_millis(30));
        let e = lease.check().unwrap_err().to_string();
        assert!(e.contains("starting"), "{e}");
        std::thread::sleep(Duration::from_millis(40));
        lease.confirm();
        assert!(lease.check().is_ok());
        std::thread::sleep(Duration::from_millis(40));
        let e = lease.check().unwrap_err().to_string();
        assert!(e.contains("lease ran out"), "{e}");
        lease.confirm();
        assert!(lease.check().is_ok());
    }
}
