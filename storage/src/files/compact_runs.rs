//! Compacting samples files (the `runs.rs` layout) without holding them decoded. The
//! inputs' series ids are read first (one small column); the merged order is cut into
//! slices of [`SLICE_SERIES`] series, and each slice's rows are read from every input
//! (only the pages holding them, through the page index), merged by [`runs::merge`]
//! and emitted before the next slice is read. Memory: a slice of every input and of
//! the output, where reading the inputs whole held all of them decoded (a full
//! compaction of an hour of 100k series took ~110 MiB for that alone). Inputs whose
//! runs are not in the merged order (written while a series was missing from the
//! index) are read whole, as before.

use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::datatypes::UInt64Type;

use super::runs::{self, Emit, SeriesOrder};
use super::{Blobs, FooterCache};
use crate::StorageError;

/// Series merged per slice.
const SLICE_SERIES: u32 = 8192;

/// Merges the runs of the samples files `inputs` (oldest first) in `order`, handing
/// the output to `emit` a slice at a time.
pub fn merge_files(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    inputs: &[&str],
    order: SeriesOrder<'_>,
    emit: Emit<'_>,
) -> Result<(), StorageError> {
    merge_files_in_slices(blobs, footers, inputs, order, SLICE_SERIES, emit)
}

fn merge_files_in_slices(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    inputs: &[&str],
    order: SeriesOrder<'_>,
    slice: u32,
    emit: Emit<'_>,
) -> Result<(), StorageError> {
    let ids = inputs
        .iter()
        .map(|rel| series_ids(blobs, footers, rel))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ordered: Vec<u64> = ids.iter().flatten().copied().collect();
    ordered.sort_unstable();
    ordered.dedup();
    order(&mut ordered);
    let rank: HashMap<u64, u32> = ordered
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();
    let ranks: Vec<Vec<u32>> = ids
        .iter()
        .map(|v| v.iter().map(|id| rank[id]).collect())
        .collect();
    if !ranks.iter().all(|r| r.is_sorted()) {
        let mut batches = Vec::new();
        for rel in inputs {
            batches.extend(super::read_file(blobs, rel)?);
        }
        return runs::merge(&batches, order, emit);
    }
    // Within a slice, the order already known (no second sort by labels).
    let by_rank = |ids: &mut Vec<u64>| ids.sort_unstable_by_key(|id| rank.get(id).copied());
    for first in (0..ordered.len() as u32).step_by(slice.max(1) as usize) {
        let end = first.saturating_add(slice);
        let mut batches = Vec::new();
        for (rel, r) in inputs.iter().zip(&ranks) {
            let rows = r.partition_point(|k| *k < first)..r.partition_point(|k| *k < end);
            if !rows.is_empty() {
                batches.extend(super::read_row_ranges(
                    blobs,
                    footers,
                    rel,
                    None,
                    &[rows],
                    &[],
                )?);
            }
        }
        runs::merge(&batches, &by_rank, emit)?;
    }
    Ok(())
}

/// The series id of every run of a samples file, in row order.
fn series_ids(
    blobs: &Blobs,
    footers: Option<&FooterCache>,
    rel: &str,
) -> Result<Vec<u64>, StorageError> {
    let mut ids = Vec::new();
    for b in super::read_rows(blobs, footers, rel, Some(&["series_id"]), None)? {
        let col = b
            .column_by_name("series_id")
            .and_then(|c| c.as_primitive_opt::<UInt64Type>())
            .ok_or_else(|| StorageError::Index {
                path: rel.to_string(),
                reason: "samples file without series_id".into(),
            })?;
        ids.extend_from_slice(col.values());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::runs::tests::memory;
    use arrow::array::RecordBatch;

    fn write(blobs: &Blobs, rel: &str, runs: RecordBatch) {
        let opts = crate::files::WriteOptions::compaction(&Default::default());
        crate::files::write_runs(blobs, rel, "t", opts, |emit| emit(runs)).unwrap();
    }

    fn collect(f: impl FnOnce(Emit<'_>) -> Result<(), StorageError>) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        f(&mut |b| {
            out.push(b);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Slice by slice, read from files by row ranges, the merge gives what merging
    /// the whole inputs gives; inputs in another order are read whole.
    #[test]
    fn merging_files_slice_by_slice_equals_merging_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let natural = |ids: &mut Vec<u64>| ids.sort_unstable();
        // Three inputs over 20 series; some series in one input only, some in all.
        let rows = |k: u64| -> Vec<(u64, i64, f64)> {
            (0..20u64)
                .filter(|id| id % 3 != k)
                .flat_map(|id| {
                    (0..4).map(move |t| (id, (t * 3 + k as i64) * 1000, (id + t as u64) as f64))
                })
                .collect()
        };
        let inputs: Vec<RecordBatch> = (0..3)
            .map(|k| runs::encode(&memory(&rows(k)), &natural).unwrap())
            .collect();
        let names = ["a.parquet", "b.parquet", "c.parquet"];
        for (n, r) in names.iter().zip(&inputs) {
            write(&blobs, n, r.clone());
        }
        let whole = collect(|emit| runs::merge(&inputs, &natural, emit));
        let whole = arrow::compute::concat_batches(&runs::schema(), &whole).unwrap();
        let sliced = collect(|emit| merge_files_in_slices(&blobs, None, &names, &natural, 3, emit));
        assert!(sliced.len() >= 7, "{} slices", sliced.len());
        let sliced = arrow::compute::concat_batches(&runs::schema(), &sliced).unwrap();
        assert_eq!(sliced, whole);
        // Written in reverse, the inputs are out of the merged order: read whole.
        let reverse = |ids: &mut Vec<u64>| ids.sort_by(|a, b| b.cmp(a));
        let fallback =
            collect(|emit| merge_files_in_slices(&blobs, None, &names, &reverse, 3, emit));
        let want = collect(|emit| runs::merge(&inputs, &reverse, emit));
        assert_eq!(fallback, want);
    }
}
