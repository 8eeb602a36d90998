//! Reading the samples of chosen series for PromQL, without a query engine. A samples
//! file holds one row per series run (`files/runs.rs`); its [`RunIndex`] (series id →
//! row and time bounds, from three small columns) is read once and kept in a
//! [`RunIndexCache`], so a query names the exact rows it wants and reads only their
//! pages of `times` and `values`. Memtable batches are filtered in place.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{TimestampNanosecondType, UInt32Type, UInt64Type};

use crate::error::StorageError;
use crate::files::FooterCache;
use crate::files::{self, blobs::Blobs, runs};
use crate::{FileMeta, Snapshot};

use super::SeriesSamples;

/// One run of a samples file.
#[derive(Debug, Clone, Copy)]
struct Run {
    id: u64,
    row: u32,
    min_t: i64,
    max_t: i64,
}

/// A samples file's runs, by series id.
#[derive(Debug, Default)]
pub struct RunIndex {
    runs: Vec<Run>,
}

impl RunIndex {
    fn load(blobs: &Blobs, footers: Option<&FooterCache>, rel: &str) -> Result<Self, StorageError> {
        let bad = || StorageError::Index {
            path: rel.to_string(),
            reason: "samples file without series_id, min_time or max_time".into(),
        };
        let columns = ["series_id", "min_time", "max_time"];
        let mut runs = Vec::new();
        for b in files::read_rows(blobs, footers, rel, Some(&columns), None)? {
            let ids = b
                .column(0)
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(bad)?;
            let min = b
                .column(1)
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(bad)?;
            let max = b
                .column(2)
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(bad)?;
            for i in 0..b.num_rows() {
                runs.push(Run {
                    id: ids.value(i),
                    row: runs.len() as u32,
                    min_t: min.value(i),
                    max_t: max.value(i),
                });
            }
        }
        runs.sort_unstable_by_key(|r| (r.id, r.row));
        Ok(Self { runs })
    }

    /// The runs of `ids` (sorted) that overlap `start..=end`, in row order, each with
    /// its series' place in `ids`.
    fn rows(&self, ids: &[u64], start: i64, end: i64) -> Vec<(usize, Run)> {
        let mut out: Vec<(usize, Run)> = Vec::new();
        let mut from = 0;
        for (at, &id) in ids.iter().enumerate() {
            from += self.runs[from..].partition_point(|r| r.id < id);
            out.extend(
                self.runs[from..]
                    .iter()
                    .take_while(|r| r.id == id)
                    .filter(|r| r.max_t >= start && r.min_t <= end)
                    .map(|r| (at, *r)),
            );
        }
        out.sort_unstable_by_key(|r| r.1.row);
        out
    }
}

/// Run indexes of recently read samples files, bounded by their total runs (a run
/// costs 32 bytes). Files are never rewritten under their name, so an entry cannot go
/// stale; compaction and retention forget the files they remove.
pub struct RunIndexCache {
    files: Mutex<(HashMap<String, Arc<RunIndex>>, usize)>,
    max_runs: usize,
}

impl Default for RunIndexCache {
    fn default() -> Self {
        // 64 MiB: 100k series in 20 files.
        Self::new(2 << 20)
    }
}

impl RunIndexCache {
    pub fn new(max_runs: usize) -> Self {
        Self {
            files: Mutex::new((HashMap::new(), 0)),
            max_runs,
        }
    }

