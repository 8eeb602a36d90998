//! The process's resident set, sampled for `server.memory_limit`.
//!
//! A thread reads `/proc/self/status` every [`SAMPLE_EVERY`] (reading it per request
//! would cost a few microseconds each); admission compares the last sample with the
//! ingest share of the limit. Where `/proc` is missing the watch reads 0 and never
//! refuses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the resident set is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// The last sampled resident set against the configured bound.
pub struct MemoryWatch {
    /// `server.memory_limit`, bytes.
    limit: u64,
    /// The resident set at which ingest is refused.
    refuse_at: u64,
    rss: AtomicU64,
}

impl MemoryWatch {
    /// Starts sampling; ingest is refused within `headroom` bytes of `limit`. The
    /// thread ends when the last `Arc` is dropped.
    pub fn start(limit: u64, headroom: u64) -> Arc<Self> {
        let watch = Arc::new(Self {
            limit,
            refuse_at: limit.saturating_sub(headroom),
            rss: AtomicU64::new(resident_bytes().unwrap_or(0)),
        });
        let weak: Weak<Self> = Arc::downgrade(&watch);
        let spawned = std::thread::Builder::new()
            .name("osprey-memwatch".into())
            .spawn(move || {
                while let Some(w) = weak.upgrade() {
                    w.rss
                        .store(resident_bytes().unwrap_or(0), Ordering::Relaxed);
                    drop(w);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "server.memory_limit: cannot sample the resident set");
        }
        watch
    }

    /// The resident set when it is within the headroom of the limit.
    pub fn over(&self) -> Option<u64> {
        let rss = self.rss.load(Ordering::Relaxed);
        (rss >= self.refuse_at).then_some(rss)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The resident set size of this process (`VmRSS`), when the system says.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let rss = resident_bytes().expect("Linux has /proc/self/status");
        assert!(rss > 1 << 20, "{rss}");
        // A bound below what the process holds refuses; a generous one does not.
        assert!(MemoryWatch::start(1 << 20, 0).over().is_some());
        assert!(MemoryWatch::start(rss * 4, rss * 2).over().is_none());
        assert!(MemoryWatch::start(rss * 4, rss * 4).over().is_some());
    }
}
