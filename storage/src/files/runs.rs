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
    DataType, Field, Float64Type, Schema, SchemaRef, TimeUnit, TimestampNanosecondType, UInt32Type,
    UInt64Type,
};

use super::run_codec;
use crate::StorageError;

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

/// Rows of a memory samples batch (`series_id`, `timestamp`, `value`, sorted by series
/// then time) as runs, in `order`.
pub fn encode(batch: &RecordBatch, order: SeriesOrder<'_>) -> Result<RecordBatch, StorageError> {
    let ids = batch
        .column_by_name("series_id")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
        .ok_or_else(|| missing("series_id"))?;
    let ts = batch
        .column_by_name("timestamp")
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>())
        .ok_or_else(|| missing("timestamp"))?;
    let vals = batch
        .column_by_name("value")
        .and_then(|c| c.as_primitive_opt::<Float64Type>())
        .ok_or_else(|| missing("value"))?;
    let (ids, ts, vals) = (ids.values(), ts.values(), vals.values());
    // (id, first row, end row) of each series, by id.
    let mut spans: Vec<(u64, usize, usize)> = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let id = ids[start];
        let end = start + ids[start..].iter().take_while(|x| **x == id).count();
        spans.push((id, start, end));
        start = end;
    }
    let mut ordered: Vec<u64> = spans.iter().map(|s| s.0).collect();
    order(&mut ordered);
    let rows = spans.len() + ids.len() / MAX_RUN;
    let mut out_ids = Vec::with_capacity(rows);
    let (mut min_t, mut max_t, mut counts) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let mut times = BinaryBuilder::with_capacity(rows, ids.len() + rows * 8);
    let mut values = BinaryBuilder::with_capacity(rows, ids.len() * 2);
    let mut buf = Vec::new();
    for id in ordered {
        let Ok(at) = spans.binary_search_by_key(&id, |s| s.0) else {
            continue;
        };
        let (_, from, to) = spans[at];
        for part in (from..to).step_by(MAX_RUN) {
            let end = (part + MAX_RUN).min(to);
            out_ids.push(id);
            min_t.push(ts[part]);
            max_t.push(ts[end - 1]);
            counts.push((end - part) as u32);
            buf.clear();
            run_codec::encode_times(&ts[part..end], &mut buf);
            times.append_value(&buf);
            buf.clear();
            run_codec::encode_values(&vals[part..end], &mut buf);
            values.append_value(&buf);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(out_ids)),
        Arc::new(TimestampNanosecondArray::from(min_t).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(max_t).with_timezone("UTC")),
        Arc::new(UInt32Array::from(counts)),
        Arc::new(times.finish()),
        Arc::new(values.finish()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// One run's samples with `start <= t <= end`, appended to `out` in time order.
pub fn decode_into(
    times: &[u8],
    values: &[u8],
    n: usize,
    start: i64,
    end: i64,
    out: &mut Vec<(i64, f64)>,
) -> Result<(), StorageError> {
    let mut ts = Vec::with_capacity(n);
    run_codec::decode_times(times, n, &mut ts)?;
    let from = ts.partition_point(|t| *t < start);
    let to = ts.partition_point(|t| *t <= end);
    if from >= to {
        return Ok(());
    }
    let mut vs = Vec::with_capacity(n);
    run_codec::decode_values(values, n, &mut vs)?;
    out.extend(
        ts[from..to]
            .iter()
            .copied()
            .zip(vs[from..to].iter().copied()),
    );
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
mod tests {
    use super::*;
    use crate::schema::{SampleRow, samples_batch, to_stored};

    fn memory(rows: &[(u64, i64, f64)]) -> RecordBatch {
        let rows: Vec<SampleRow> = rows
            .iter()
            .map(|(id, t, v)| SampleRow {
                metric: format!("m{id}"),
                timestamp_ns: *t,
                value: *v,
                ..Default::default()
            })
            .collect();
        let b = to_stored(crate::Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap();
        crate::files::sort_batches(crate::Signal::Metrics, &[b]).unwrap()
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
            let v = b.column(2).as_primitive::<Float64Type>();
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
        let mut got = Vec::new();
        let at = (0..runs.num_rows())
            .find(|i| runs.column(3).as_primitive::<UInt32Type>().value(*i) == 2)
            .unwrap();
        let (t, v) = (
            runs.column(4).as_binary::<i32>(),
            runs.column(5).as_binary::<i32>(),
        );
        decode_into(t.value(at), v.value(at), 2, 11, 40, &mut got).unwrap();
        assert_eq!(got.len(), 1);
    }
}
