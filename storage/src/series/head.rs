//! The head: every tenant's recent samples per series in memory, in compressed chunks
//! (`chunk.rs`; the one being filled is coded as samples come, `open_chunk.rs`), as a
//! TSDB head serves them: a query over the last hours reads the chunks of its series
//! and touches no file.
//!
//! The invariant a read relies on: per tenant, every acknowledged sample with
//! `t >= cutoff` is in the head. Older samples are read as before, from the memtable
//! batches and the files (`samples.rs`), so the head is a second copy of recent data,
//! never the only one, and dropping from it loses nothing:
//! - a sample is added when it is acknowledged (`wal/writer.rs`) or replayed from the
//!   WAL (`open.rs`), if `t >= cutoff`;
//! - on open, a tenant's cutoff is past its newest metrics file (those samples are in
//!   files only) and no earlier than `now - WINDOW`;
//! - the cutoff only moves forward: every [`TRIM_EVERY`] it moves to `now - WINDOW`,
//!   and further while the head holds more than its byte budget
//!   (`storage.memtable_limit`), dropping the samples before it.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;

use super::IdMap;
use super::SeriesSamples;
use super::chunk::{CHUNK_SAMPLES, Chunk};
use super::open_chunk::OpenChunk;
use super::samples::per_part;
use crate::StorageError;

/// How far back the head keeps samples (Prometheus' head block spans two hours).
pub const WINDOW_NS: i64 = 2 * 3600 * 1_000_000_000;

/// How often (in data time, ns) the cutoff is moved forward and old chunks dropped.
const TRIM_EVERY: i64 = WINDOW_NS / 8;

/// Fewest series a read decodes per thread (a read of fewer than twice as many
/// stays on the caller's thread).
const SERIES_PER_THREAD: usize = 256;

/// Bytes counted per series besides its chunks (map entry, vectors).
const SERIES_OVERHEAD: usize = 96;

#[derive(Default)]
struct SeriesHead {
    /// Closed chunks, in time order (each chunk's samples are at or after the previous').
    chunks: Vec<Chunk>,
    /// The chunk being filled, coded as it fills.
    open: OpenChunk,
    /// Samples older than the newest one when they came (rare): kept as they came.
    late: Vec<(i64, f64)>,
}

impl SeriesHead {
    fn newest(&self) -> Option<i64> {
        self.open
            .newest()
            .or_else(|| self.chunks.last().map(|c| c.max_t))
    }

    /// Adds one sample; returns the bytes the head grew by.
    fn push(&mut self, t: i64, v: f64) -> isize {
        if self.newest().is_some_and(|n| t < n) {
            self.late.push((t, v));
            return 16;
        }
        let before = self.open.bytes() as isize;
        let closed = self.open.push(t, v);
        let mut grown = self.open.bytes() as isize - before;
        if let Some(chunk) = closed {
            grown += chunk.bytes() as isize;
            self.chunks.push(chunk);
        }
        grown
    }

    fn bytes(&self) -> usize {
        SERIES_OVERHEAD
            + self.chunks.iter().map(Chunk::bytes).sum::<usize>()
            + self.open.bytes()
            + 16 * self.late.len()
    }

    /// Drops the samples before `cutoff` (whole chunks; a chunk that straddles it,
    /// closed or open, stays, its older samples filtered out on read).
    fn trim(&mut self, cutoff: i64) {
        let keep_from = self.chunks.partition_point(|c| c.max_t < cutoff);
        self.chunks.drain(..keep_from);
        if self.open.newest().is_some_and(|n| n < cutoff) {
            self.open = OpenChunk::default();
        }
        self.late.retain(|s| s.0 >= cutoff);
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.open.is_empty() && self.late.is_empty()
    }

    /// The samples in `start..=end`, in time order; of samples with equal times the
    /// one that came last is last (the reader keeps the last).
    fn read(&self, start: i64, end: i64, out: &mut SeriesSamples) {
        let from = out.len();
        let first = self.chunks.partition_point(|c| c.max_t < start);
        for c in &self.chunks[first..] {
            if c.min_t > end {
                break;
            }
            c.decode_into(start, end, out);
        }
        self.open.decode_into(start, end, out);
        if !self.late.is_empty() {
            out.extend(
                self.late
                    .iter()
                    .filter(|s| s.0 >= start && s.0 <= end)
                    .copied(),
            );
            out.sort_from(from);
        }
    }
}

