//! The samples file layout: one Parquet row per series and file (a *run*), holding
//! that series' samples of the file coded by `run_codec.rs`, rows in series order (a
//! metric's series adjacent: by metric name, then labels, from the series index).
//!
//! | column | type | notes |
//! |---|---|---|
//! | `series_id` | UInt64 | |
//! | `min_time`, `max_time` | Timestamp(ns, UTC) | the run's first and last sample |
//! | `samples` | UInt32 | the run's sample count |
//! | `times` | Binary | `run_codec::encode_times` |
//! | `values` | Binary | `run_codec::encode_values` |
//!
//! Why: a PromQL selector wants a few series' samples. With a row per sample (the
//! layout before, `decimal.rs`), finding them went through the `series_id` page index
//! and decoded every row of the pages it named, for each file; here the file's
//! `series_id`, `min_time` and `max_time` columns (a few bytes per series) are read
//! once into an index kept in memory (`series/samples.rs`), which names the exact
//! rows, and only their pages of `times` and `values` are read. A series' samples
//! sit together, so delta coding within a run and zstd over the page bring a sample
//! to about a byte (storage/docs/format/parquet-layout.md has the measurements).
//!
//! [`encode`] builds the rows from memory batches; [`explode`] gives memory rows
//! (`series_id`, `timestamp`, `value`) back for SQL and compaction.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, AsArray, BinaryBuilder, Float64Array, RecordBatch, RecordBatchOptions,
    TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampNanosecondType, UInt32Type, UInt64Type,
};

use super::run_codec;
use crate::StorageError;
use crate::series::SeriesSamples;

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

static RUNS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("min_time", time_type(), false),
        Field::new("max_time", time_type(), false),
        Field::new("samples", DataType::UInt32, false),
        Field::new("times", DataType::Binary, false),
        Field::new("values", DataType::Binary, false),
    ]))
});

/// The schema of samples files.
pub fn schema() -> SchemaRef {
    RUNS.clone()
}

/// Puts distinct series ids in the order their runs are written (see the module doc).
pub type SeriesOrder<'a> = &'a dyn Fn(&mut Vec<u64>);

/// Most samples in one run: a longer series is split into several rows (a run's count
/// is a `u32`, and one run is decoded whole).
const MAX_RUN: usize = 1 << 16;

fn missing(c: &str) -> StorageError {
    StorageError::Layout(format!("samples batch has no {c} column"))
}

/// Takes the runs batches a writer produces, in order (`files::write_runs`).
pub type Emit<'a> = &'a mut dyn FnMut(RecordBatch) -> Result<(), StorageError>;

/// Coded bytes a producer gathers before it emits a batch: a merge of large files
/// hands its output to the Parquet writer in slices of this size instead of building
/// one batch of the whole file beside the writer's copy.
const SLICE_BYTES: usize = 4 << 20;

/// The batches a producer emits, as one batch.
fn collected(
    produce: impl FnOnce(Emit<'_>) -> Result<(), StorageError>,
) -> Result<RecordBatch, StorageError> {
    let mut out = Vec::new();
    produce(&mut |b| {
        out.push(b);
        Ok(())
    })?;
    Ok(arrow::compute::concat_batches(&schema(), &out)?)
}

/// Rows of a memory samples batch (`series_id`, `timestamp`, `value`) as runs, in
/// `order` ([`encode_batches`] of one batch).
pub fn encode(batch: &RecordBatch, order: SeriesOrder<'_>) -> Result<RecordBatch, StorageError> {
    collected(|emit| encode_batches(std::slice::from_ref(batch), order, emit))
}

/// Series gathered per pass of [`encode_batches`]: the pass's samples are copied, so
/// a flush holds about 1/`PASSES` of its memtable twice, not all of it.
const PASSES: usize = 16;

/// Runs, in `order`, of memory batches in any row order (a frozen memtable's), without
/// a sorted copy of them all: the series are split into [`PASSES`] groups of adjacent
/// series in `order`, and each group's samples are gathered, sorted by (series, time)
/// (stable: equal times keep the batches' order), and coded, and emitted as a batch
/// before the next group.
pub fn encode_batches(
    batches: &[RecordBatch],
    order: SeriesOrder<'_>,
    emit: Emit<'_>,
) -> Result<(), StorageError> {
    let cols = batches
        .iter()
        .map(crate::schema::stored_sample_columns)
        .collect::<Result<Vec<_>, _>>()?;
    let distinct: std::collections::HashSet<u64> =
        cols.iter().flat_map(|c| c.0.iter().copied()).collect();
    let mut ordered: Vec<u64> = distinct.into_iter().collect();
    order(&mut ordered);
    let rank: std::collections::HashMap<u64, u32> = ordered
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();
    // Each row's series rank, so every pass compares integers.
    let ranks: Vec<Vec<u32>> = cols
        .iter()
        .map(|c| c.0.iter().map(|id| rank[id]).collect())
        .collect();
    let per_pass = ordered.len().div_ceil(PASSES).max(1) as u32;
    let mut out = RunsBuilder::default();
    let mut group: Vec<(u32, i64, f64)> = Vec::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for first in (0..ordered.len() as u32).step_by(per_pass as usize) {
        let end = first.saturating_add(per_pass);
        group.clear();
        for (c, r) in cols.iter().zip(&ranks) {
            for (i, &k) in r.iter().enumerate() {
                if (first..end).contains(&k) {
                    group.push((k, c.1[i], c.2[i]));
                }
            }
        }
        group.sort_by_key(|s| (s.0, s.1));
        for one in group.chunk_by(|a, b| a.0 == b.0) {
            for part in one.chunks(MAX_RUN) {
                ts.clear();
                vs.clear();
                ts.extend(part.iter().map(|s| s.1));
                vs.extend(part.iter().map(|s| s.2));
                out.push_samples(ordered[part[0].0 as usize], &ts, &vs);
            }
        }
        out.emit(emit)?;
    }
    Ok(())
}

/// The columns of one runs batch.
struct RunColumns<'a> {
    ids: &'a [u64],
    min_t: &'a [i64],
    max_t: &'a [i64],
    counts: &'a [u32],
    times: &'a arrow::array::BinaryArray,
    values: &'a arrow::array::BinaryArray,
}