    fn get(
        &self,
        blobs: &Blobs,
        footers: Option<&FooterCache>,
        rel: &str,
    ) -> Result<Arc<RunIndex>, StorageError> {
        if let Some(hit) = self.files.lock().ok().and_then(|g| g.0.get(rel).cloned()) {
            return Ok(hit);
        }
        let index = Arc::new(RunIndex::load(blobs, footers, rel)?);
        let runs = index.runs.len();
        // A file bigger than the whole cache is read, not kept.
        if runs <= self.max_runs
            && let Ok(mut g) = self.files.lock()
        {
            let (map, total) = &mut *g;
            if let Some(old) = map.remove(rel) {
                *total -= old.runs.len();
            }
            // Evicts other files (in no particular order) until this one fits.
            while *total + runs > self.max_runs {
                let Some(victim) = map.keys().next().cloned() else {
                    break;
                };
                if let Some(old) = map.remove(&victim) {
                    *total -= old.runs.len();
                }
            }
            map.insert(rel.to_string(), Arc::clone(&index));
            *total += runs;
        }
        Ok(index)
    }

    /// Drops a removed file's index.
    pub fn forget(&self, rel: &str) {
        if let Ok(mut g) = self.files.lock() {
            let (map, total) = &mut *g;
            if let Some(old) = map.remove(rel) {
                *total -= old.runs.len();
            }
        }
    }
}

/// Where a read finds files and their cached indexes.
#[derive(Clone, Copy)]
pub struct FileAccess<'a> {
    pub blobs: &'a Blobs,
    pub footers: Option<&'a FooterCache>,
    pub runs: &'a RunIndexCache,
}

impl FileAccess<'_> {
    /// `columns` of `runs`' rows of file `rel`.
    fn read_runs<'r>(
        &self,
        rel: &str,
        runs: impl Iterator<Item = &'r Run>,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let rows: Vec<u32> = runs.map(|r| r.row).collect();
        files::read_rows(self.blobs, self.footers, rel, Some(columns), Some(&rows))
    }
}

/// Where series `id` is in `ids` (sorted) if it is there and `ts` in the range.
fn place(ids: &[u64], id: u64, ts: i64, start_ns: i64, end_ns: i64) -> Option<usize> {
    if ts < start_ns || ts > end_ns {
        return None;
    }
    ids.binary_search(&id).ok()
}

/// Rows of the snapshot's memtable batches, as (id, time, value), that `want` keeps,
/// of the batches whose time bounds overlap `start_ns..=end_ns`.
fn memtable_rows(snap: &Snapshot, start_ns: i64, end_ns: i64, mut want: impl FnMut(u64, i64, f64)) {
    for (i, b) in snap.batches.iter().enumerate() {
        let (lo, hi) = snap.bounds.get(i).copied().unwrap_or((i64::MIN, i64::MAX));
        if hi < start_ns || lo > end_ns {
            continue;
        }
        let Ok((ids, ts, vals)) = crate::schema::stored_sample_columns(b) else {
            continue;
        };
        for i in 0..ids.len() {
            want(ids[i], ts[i], vals[i]);
        }
    }
}

/// Runs `read` over `items` (independent: files, series) on one thread per core, at
/// least `per_thread` items a thread, merging what each thread found with `merge`.
pub(crate) fn per_part<I: Sync, T: Default + Send>(
    items: &[I],
    per_thread: usize,
    read: impl Fn(&I, &mut T) -> Result<(), StorageError> + Sync,
    mut merge: impl FnMut(T),
) -> Result<(), StorageError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / per_thread.max(1));
    let read_part = |part: &[I]| -> Result<T, StorageError> {
        let mut out = T::default();
        for item in part {
            read(item, &mut out)?;
        }
        Ok(out)
    };
    if threads <= 1 {
        merge(read_part(items)?);
        return Ok(());
    }
    let chunk = items.len().div_ceil(threads);
    let parts: Vec<Result<T, StorageError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| read_part(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StorageError::Index {
                        path: String::new(),
                        reason: "a samples reader thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    for part in parts {
        merge(part?);
    }
    Ok(())
}

fn overlapping(snap: &Snapshot, start_ns: i64, end_ns: i64) -> Vec<&FileMeta> {
    snap.files
        .iter()
        .filter(|f| f.max_time_ns >= start_ns && f.min_time_ns <= end_ns)
        .collect()
}