struct TenantHead {
    /// Every acknowledged sample of the tenant with `t >= cutoff` is here.
    cutoff: i64,
    series: IdMap<u64, SeriesHead>,
    /// While older samples are loaded from files (`begin_warm`): samples acknowledged
    /// from this time on are kept even when before the cutoff.
    warming: Option<i64>,
}

/// Samples loaded from files for [`Head::finish_warm`], already in chunks.
#[derive(Default)]
pub struct Staged {
    series: IdMap<u64, Vec<Chunk>>,
    samples: usize,
}

impl Staged {
    /// Adds one series' samples (any order).
    pub fn add(&mut self, id: u64, mut samples: SeriesSamples) {
        samples.sort();
        let samples: Vec<(i64, f64)> = samples.iter().collect();
        self.samples += samples.len();
        let chunks = self.series.entry(id).or_default();
        chunks.extend(samples.chunks(CHUNK_SAMPLES).map(Chunk::encode));
    }

    /// Samples staged.
    pub fn len(&self) -> usize {
        self.samples
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }
}

#[derive(Default)]
struct State {
    tenants: HashMap<String, TenantHead>,
    bytes: usize,
    /// The wall-clock time (ns) of the last trim.
    trimmed_at: i64,
}

impl State {
    /// Moves every tenant's cutoff up to `cutoff` (never back), dropping the samples
    /// before it; returns (and keeps) the bytes held after.
    fn raise_cutoff(&mut self, cutoff: i64) -> usize {
        let mut bytes = 0;
        for th in self.tenants.values_mut() {
            if th.cutoff < cutoff {
                th.cutoff = cutoff;
                th.series.values_mut().for_each(|s| s.trim(cutoff));
                th.series.retain(|_, s| !s.is_empty());
            }
            bytes += th.series.values().map(SeriesHead::bytes).sum::<usize>();
        }
        self.bytes = bytes;
        bytes
    }
}

impl TenantHead {
    /// Reads the samples of `ids` in `from..=end` into `out` (one entry per id, in the
    /// order of `ids`): many series are decoded on one thread per core, a part of
    /// `ids` each.
    fn read(
        &self,
        ids: &[u64],
        from: i64,
        end: i64,
        out: &mut [SeriesSamples],
    ) -> Result<(), StorageError> {
        let read_one = |id: &u64, got: &mut Vec<SeriesSamples>| {
            let mut samples = SeriesSamples::default();
            if let Some(s) = self.series.get(id) {
                s.read(from, end, &mut samples);
            }
            got.push(samples);
            Ok(())
        };
        let mut slots = out.iter_mut();
        per_part(ids, SERIES_PER_THREAD, read_one, |part| {
            // Not `zip`: it would take a slot past the part's end and lose it.
            for samples in part {
                if let Some(slot) = slots.next() {
                    *slot = samples;
                }
            }
        })
    }

    fn new(initial: Option<i64>, now: i64) -> TenantHead {
        TenantHead {
            cutoff: initial.unwrap_or(i64::MIN).max(now - WINDOW_NS),
            series: IdMap::default(),
            warming: None,
        }
    }
}