impl<'a> RunColumns<'a> {
    fn of(b: &'a RecordBatch) -> Result<Self, StorageError> {
        let prim = |name: &str| b.column_by_name(name).ok_or_else(|| missing(name));
        let time = |name: &str| {
            prim(name)?
                .as_primitive_opt::<TimestampNanosecondType>()
                .map(|a| &a.values()[..])
                .ok_or_else(|| missing(name))
        };
        let binary = |name: &str| {
            prim(name)?
                .as_binary_opt::<i32>()
                .ok_or_else(|| missing(name))
        };
        Ok(Self {
            ids: prim("series_id")?
                .as_primitive_opt::<UInt64Type>()
                .map(|a| &a.values()[..])
                .ok_or_else(|| missing("series_id"))?,
            min_t: time("min_time")?,
            max_t: time("max_time")?,
            counts: prim("samples")?
                .as_primitive_opt::<UInt32Type>()
                .map(|a| &a.values()[..])
                .ok_or_else(|| missing("samples"))?,
            times: binary("times")?,
            values: binary("values")?,
        })
    }
}

/// The runs of several samples files (runs batches, oldest first) as the runs of one
/// file, in `order`, without exploding them into rows: a series with a single run
/// keeps its coded bytes; the runs of a series found in several inputs are decoded,
/// merged by time (stable: equal times keep the inputs' order, as the row sort did),
/// and coded again; emitted in slices of about [`SLICE_BYTES`]. Memory: the inputs'
/// coded bytes, one slice and one series' samples.
pub fn merge(
    batches: &[RecordBatch],
    order: SeriesOrder<'_>,
    emit: Emit<'_>,
) -> Result<(), StorageError> {
    merge_in_slices(batches, order, SLICE_BYTES, emit)
}

fn merge_in_slices(
    batches: &[RecordBatch],
    order: SeriesOrder<'_>,
    slice: usize,
    emit: Emit<'_>,
) -> Result<(), StorageError> {
    let inputs = batches
        .iter()
        .map(RunColumns::of)
        .collect::<Result<Vec<_>, _>>()?;
    // (series id, input, row), by id; inputs' order kept within an id.
    let mut at: Vec<(u64, u32, u32)> = Vec::new();
    for (b, input) in inputs.iter().enumerate() {
        at.extend(
            input
                .ids
                .iter()
                .enumerate()
                .map(|(row, &id)| (id, b as u32, row as u32)),
        );
    }
    at.sort_by_key(|r| r.0);
    let mut ordered: Vec<u64> = at.iter().map(|r| r.0).collect();
    ordered.dedup();
    order(&mut ordered);
    let mut out = RunsBuilder::default();
    let mut samples: Vec<(i64, f64)> = Vec::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for id in ordered {
        let from = at.partition_point(|r| r.0 < id);
        let to = from + at[from..].iter().take_while(|r| r.0 == id).count();
        if let [(_, b, row)] = at[from..to] {
            let (input, row) = (&inputs[b as usize], row as usize);
            out.push_coded(
                id,
                input.min_t[row],
                input.max_t[row],
                input.counts[row],
                input.times.value(row),
                input.values.value(row),
            );
            out.emit_from(slice, emit)?;
            continue;
        }
        samples.clear();
        for &(_, b, row) in &at[from..to] {
            let (input, row) = (&inputs[b as usize], row as usize);
            let n = input.counts[row] as usize;
            ts.clear();
            vs.clear();
            run_codec::decode_times(input.times.value(row), n, &mut ts)?;
            run_codec::decode_values(input.values.value(row), n, &mut vs)?;
            samples.extend(ts.iter().copied().zip(vs.iter().copied()));
        }
        samples.sort_by_key(|s| s.0);
        for part in samples.chunks(MAX_RUN) {
            ts.clear();
            vs.clear();
            ts.extend(part.iter().map(|s| s.0));
            vs.extend(part.iter().map(|s| s.1));
            out.push_samples(id, &ts, &vs);
        }
        out.emit_from(slice, emit)?;
    }
    out.emit(emit)
}