/// The samples of `ids` (sorted, distinct) with `start_ns <= t <= end_ns`: one entry
/// per id, in the order of `ids`; each series' samples in the order read (memtable,
/// then files in the snapshot's order), not sorted.
pub fn read(
    access: FileAccess<'_>,
    snap: &Snapshot,
    ids: &[u64],
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<SeriesSamples>, StorageError> {
    let mut out = vec![SeriesSamples::default(); ids.len()];
    memtable_rows(snap, start_ns, end_ns, |id, t, v| {
        if let Some(at) = place(ids, id, t, start_ns, end_ns) {
            out[at].push(t, v);
        }
    });
    // A thread's finds: (place in `ids`, samples), in the order read.
    type Found = Vec<(usize, SeriesSamples)>;
    let read_file = |f: &FileMeta, found: &mut Found| -> Result<(), StorageError> {
        let index = access.runs.get(access.blobs, access.footers, &f.path)?;
        let wanted = index.rows(ids, start_ns, end_ns);
        if wanted.is_empty() {
            return Ok(());
        }
        let columns = ["samples", "times", "values"];
        let mut at = wanted.iter();
        for b in access.read_runs(&f.path, wanted.iter().map(|w| &w.1), &columns)? {
            decode_batch(&b, &mut at, start_ns, end_ns, found)?;
        }
        Ok(())
    };
    per_part(
        &overlapping(snap, start_ns, end_ns),
        1,
        |f, found| read_file(f, found),
        |part: Found| {
            for (at, mut samples) in part {
                out[at].append(&mut samples);
            }
        },
    )?;
    Ok(out)
}

/// Decodes a batch of runs read for `runs` (in row order) into `found`.
fn decode_batch<'r>(
    b: &RecordBatch,
    runs: &mut impl Iterator<Item = &'r (usize, Run)>,
    start_ns: i64,
    end_ns: i64,
    found: &mut Vec<(usize, SeriesSamples)>,
) -> Result<(), StorageError> {
    let bad = || StorageError::Layout("samples runs without samples, times or values".into());
    let counts = b
        .column(0)
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(bad)?;
    let times = b.column(1).as_binary_opt::<i32>().ok_or_else(bad)?;
    let values = b.column(2).as_binary_opt::<i32>().ok_or_else(bad)?;
    for i in 0..b.num_rows() {
        let (at, _) = runs.next().ok_or_else(bad)?;
        // Adjacent runs of one series (in row order) share an entry.
        if found.last().is_none_or(|(last, _)| last != at) {
            found.push((*at, SeriesSamples::default()));
        }
        let Some((_, samples)) = found.last_mut() else {
            return Err(bad());
        };
        runs::decode_into(
            times.value(i),
            values.value(i),
            counts.value(i) as usize,
            start_ns,
            end_ns,
            samples,
        )?;
    }
    Ok(())
}

/// Which of `ids` (sorted, distinct) have a sample in `start_ns..=end_ns` in the
/// snapshot's memtable batches and files. A run whose first or last sample is in the
/// range answers from the index alone; only a run that spans the whole range around
/// it is read (its times), to look for a sample inside.
pub fn ids_with_samples(
    access: FileAccess<'_>,
    snap: &Snapshot,
    ids: &[u64],
    start_ns: i64,
    end_ns: i64,
) -> Result<HashSet<u64>, StorageError> {
    let mut found = HashSet::new();
    memtable_rows(snap, start_ns, end_ns, |id, t, _| {
        if !found.contains(&id) && place(ids, id, t, start_ns, end_ns).is_some() {
            found.insert(id);
        }
    });
    let inside = |t: i64| t >= start_ns && t <= end_ns;
    let read_file = |f: &FileMeta, found: &mut HashSet<u64>| -> Result<(), StorageError> {
        let index = access.runs.get(access.blobs, access.footers, &f.path)?;
        let mut spanning = Vec::new();
        for (_, run) in index.rows(ids, start_ns, end_ns) {
            if inside(run.min_t) || inside(run.max_t) {
                found.insert(run.id);
            } else {
                spanning.push(run);
            }
        }
        spanning.retain(|r| !found.contains(&r.id));
        if spanning.is_empty() {
            return Ok(());
        }
        let mut at = spanning.iter();
        for b in access.read_runs(&f.path, spanning.iter(), &["samples", "times"])? {
            times_in_range(&b, &mut at, start_ns, end_ns, found)?;
        }
        Ok(())
    };
    per_part(
        &overlapping(snap, start_ns, end_ns),
        1,
        |f, out| read_file(f, out),
        |part: HashSet<u64>| found.extend(part),
    )?;
    Ok(found)
}