/// Recent samples of every series; see the module docs for what it guarantees.
pub struct Head {
    state: RwLock<State>,
    max_bytes: usize,
    /// Tenants' first cutoffs (past their newest metrics file), from `open`.
    initial: HashMap<String, i64>,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl Head {
    /// An empty head holding at most `max_bytes`; `newest_file` gives, per tenant, the
    /// newest sample time in its metrics files (samples there and before are read from
    /// files).
    pub fn new(max_bytes: usize, newest_file: HashMap<String, i64>) -> Head {
        let initial = newest_file
            .into_iter()
            .map(|(t, max)| (t, max.saturating_add(1)))
            .collect();
        Head {
            state: RwLock::new(State {
                trimmed_at: now_ns(),
                ..State::default()
            }),
            max_bytes,
            initial,
        }
    }

    /// Adds the samples of a stored metrics batch (`series_id`, `timestamp`, `value`).
    pub fn insert(&self, tenant: &str, batch: &RecordBatch) {
        let Ok((ids, ts, val)) = crate::schema::stored_sample_columns(batch) else {
            return;
        };
        let now = now_ns();
        let Ok(mut st) = self.state.write() else {
            return;
        };
        let initial = self.initial.get(tenant).copied();
        let th = st
            .tenants
            .entry(tenant.to_string())
            .or_insert_with(|| TenantHead::new(initial, now));
        let mut grown = 0isize;
        let (cutoff, warming) = (th.cutoff, th.warming);
        let n = ids.len();
        // Rows come grouped by series: one map lookup per run of a series.
        let kept = |t: i64| t >= cutoff || warming.is_some_and(|w| t >= w);
        let mut i = 0;
        while i < n {
            let (id, from) = (ids[i], i);
            while i < n && ids[i] == id {
                i += 1;
            }
            // No entry for a series none of whose samples the head keeps.
            if !ts[from..i].iter().any(|&t| kept(t)) {
                continue;
            }
            let s = th.series.entry(id).or_insert_with(|| {
                grown += SERIES_OVERHEAD as isize;
                SeriesHead::default()
            });
            for r in from..i {
                if kept(ts[r]) {
                    grown += s.push(ts[r], val[r]);
                }
            }
        }
        st.bytes = st.bytes.saturating_add_signed(grown);
        if now - st.trimmed_at >= TRIM_EVERY || st.bytes > self.max_bytes {
            self.trim(&mut st, now);
        }
    }

    /// Moves every tenant's cutoff to `now - WINDOW_NS`, then further (by eighths of
    /// the window) while the head is over its budget.
    fn trim(&self, st: &mut State, now: i64) {
        st.trimmed_at = now;
        let mut cutoff = now - WINDOW_NS;
        loop {
            let bytes = st.raise_cutoff(cutoff);
            if bytes <= self.max_bytes || cutoff >= now {
                return;
            }
            cutoff += WINDOW_NS / 8;
        }
    }

    /// Starts loading `tenant`'s samples in `from..cutoff` from files (after a
    /// restart): until [`Head::finish_warm`], samples acknowledged in that range are kept
    /// too. Returns the cutoff to load up to, or `None` when there is nothing to load.
    pub fn begin_warm(&self, tenant: &str, from: i64) -> Option<i64> {
        let now = now_ns();
        let mut st = self.state.write().ok()?;
        let initial = self.initial.get(tenant).copied();
        let th = st
            .tenants
            .entry(tenant.to_string())
            .or_insert_with(|| TenantHead::new(initial, now));
        if from >= th.cutoff || th.warming.is_some() {
            return None;
        }
        th.warming = Some(from);
        Some(th.cutoff)
    }

    /// Puts the samples loaded for [`Head::begin_warm`] (all in `from..until`) before
    /// the tenant's chunks and lowers its cutoff to `from`. Does nothing if the cutoff
    /// moved meanwhile (the loaded samples would be older than it).
    pub fn finish_warm(&self, tenant: &str, from: i64, until: i64, staged: Staged) {
        let Ok(mut st) = self.state.write() else {
            return;
        };
        let Some(th) = st.tenants.get_mut(tenant) else {
            return;
        };
        if th.warming != Some(from) {
            return;
        }
        th.warming = None;
        if th.cutoff != until {
            return;
        }
        th.cutoff = from;
        for (id, chunks) in staged.series {
            let s = th.series.entry(id).or_default();
            let loaded_max = chunks.last().map_or(i64::MIN, |c| c.max_t);
            s.chunks.splice(0..0, chunks);
            // Samples that came during the load may be older than what it found:
            // keep `open` at or after every chunk, the rest is sorted on read.
            if s.open.oldest().is_some_and(|o| o < loaded_max) {
                let open = std::mem::take(&mut s.open);
                s.late.extend(open.samples());
            }
        }
        st.bytes = st
            .tenants
            .values()
            .flat_map(|t| t.series.values())
            .map(SeriesHead::bytes)
            .sum();
    }

    /// Drops samples before `cutoff` for every tenant (retention).
    pub fn forget_before(&self, cutoff: i64) {
        if let Ok(mut st) = self.state.write() {
            st.raise_cutoff(cutoff);
        }
    }

    /// Calls `f(tenant's head, from)` when `from..=end`, the part of `start..=end` at
    /// or after the tenant's cutoff, is not empty; returns the cutoff (older samples
    /// are the caller's), `i64::MAX` for an unknown tenant.
    fn in_range(
        &self,
        tenant: &str,
        start: i64,
        end: i64,
        f: impl FnOnce(&TenantHead, i64),
    ) -> i64 {
        let Ok(st) = self.state.read() else {
            return i64::MAX;
        };
        let Some(th) = st.tenants.get(tenant) else {
            // Nothing acknowledged since open: everything is in the memtable and files.
            return i64::MAX;
        };
        let from = start.max(th.cutoff);
        if from <= end {
            f(th, from);
        }
        th.cutoff
    }

    /// Reads the samples of `ids` in `start..=end` that are at or after the tenant's
    /// cutoff into `out` (one entry per id, in the order of `ids`); returns the cutoff
    /// (older samples are the caller's to read). Many series are decoded on one thread
    /// per core, a part of `ids` each.
    pub fn read(
        &self,
        tenant: &str,
        ids: &[u64],
        start: i64,
        end: i64,
        out: &mut [SeriesSamples],
    ) -> Result<i64, StorageError> {
        let mut read = Ok(());
        let cutoff = self.in_range(tenant, start, end, |th, from| {
            read = th.read(ids, from, end, out);
        });
        read.map(|()| cutoff)
    }

    /// Adds to `out` which of `ids` have a sample in `start..=end` at or after the
    /// tenant's cutoff; returns the cutoff (older samples are the caller's to check).
    pub fn ids_with_samples(
        &self,
        tenant: &str,
        ids: &[u64],
        start: i64,
        end: i64,
        out: &mut std::collections::HashSet<u64>,
    ) -> i64 {
        let mut buf = SeriesSamples::default();
        self.in_range(tenant, start, end, |th, from| {
            for id in ids {
                let Some(s) = th.series.get(id) else {
                    continue;
                };
                buf.clear();
                s.read(from, end, &mut buf);
                if !buf.is_empty() {
                    out.insert(*id);
                }
            }
        })
    }

    /// Bytes held for `tenant`, and whether its recent samples are still being loaded
    /// from files.
    pub fn tenant_status(&self, tenant: &str) -> (usize, bool) {
        let Ok(st) = self.state.read() else {
            return (0, false);
        };
        st.tenants.get(tenant).map_or((0, false), |th| {
            let bytes = th.series.values().map(SeriesHead::bytes).sum();
            (bytes, th.warming.is_some())
        })
    }

    /// Bytes held (chunks, open chunks, per-series overhead).
    pub fn bytes(&self) -> usize {
        self.state.read().map_or(0, |s| s.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Float64Array, TimestampNanosecondArray, UInt64Array};

    /// `Head::read` into a fresh entry per id: (cutoff, samples).
    fn read(
        head: &Head,
        tenant: &str,
        ids: &[u64],
        start: i64,
        end: i64,
    ) -> (i64, Vec<SeriesSamples>) {
        let mut out = vec![SeriesSamples::default(); ids.len()];
        let cutoff = head.read(tenant, ids, start, end, &mut out).expect("read");
        (cutoff, out)
    }

    fn batch(rows: &[(u64, i64, f64)]) -> RecordBatch {
        RecordBatch::try_new(
            crate::schema::stored_schema(crate::Signal::Metrics),
            vec![
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                        .with_timezone("UTC"),
                ),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn reads_back_recent_samples_in_order_and_reports_the_cutoff() {
        let now = now_ns();
        let head = Head::new(1 << 30, HashMap::new());
        // 300 samples of series 1 (several chunks), 5 of series 2, one late sample.
        let mut rows: Vec<(u64, i64, f64)> = (0..300)
            .map(|i| (1, now - 3_000_000_000_000 + i * 10_000_000_000, i as f64))
            .collect();
        rows.extend((0..5).map(|i| (2, now - 60_000_000_000 + i, -(i as f64))));
        head.insert("t", &batch(&rows));
        head.insert("t", &batch(&[(1, now - 2_995_000_000_000, 0.5)]));
        // Too old for the head: left to the memtable and files.
        head.insert("t", &batch(&[(1, now - WINDOW_NS - 1_000_000_000, 9.0)]));

        let (cutoff, out) = read(&head, "t", &[1, 2, 3], i64::MIN, i64::MAX);
        assert!(
            cutoff <= now - WINDOW_NS + 1_000_000_000 && cutoff > now - WINDOW_NS - 60_000_000_000
        );
        let s1 = &out[0];
        assert_eq!(s1.len(), 301);
        assert!(s1.ts.is_sorted());
        assert!(s1.vals.contains(&0.5));
        assert_eq!(out[1].len(), 5);
        assert!(out[2].is_empty());
        // A narrower range reads only its samples.
        let (a, b) = (
            now - 3_000_000_000_000 + 100 * 10_000_000_000,
            now - 3_000_000_000_000 + 109 * 10_000_000_000,
        );
        let (_, out) = read(&head, "t", &[1], a, b);
        assert_eq!(
            out[0].vals,
            (100..=109).map(|i| i as f64).collect::<Vec<_>>()
        );
        // Other tenants see nothing, and say everything is to be read elsewhere.
        let (cutoff, out) = read(&head, "u", &[1], i64::MIN, i64::MAX);
        assert_eq!(cutoff, i64::MAX);
        assert!(out[0].is_empty());
    }

    #[test]
    fn a_read_of_many_series_gets_each_series_whole() {
        let now = now_ns();
        let head = Head::new(1 << 30, HashMap::new());
        let n = 2 * SERIES_PER_THREAD as u64 + 1000;
        let rows: Vec<(u64, i64, f64)> = (0..n)
            .flat_map(|id| {
                (0..5).map(move |i| (id, now - 60_000_000_000 + i, (id * 10 + i as u64) as f64))
            })
            .collect();
        head.insert("t", &batch(&rows));
        let ids: Vec<u64> = (0..n + 10).collect();
        let (_, out) = read(&head, "t", &ids, i64::MIN, i64::MAX);
        assert_eq!(out.iter().filter(|s| !s.is_empty()).count(), n as usize);
        for id in 0..n {
            let want: Vec<f64> = (0..5).map(|i| (id * 10 + i) as f64).collect();
            assert_eq!(out[id as usize].vals, want, "series {id}");
        }
    }

    #[test]
    fn a_tenant_with_files_starts_past_its_newest_file() {
        let now = now_ns();
        let newest = now - 10_000_000_000;
        let head = Head::new(1 << 30, HashMap::from([("t".to_string(), newest)]));
        head.insert("t", &batch(&[(1, newest, 1.0), (1, newest + 1, 2.0)]));
        let (cutoff, out) = read(&head, "t", &[1], i64::MIN, i64::MAX);
        assert_eq!(cutoff, newest + 1);
        assert_eq!(out[0].iter().collect::<Vec<_>>(), [(newest + 1, 2.0)]);
    }

    #[test]
    fn over_budget_moves_the_cutoff_forward() {
        let now = now_ns();
        let head = Head::new(64 * 1024, HashMap::new());
        let rows: Vec<(u64, i64, f64)> = (0..2000u64)
            .flat_map(|id| {
                (0..4).map(move |i| {
                    (
                        id,
                        now - WINDOW_NS + 60_000_000_000 + i * 1_800_000_000_000,
                        i as f64,
                    )
                })
            })
            .collect();
        head.insert("t", &batch(&rows));
        assert!(head.bytes() <= 64 * 1024, "{}", head.bytes());
        let (cutoff, out) = read(&head, "t", &[1], i64::MIN, i64::MAX);
        assert!(cutoff > now - WINDOW_NS + 60_000_000_000);
        assert!(out[0].ts.iter().all(|t| *t >= cutoff));
        // Retention drops the rest.
        head.forget_before(now + 1);
        assert_eq!(head.bytes(), 0);
    }
}