/// Runs being gathered into a batch.
#[derive(Default)]
struct RunsBuilder {
    ids: Vec<u64>,
    min_t: Vec<i64>,
    max_t: Vec<i64>,
    counts: Vec<u32>,
    times: BinaryBuilder,
    values: BinaryBuilder,
    buf: Vec<u8>,
}

impl RunsBuilder {
    fn push_coded(&mut self, id: u64, min_t: i64, max_t: i64, n: u32, times: &[u8], values: &[u8]) {
        self.ids.push(id);
        self.min_t.push(min_t);
        self.max_t.push(max_t);
        self.counts.push(n);
        self.times.append_value(times);
        self.values.append_value(values);
    }

    /// A run of at most [`MAX_RUN`] samples, in time order.
    fn push_samples(&mut self, id: u64, ts: &[i64], vs: &[f64]) {
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return;
        };
        self.ids.push(id);
        self.min_t.push(first);
        self.max_t.push(last);
        self.counts.push(ts.len() as u32);
        self.buf.clear();
        run_codec::encode_times(ts, &mut self.buf);
        self.times.append_value(&self.buf);
        self.buf.clear();
        run_codec::encode_values(vs, &mut self.buf);
        self.values.append_value(&self.buf);
    }

    /// Emits the runs gathered (if any) and starts again.
    fn emit(&mut self, emit: Emit<'_>) -> Result<(), StorageError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        emit(std::mem::take(self).finish()?)
    }

    /// Emits the runs gathered once their coded bytes reach `bytes`.
    fn emit_from(&mut self, bytes: usize, emit: Emit<'_>) -> Result<(), StorageError> {
        if self.times.values_slice().len() + self.values.values_slice().len() < bytes {
            return Ok(());
        }
        self.emit(emit)
    }

    fn finish(mut self) -> Result<RecordBatch, StorageError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(self.ids)),
            Arc::new(TimestampNanosecondArray::from(self.min_t).with_timezone("UTC")),
            Arc::new(TimestampNanosecondArray::from(self.max_t).with_timezone("UTC")),
            Arc::new(UInt32Array::from(self.counts)),
            Arc::new(self.times.finish()),
            Arc::new(self.values.finish()),
        ];
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}

/// The time range of a runs batch: its runs' first and last samples.
pub fn time_range(batch: &RecordBatch) -> Result<(i64, i64), StorageError> {
    let c = RunColumns::of(batch)?;
    Ok((
        c.min_t.iter().copied().min().unwrap_or(0),
        c.max_t.iter().copied().max().unwrap_or(0),
    ))
}

/// One run's samples with `start <= t <= end`, appended to `out` in time order.
pub fn decode_into(
    times: &[u8],
    values: &[u8],
    n: usize,
    start: i64,
    end: i64,
    out: &mut SeriesSamples,
) -> Result<(), StorageError> {
    let base = out.ts.len();
    if let Err(e) = run_codec::decode_times(times, n, &mut out.ts) {
        out.ts.truncate(base);
        return Err(e);
    }
    let decoded = &out.ts[base..];
    let from = decoded.partition_point(|t| *t < start);
    let to = decoded.partition_point(|t| *t <= end);
    if from >= to {
        out.ts.truncate(base);
        return Ok(());
    }
    if let Err(e) = run_codec::decode_values(values, n, &mut out.vals) {
        out.truncate(base);
        return Err(e);
    }
    // Decoded whole: keep the samples in the range.
    out.truncate(base + to);
    if from > 0 {
        out.ts.drain(base..base + from);
        out.vals.drain(base..base + from);
    }
    Ok(())
}

