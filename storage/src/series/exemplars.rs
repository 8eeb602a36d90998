//! Exemplars: a bounded in-memory ring per server, like Prometheus' circular exemplar
//! storage (`--storage.tsdb.max-exemplars`). The oldest are overwritten when it is full.
//! Each exemplar keeps its series' name and labels, so a query matches them directly.
//!
//! They survive a restart: each acknowledged batch is a WAL record
//! (`Storage::append_exemplars`), and every flush first saves the ring to
//! `exemplars.json.zst` (format in `storage/docs/format/exemplars.md`), because it
//! deletes the segments it covers. On open the saved ring is loaded, then the WAL's
//! exemplars are replayed (a repeat of one already held is skipped).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::StorageError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    pub tenant: String,
    /// The series it belongs to: metric name and labels (sorted).
    pub metric: String,
    pub series_labels: Vec<(String, String)>,
    /// The exemplar's own labels (`trace_id`, `span_id`, ...).
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: i64,
}

/// Whether a series (metric name, labels) is wanted.
pub type SeriesFilter<'a> = &'a dyn Fn(&str, &[(String, String)]) -> bool;

/// Longest exemplar label set (names and values, in characters).
pub const MAX_LABEL_CHARS: usize = 128;

pub struct ExemplarStore {
    capacity: usize,
    ring: Mutex<VecDeque<Exemplar>>,
    /// Exemplars ever stored, and that count when the ring was last saved: a flush
    /// with nothing new since does not write the same file again.
    stored: std::sync::atomic::AtomicU64,
    saved: std::sync::atomic::AtomicU64,
}

impl ExemplarStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(1 << 16))),
            stored: Default::default(),
            saved: Default::default(),
        }
    }

    /// Saves the ring to `dir` (see [`save`]) unless nothing was stored since the last
    /// save.
    pub fn save_if_changed(&self, dir: &Path) -> Result<(), StorageError> {
        use std::sync::atomic::Ordering;
        let stored = self.stored.load(Ordering::SeqCst);
        if stored == self.saved.load(Ordering::SeqCst) {
            return Ok(());
        }
        save(dir, self.all())?;
        self.saved.store(stored, Ordering::SeqCst);
        Ok(())
    }

    /// Adds exemplars; an exact repeat of a recent exemplar is skipped (a retried
    /// request), and so is one whose labels are longer than OpenMetrics allows
    /// ([`MAX_LABEL_CHARS`] characters of names and values, as Prometheus enforces).
    /// Returns how many were stored.
    pub fn add(&self, exemplars: impl IntoIterator<Item = Exemplar>) -> usize {
        if self.capacity == 0 {
            return 0;
        }
        let Ok(mut ring) = self.ring.lock() else {
            return 0;
        };
        let mut n = 0;
        for mut e in exemplars {
            let chars: usize = e
                .labels
                .iter()
                .map(|(k, v)| k.chars().count() + v.chars().count())
                .sum();
            if chars > MAX_LABEL_CHARS {
                continue;
            }
            e.series_labels.sort();
            let repeat = ring.iter().rev().take(64).any(|x| *x == e);
            if repeat {
                continue;
            }
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(e);
            n += 1;
        }
        self.stored
            .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        n
    }

    /// Exemplars of `tenant` with `start_ms <= t <= end_ms` whose series `matches`,
    /// oldest first.
    pub fn query(
        &self,
        tenant: &str,
        start_ms: i64,
        end_ms: i64,
        matches: SeriesFilter<'_>,
    ) -> Vec<Exemplar> {
        let Ok(ring) = self.ring.lock() else {
            return Vec::new();
        };
        ring.iter()
            .filter(|e| {
                e.tenant == tenant
                    && e.timestamp_ms >= start_ms
                    && e.timestamp_ms <= end_ms
                    && matches(&e.metric, &e.series_labels)
            })
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ring.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Every exemplar held, oldest first.
    pub fn all(&self) -> Vec<Exemplar> {
        self.ring
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The saved ring's file in the data directory.
pub const FILE: &str = "exemplars.json.zst";

/// Largest decompressed ring file accepted (a corrupt length must not OOM us).
const MAX_FILE: usize = 1 << 30;

#[derive(Serialize, Deserialize)]
struct SavedRing {
    version: u32,
    exemplars: Vec<Exemplar>,
}

/// Saves `exemplars` durably as `dir/exemplars.json.zst` (temp file, fsync, rename,
/// fsync of the directory).
pub fn save(dir: &Path, exemplars: Vec<Exemplar>) -> Result<(), StorageError> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let json = serde_json::to_vec(&SavedRing {
        version: 1,
        exemplars,
    })
    .map_err(|e| StorageError::io(&path, std::io::Error::other(e)))?;
    let bytes = zstd::bulk::compress(&json, 3).map_err(|e| StorageError::io(&path, e))?;
    crate::manifest::write_durably(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e))?;
    crate::wal::sync_dir(dir)
}

/// Loads the saved ring (empty when there is none). A file that cannot be read is an
/// error: exemplars are not worth refusing to start for, so the caller logs it.
pub fn load(dir: &Path) -> Result<Vec<Exemplar>, StorageError> {
    let path = dir.join(FILE);
    let compressed = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(&path, e)),
    };
    let corrupt = |reason: String| StorageError::CorruptManifest {
        path: path.clone(),
        reason,
    };
    let json = zstd::bulk::decompress(&compressed, MAX_FILE).map_err(|e| corrupt(e.to_string()))?;
    let ring: SavedRing = serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))?;
    if ring.version != 1 {
        return Err(corrupt(format!("unknown version {}", ring.version)));
    }
    Ok(ring.exemplars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(metric: &str, t: i64, trace: &str) -> Exemplar {
        Exemplar {
            tenant: "t".into(),
            metric: metric.into(),
            series_labels: vec![("le".into(), "0.5".into())],
            labels: vec![("trace_id".into(), trace.into())],
            value: 0.3,
            timestamp_ms: t,
        }
    }

    #[test]
    fn bounded_deduplicated_and_queried_by_time_and_series() {
        let s = ExemplarStore::new(3);
        assert_eq!(
            s.add([ex("a", 1, "x"), ex("a", 1, "x"), ex("b", 2, "y")]),
            2
        );
        assert_eq!(s.add([ex("a", 3, "z"), ex("a", 4, "w")]), 2);
        assert_eq!(s.len(), 3); // the oldest went
        let all = |_: &str, _: &[(String, String)]| true;
        let got = s.query("t", 0, 10, &all);
        assert_eq!(
            got.iter().map(|e| e.timestamp_ms).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        let only_a = |m: &str, _: &[(String, String)]| m == "a";
        assert_eq!(s.query("t", 0, 3, &only_a).len(), 1);
        assert!(s.query("other", 0, 10, &all).is_empty());
    }
}
