//! Reading the samples of chosen series for PromQL, without a query engine: files are
//! sorted by (series_id, timestamp), so the page index of `series_id` names the pages
//! that can hold a wanted series; only those rows are read (Parquet row selection),
//! and memtable batches are filtered in place.

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, TimestampNanosecondType, UInt64Type};

use crate::Snapshot;
use crate::error::StorageError;
use crate::files::FooterCache;
use crate::files::{self, blobs::Blobs, decimal};

/// Samples by series id: (timestamp ns, value) in the order read (not sorted).
pub type SamplesById = HashMap<u64, Vec<(i64, f64)>>;

/// Row ranges of `rel` whose `series_id` page may hold one of `ids` (sorted).
fn candidate_rows(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    ids: &[u64],
) -> Result<Vec<std::ops::Range<usize>>, StorageError> {
    crate::files::pruning::u64_in(blobs, footers, rel, "series_id", ids)
}

/// `columns` of the rows of `rel` whose pages may hold one of `ids` (none read when
/// no page may).
fn candidate_batches(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
    ids: &[u64],
    columns: &[&str],
) -> Result<Vec<RecordBatch>, StorageError> {
    let rows = candidate_rows(blobs, footers, rel, ids)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    files::read_row_ranges(blobs, footers, rel, Some(columns), &rows, &[])
}

fn keep(ids: &[u64], id: u64, ts: i64, start_ns: i64, end_ns: i64) -> bool {
    ts >= start_ns && ts <= end_ns && ids.binary_search(&id).is_ok()
}

/// The samples of `ids` (sorted, distinct) with `start_ns <= t <= end_ns`.
pub fn read(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    snap: &Snapshot,
    ids: &[u64],
    start_ns: i64,
    end_ns: i64,
) -> Result<SamplesById, StorageError> {
    let mut out: SamplesById = HashMap::with_capacity(ids.len());
    for b in &snap.batches {
        let (Some(sid), Some(ts), Some(val)) = (
            b.column_by_name("series_id"),
            b.column_by_name("timestamp"),
            b.column_by_name("value"),
        ) else {
            continue;
        };
        let (sid, ts, val) = (
            sid.as_primitive::<UInt64Type>(),
            ts.as_primitive::<TimestampNanosecondType>(),
            val.as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            let (id, t) = (sid.value(i), ts.value(i));
            if keep(ids, id, t, start_ns, end_ns) {
                out.entry(id).or_default().push((t, val.value(i)));
            }
        }
    }
    let files: Vec<&crate::FileMeta> = snap
        .files
        .iter()
        .filter(|f| f.max_time_ns >= start_ns && f.min_time_ns <= end_ns)
        .collect();
    // Files are independent: read them on one thread per core, then merge.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let read_files = |part: &[&crate::FileMeta]| -> Result<SamplesById, StorageError> {
        let mut out = SamplesById::new();
        for f in part {
            let columns = ["series_id", "timestamp", "value_m", "value_k", "value_f"];
            for b in &candidate_batches(blobs, footers, &f.path, ids, &columns)? {
                read_file_batch(b, ids, start_ns, end_ns, &mut out)?;
            }
        }
        Ok(out)
    };
    let parts: Vec<Result<SamplesById, StorageError>> = if threads <= 1 {
        vec![read_files(&files)]
    } else {
        let chunk = files.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| scope.spawn(move || read_files(part)))
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
        })
    };
    for part in parts {
        for (id, mut samples) in part? {
            out.entry(id).or_default().append(&mut samples);
        }
    }
    Ok(out)
}

fn read_file_batch(
    b: &RecordBatch,
    ids: &[u64],
    start_ns: i64,
    end_ns: i64,
    out: &mut SamplesById,
) -> Result<(), StorageError> {
    let bad = || StorageError::Index {
        path: String::new(),
        reason: "samples file batch without series_id, timestamp or value columns".into(),
    };
    let sid = b.column_by_name("series_id").ok_or_else(bad)?;
    let ts = b.column_by_name("timestamp").ok_or_else(bad)?;
    let values = decimal::FileValues::new(b).ok_or_else(bad)?;
    let (sid, ts) = (
        sid.as_primitive::<UInt64Type>(),
        ts.as_primitive::<TimestampNanosecondType>(),
    );
    // Rows come sorted by series: one lookup per run of a series, not per row.
    let ids_col = sid.values();
    let n = b.num_rows();
    let mut i = 0;
    while i < n {
        let id = ids_col[i];
        let from = i;
        while i < n && ids_col[i] == id {
            i += 1;
        }
        let to = i;
        if ids.binary_search(&id).is_err() {
            continue;
        }
        let dst = out.entry(id).or_default();
        for r in from..to {
            let t = ts.value(r);
            if t < start_ns || t > end_ns {
                continue;
            }
            dst.push((t, values.get(r)));
        }
    }
    Ok(())
}

/// Which of `ids` (sorted, distinct) have a sample in `start_ns..=end_ns` in the
/// snapshot's memtable batches and files: only the `series_id` and `timestamp` columns
/// of the pages that may hold them are read.
pub fn ids_with_samples(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    snap: &Snapshot,
    ids: &[u64],
    start_ns: i64,
    end_ns: i64,
) -> Result<std::collections::HashSet<u64>, StorageError> {
    let mut found = std::collections::HashSet::new();
    let columns = |b: &RecordBatch| {
        let sid = b
            .column_by_name("series_id")?
            .as_primitive_opt::<UInt64Type>()?;
        let ts = b
            .column_by_name("timestamp")?
            .as_primitive_opt::<TimestampNanosecondType>()?;
        Some((sid.clone(), ts.clone()))
    };
    let mut scan = |b: &RecordBatch| {
        if let Some((sid, ts)) = columns(b) {
            for i in 0..b.num_rows() {
                let (id, t) = (sid.value(i), ts.value(i));
                if !found.contains(&id) && keep(ids, id, t, start_ns, end_ns) {
                    found.insert(id);
                }
            }
        }
    };
    snap.batches.iter().for_each(&mut scan);
    for f in snap
        .files
        .iter()
        .filter(|f| f.max_time_ns >= start_ns && f.min_time_ns <= end_ns)
    {
        candidate_batches(blobs, footers, &f.path, ids, &["series_id", "timestamp"])?
            .iter()
            .for_each(&mut scan);
    }
    Ok(found)
}