/// Whether a run (its times) has a sample in `start..=end`.
pub fn has_time_in(times: &[u8], n: usize, start: i64, end: i64) -> Result<bool, StorageError> {
    let mut ts = Vec::with_capacity(n);
    run_codec::decode_times(times, n, &mut ts)?;
    let from = ts.partition_point(|t| *t < start);
    Ok(ts.get(from).is_some_and(|t| *t <= end))
}

/// The memory columns named by `schema` (of `series_id`, `timestamp`, `value`), one row
/// per sample, from a batch of runs with the file columns they need
/// ([`super::layout::file_columns_of`]; `samples` always).
pub fn explode(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, StorageError> {
    let counts = batch
        .column_by_name("samples")
        .and_then(|c| c.as_primitive_opt::<UInt32Type>())
        .ok_or_else(|| missing("samples"))?;
    let total: usize = counts.values().iter().map(|n| *n as usize).sum();
    let binary = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_binary_opt::<i32>())
            .ok_or_else(|| missing(name))
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let array: ArrayRef = match field.name().as_str() {
            "series_id" => {
                let ids = batch
                    .column_by_name("series_id")
                    .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                    .ok_or_else(|| missing("series_id"))?;
                let mut out = Vec::with_capacity(total);
                for (id, n) in ids.values().iter().zip(counts.values()) {
                    out.extend(std::iter::repeat_n(*id, *n as usize));
                }
                Arc::new(UInt64Array::from(out))
            }
            "timestamp" => {
                let times = binary("times")?;
                let mut out = Vec::with_capacity(total);
                for (i, n) in counts.values().iter().enumerate() {
                    run_codec::decode_times(times.value(i), *n as usize, &mut out)?;
                }
                Arc::new(TimestampNanosecondArray::from(out).with_timezone("UTC"))
            }
            "value" => {
                let values = binary("values")?;
                let mut out = Vec::with_capacity(total);
                for (i, n) in counts.values().iter().enumerate() {
                    run_codec::decode_values(values.value(i), *n as usize, &mut out)?;
                }
                Arc::new(Float64Array::from(out))
            }
            other => return Err(missing(other)),
        };
        columns.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(total));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// Whether `batch` is in this layout.
pub fn is_runs(batch: &RecordBatch) -> bool {
    batch.schema().fields() == RUNS.fields()
}