/// Adds to `found` the series of `runs` (a batch of their `samples` and `times`, in
/// row order) with a sample in `start_ns..=end_ns`.
fn times_in_range<'r>(
    b: &RecordBatch,
    runs: &mut impl Iterator<Item = &'r Run>,
    start_ns: i64,
    end_ns: i64,
    found: &mut HashSet<u64>,
) -> Result<(), StorageError> {
    let bad = || StorageError::Layout("samples runs without samples or times".into());
    let counts = b
        .column(0)
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(bad)?;
    let times = b.column(1).as_binary_opt::<i32>().ok_or_else(bad)?;
    for i in 0..b.num_rows() {
        let run = runs.next().ok_or_else(bad)?;
        if runs::has_time_in(times.value(i), counts.value(i) as usize, start_ns, end_ns)? {
            found.insert(run.id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Signal;
    use crate::schema::{SampleRow, samples_batch, to_stored};

    /// A samples file of `series` series (metric `m`, label `i`), `per` samples each.
    fn write(blobs: &Blobs, rel: &str, series: usize, per: i64) {
        let rows: Vec<SampleRow> = (0..series)
            .flat_map(|i| {
                (0..per).map(move |t| SampleRow {
                    metric: "m".into(),
                    labels: vec![("i".into(), i.to_string())],
                    timestamp_ns: t * 1_000,
                    value: t as f64,
                })
            })
            .collect();
        let b = to_stored(Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap();
        let opts = files::WriteOptions {
            row_group_rows: 1024,
            zstd_level: 1,
            tag_index_zstd_level: 1,
            text_positions: false,
        };
        let by_id = |ids: &mut Vec<u64>| ids.sort_unstable();
        files::write_file(blobs, rel, "t", Signal::Metrics, &[b], opts, &by_id).unwrap();
    }

    #[test]
    fn run_index_cache_stays_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        write(&blobs, "a.parquet", 30, 5);
        write(&blobs, "b.parquet", 20, 5);
        let cache = RunIndexCache::new(40);
        let a = cache.get(&blobs, None, "a.parquet").unwrap();
        assert_eq!(a.runs.len(), 30);
        // b does not fit beside a: a goes.
        cache.get(&blobs, None, "b.parquet").unwrap();
        let held = |c: &RunIndexCache| c.files.lock().unwrap().1;
        assert_eq!(held(&cache), 20);
        // A file bigger than the whole cache is read, and not kept.
        let tiny = RunIndexCache::new(10);
        assert_eq!(tiny.get(&blobs, None, "a.parquet").unwrap().runs.len(), 30);
        assert_eq!(held(&tiny), 0);
        cache.forget("b.parquet");
        assert_eq!(held(&cache), 0);
        // A run's rows: the wanted ids whose bounds overlap the range, in row order.
        let ids: Vec<u64> = a.runs.iter().map(|r| r.id).take(3).collect();
        let rows = a.rows(&ids, 1_000, 2_000);
        assert_eq!(rows.len(), 3);
        assert!(rows.windows(2).all(|w| w[0].1.row < w[1].1.row));
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(a.rows(&ids, 10_000, 20_000).is_empty());
    }
}