/// `Some(n)` samples in a runs batch (with its `samples` column).
pub fn sample_count(batch: &RecordBatch) -> Option<u64> {
    let c = batch
        .column_by_name("samples")?
        .as_primitive_opt::<UInt32Type>()?;
    Some(c.values().iter().map(|n| u64::from(*n)).sum())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::schema::{SampleRow, samples_batch, to_stored};

    /// A stored samples batch of (series, time, value) rows as given.
    pub(crate) fn stored(rows: &[(u64, i64, f64)]) -> RecordBatch {
        let rows: Vec<SampleRow> = rows
            .iter()
            .map(|(id, t, v)| SampleRow {
                metric: format!("m{id}"),
                timestamp_ns: *t,
                value: *v,
                ..Default::default()
            })
            .collect();
        to_stored(crate::Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap()
    }

    /// The same rows sorted by series and time.
    pub(crate) fn memory(rows: &[(u64, i64, f64)]) -> RecordBatch {
        crate::files::sort_batches(crate::Signal::Metrics, &[stored(rows)]).unwrap()
    }

    /// Coding unsorted memtable batches a group of series at a time gives the runs of
    /// their sorted rows.
    #[test]
    fn runs_of_unsorted_batches_equal_runs_of_the_sorted_rows() {
        let reverse = |ids: &mut Vec<u64>| ids.sort_by(|a, b| b.cmp(a));
        // 40 series (more than PASSES), times out of order within and across batches.
        let batches: Vec<RecordBatch> = (0..5)
            .map(|b| {
                let rows: Vec<_> = (0..40u64)
                    .flat_map(|id| {
                        (0..3).map(move |k| {
                            (
                                id,
                                ((k * 7 + b * 3) % 15) as i64 * 1000 + b as i64,
                                (id * 10 + k) as f64,
                            )
                        })
                    })
                    .collect();
                stored(&rows)
            })
            .chain([stored(&[])])
            .collect();
        let sorted = crate::files::sort_batches(crate::Signal::Metrics, &batches).unwrap();
        let want = encode(&sorted, &reverse).unwrap();
        let got = collected(|emit| encode_batches(&batches, &reverse, emit)).unwrap();
        assert_eq!(got, want);
        assert_eq!(sample_count(&want), Some(600));
    }

    /// Merging runs gives what exploding them, sorting the rows and coding them again
    /// gives: runs of one input kept, runs of several merged, long ones split.
    #[test]
    fn merged_runs_equal_runs_of_the_sorted_rows() {
        let natural = |ids: &mut Vec<u64>| ids.sort_unstable();
        let a: Vec<_> = (0..10)
            .map(|t| (0, t * 10, t as f64))
            .chain((0..5).map(|t| (1, t * 10, 0.25 * t as f64)))
            .collect();
        let b: Vec<_> = (10..20)
            .map(|t| (0, t * 10, t as f64 + 0.5))
            .chain((0..3).map(|t| (2, t, -1.0)))
            .collect();
        let c: Vec<_> = (5..70_005)
            .map(|t| (1, t * 10, (t % 7) as f64))
            .chain([(3, 5, f64::INFINITY)])
            .collect();
        let inputs: Vec<RecordBatch> = [a, b, c]
            .iter()
            .map(|rows| encode(&memory(rows), &natural).unwrap())
            .collect();
        let merged = collected(|emit| merge(&inputs, &natural, emit)).unwrap();
        let schema = crate::schema::stored_schema(crate::Signal::Metrics);
        let exploded: Vec<RecordBatch> = inputs
            .iter()
            .map(|r| explode(r, &schema).unwrap())
            .collect();
        let sorted = crate::files::sort_batches(crate::Signal::Metrics, &exploded).unwrap();
        assert_eq!(merged, encode(&sorted, &natural).unwrap());
        assert_eq!(sample_count(&merged), Some(10 + 5 + 10 + 3 + 70_000 + 1));
        // Four series; the long one split at MAX_RUN.
        assert_eq!(merged.num_rows(), 5);
        assert_eq!(time_range(&merged).unwrap(), (0, 700_040));
        // Emitted a series at a time (the long one's two runs together), the same runs.
        let mut slices = 0;
        let sliced = collected(|emit| {
            merge_in_slices(&inputs, &natural, 1, &mut |b| {
                slices += 1;
                emit(b)
            })
        })
        .unwrap();
        assert_eq!(sliced, merged);
        assert_eq!(slices, 4);
    }

    #[test]
    fn runs_follow_the_order_and_explode_back() {
        let mem = memory(&[
            (0, 30, 1.0),
            (0, 10, 0.5),
            (1, 10, f64::NAN),
            (2, 20, 7.0),
            (1, 20, 2.0),
        ]);
        let reverse = |ids: &mut Vec<u64>| ids.sort_by(|a, b| b.cmp(a));
        let runs = encode(&mem, &reverse).unwrap();
        assert!(is_runs(&runs));
        assert_eq!(sample_count(&runs), Some(5));
        let ids = runs
            .column(0)
            .as_primitive::<UInt64Type>()
            .values()
            .to_vec();
        let mut want: Vec<u64> = mem
            .column_by_name("series_id")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .values()
            .to_vec();
        want.dedup();
        want.reverse();
        assert_eq!(ids, want);
        let back = explode(&runs, &mem.schema()).unwrap();
        assert_eq!(back.num_rows(), 5);
        // Per series, the same samples in time order.
        let rows = |b: &RecordBatch| {
            let id = b.column(0).as_primitive::<UInt64Type>();
            let t = b.column(1).as_primitive::<TimestampNanosecondType>();
            let v = b.column(2).as_primitive::<arrow::datatypes::Float64Type>();
            let mut r: Vec<(u64, i64, u64)> = (0..b.num_rows())
                .map(|i| (id.value(i), t.value(i), v.value(i).to_bits()))
                .collect();
            r.sort_unstable();
            r
        };
        assert_eq!(rows(&back), rows(&mem));
        // A projection without columns keeps the sample count (count(*)).
        let none = explode(&runs, &Arc::new(Schema::empty())).unwrap();
        assert_eq!(none.num_rows(), 5);
        let mut got: SeriesSamples = [(1, 1.0)].into_iter().collect();
        let at = (0..runs.num_rows())
            .find(|i| runs.column(3).as_primitive::<UInt32Type>().value(*i) == 2)
            .unwrap();
        let (t, v) = (
            runs.column(4).as_binary::<i32>(),
            runs.column(5).as_binary::<i32>(),
        );
        decode_into(t.value(at), v.value(at), 2, 11, 40, &mut got).unwrap();
        assert_eq!(got.len(), 2, "appended after what was there");
        // Rows in reverse id order: the first run of 2 samples is series 1's.
        assert_eq!(got.iter().collect::<Vec<_>>(), [(1, 1.0), (20, 2.0)]);
    }
}
