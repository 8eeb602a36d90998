//! How rows are laid out in files, where that differs from memory, and why:
//!
//! - metrics: one row per series and file, its samples coded together (`runs.rs`);
//! - logs: `observed_timestamp` is null when it equals `timestamp` (OTLP log bridges
//!   and the Loki/NDJSON paths set both alike), so the column costs next to nothing
//!   instead of a second full timestamp (measured: 4.2 B/line on the logs workload);
//! - spans: `end_time` is always null: it is `start_time + duration_ns` (measured:
//!   3.75 B/span on the traces workload);
//! - trace and span ids are 16/8-byte binary instead of 32/16 hex digits (null for "no
//!   id"): random ids do not compress, so hex costs about twice the bytes under zstd
//!   (measured: ~5 B/span and ~3 B/line);
//! - spans: `kind` and `status_code` are `Dictionary(Int32, Utf8)`, as in memory
//!   (`schema::dictionary_columns`); files written before 2026-12-07 say `Utf8`, and
//!   `read_selected` reads those columns of them as dictionaries.
//!
//! This module owns the layout in both directions: [`to_file`] applies it when a file
//! is written; [`to_memory`] rebuilds the memory columns of a file batch (the query
//! engine's scans, trace fetch and log search all go through it), and
//! [`file_columns_of`] says which file columns a memory column is rebuilt from.
//! Samples runs are coded and decoded by `runs.rs` alone. The pages in
//! `storage/docs/format/parquet-layout.md` describe it.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryBuilder, RecordBatch, RecordBatchOptions, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimestampNanosecondType};

use crate::schema::stored_schema;
use crate::{Signal, StorageError};

/// Width of the binary form of an id column, if it is one.
pub fn id_width(column: &str) -> Option<i32> {
    match column {
        "trace_id" => Some(16),
        "span_id" | "parent_span_id" => Some(8),
        _ => None,
    }
}

/// `signal`'s stored schema with `nullable` columns made nullable and id columns binary.
fn file_fields(signal: Signal, nullable: &[&str]) -> SchemaRef {
    let base = stored_schema(signal);
    Arc::new(Schema::new(
        base.fields()
            .iter()
            .map(|f| {
                if let Some(w) = id_width(f.name()) {
                    Arc::new(Field::new(f.name(), DataType::FixedSizeBinary(w), true))
                } else if nullable.contains(&f.name().as_str()) {
                    Arc::new(Field::new(f.name(), f.data_type().clone(), true))
                } else {
                    Arc::clone(f)
                }
            })
            .collect::<Vec<_>>(),
    ))
}

static LOGS_FILE: LazyLock<SchemaRef> =
    LazyLock::new(|| file_fields(Signal::Logs, &["observed_timestamp"]));
static SPANS_FILE: LazyLock<SchemaRef> =
    LazyLock::new(|| file_fields(Signal::Spans, &["end_time"]));

/// Hex ids to binary; "" (no id) and anything that is not `width` bytes of hex become
/// null (ingest validates ids, so the latter does not happen).
fn hex_to_binary(column: &ArrayRef, width: i32) -> Result<ArrayRef, StorageError> {
    let strings = column.as_string::<i32>();
    let mut b = FixedSizeBinaryBuilder::with_capacity(strings.len(), width);
    let mut buf = vec![0u8; width as usize];
    for i in 0..strings.len() {
        if !strings.is_null(i) && hex_decode(strings.value(i), &mut buf) {
            b.append_value(&buf)?;
        } else {
            b.append_null();
        }
    }
    Ok(Arc::new(b.finish()))
}

fn hex_decode(s: &str, out: &mut [u8]) -> bool {
    if s.len() != out.len() * 2 {
        return false;
    }
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
            _ => return false,
        }
    }
    true
}

/// Binary ids back to lowercase hex ("" for null). Written straight into the string
/// array's buffers: a builder per row cost ~40 ns an id, most of a trace-id scan.
pub fn binary_to_hex(column: &ArrayRef) -> ArrayRef {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bin = column.as_fixed_size_binary();
    let width = bin.value_length().max(0) as usize;
    let mut values = Vec::with_capacity(bin.len() * width * 2);
    for i in (0..bin.len()).filter(|&i| !bin.is_null(i)) {
        for byte in bin.value(i) {
            values.push(HEX[usize::from(byte >> 4)]);
            values.push(HEX[usize::from(byte & 0xf)]);
        }
    }
    // Like a builder, the offsets overflow only past 2 GiB of hex in one batch.
    let lengths = (0..bin.len()).map(|i| if bin.is_null(i) { 0 } else { width * 2 });
    Arc::new(StringArray::new(
        arrow::buffer::OffsetBuffer::from_lengths(lengths),
        arrow::buffer::Buffer::from(values),
        None,
    ))
}

/// Replaces the id columns of a memory-layout batch by their binary form.
fn ids_to_binary(columns: &mut [ArrayRef], schema: &Schema) -> Result<(), StorageError> {
    for (i, f) in schema.fields().iter().enumerate() {
        if let Some(w) = id_width(f.name()) {
            columns[i] = hex_to_binary(&columns[i], w)?;
        }
    }
    Ok(())
}

/// Columns added to a schema after data was written without them. A file or WAL record
/// that lacks one reads as if every row held an empty map there.
pub const ADDED_COLUMNS: &[&str] = &["attribute_types", "resource_types"];

/// `n` empty string maps.
fn empty_maps(n: usize) -> ArrayRef {
    let mut b = arrow::array::MapBuilder::new(
        None,
        arrow::array::StringBuilder::new(),
        arrow::array::StringBuilder::new(),
    );
    for _ in 0..n {
        // Appending an entry-less map to a fresh builder cannot fail.
        let _ = b.append(true);
    }
    Arc::new(b.finish())
}

/// The signal whose file layout `schema` is (told apart by a column only it has).
pub fn signal_of(schema: &Schema) -> Option<Signal> {
    let has = |c: &str| schema.index_of(c).is_ok();
    if has("duration_ns") {
        Some(Signal::Spans)
    } else if has("severity_number") {
        Some(Signal::Logs)
    } else if has("series_id") {
        Some(Signal::Metrics)
    } else {
        None
    }
}

/// The schema of `wanted` columns in that order: `read`'s fields, and for an
/// [`ADDED_COLUMNS`] field `read` lacks, a nullable string map.
pub fn with_added(read: &Schema, wanted: &[&str]) -> SchemaRef {
    Arc::new(Schema::new(
        wanted
            .iter()
            .map(|name| match read.field_with_name(name) {
                Ok(f) => f.clone(),
                Err(_) => Field::new(*name, empty_maps(0).data_type().clone(), true),
            })
            .collect::<Vec<_>>(),
    ))
}

/// `batch` with `target`'s fields in `target`'s order: its own columns, and an empty
/// map for each [`ADDED_COLUMNS`] field it lacks. Any other missing field is an error.
pub fn fill_added(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, StorageError> {
    if batch.schema().fields() == target.fields() {
        return Ok(batch.clone());
    }
    let columns = target
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) => Ok(Arc::clone(c)),
            None if ADDED_COLUMNS.contains(&f.name().as_str()) => Ok(empty_maps(batch.num_rows())),
            None => Err(StorageError::Arrow(arrow::error::ArrowError::SchemaError(
                format!("batch has no {} column", f.name()),
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(target),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// The schema of a signal's Parquet files.
pub fn file_schema(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Metrics => super::runs::schema(),
        Signal::Logs => LOGS_FILE.clone(),
        Signal::Spans => SPANS_FILE.clone(),
    }
}

/// Whether `batch` is already in the file layout (compaction inputs are).
fn is_file_layout(signal: Signal, batch: &RecordBatch) -> bool {
    batch.schema().fields() == file_schema(signal).fields()
}

/// Converts a sorted memory-layout batch to the file layout (samples runs in `order`).
pub fn to_file(
    signal: Signal,
    batch: RecordBatch,
    order: super::runs::SeriesOrder<'_>,
) -> Result<RecordBatch, StorageError> {
    if is_file_layout(signal, &batch) {
        return Ok(batch);
    }
    match signal {
        Signal::Metrics => super::runs::encode(&batch, order),
        Signal::Spans => {
            let idx = batch
                .schema()
                .index_of("end_time")
                .map_err(StorageError::Arrow)?;
            let mut columns = batch.columns().to_vec();
            columns[idx] =
                Arc::new(TimestampNanosecondArray::new_null(batch.num_rows()).with_timezone("UTC"));
            ids_to_binary(&mut columns, &batch.schema())?;
            Ok(RecordBatch::try_new(file_schema(signal), columns)?)
        }
        Signal::Logs => {
            let missing = |c: &str| {
                StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
                    "logs batch has no {c} column"
                )))
            };
            let ts = batch
                .column_by_name("timestamp")
                .ok_or_else(|| missing("timestamp"))?
                .as_primitive::<TimestampNanosecondType>();
            let obs_idx = batch
                .schema()
                .index_of("observed_timestamp")
                .map_err(StorageError::Arrow)?;
            let obs = batch
                .column(obs_idx)
                .as_primitive::<TimestampNanosecondType>();
            let observed: TimestampNanosecondArray = (0..batch.num_rows())
                .map(|i| {
                    let o = (!obs.is_null(i)).then(|| obs.value(i));
                    if o == Some(ts.value(i)) { None } else { o }
                })
                .collect::<TimestampNanosecondArray>()
                .with_timezone("UTC");
            let mut columns = batch.columns().to_vec();
            columns[obs_idx] = Arc::new(observed);
            ids_to_binary(&mut columns, &batch.schema())?;
            Ok(RecordBatch::try_new(file_schema(signal), columns)?)
        }
    }
}

/// The file columns a memory column is rebuilt from, for the columns the file layout
/// stores differently (`None`: stored as it is).
pub fn file_columns_of(signal: Signal, column: &str) -> Option<&'static [&'static str]> {
    match (signal, column) {
        (Signal::Metrics, "series_id") => Some(&["series_id", "samples"]),
        (Signal::Metrics, "timestamp") => Some(&["times", "samples"]),
        (Signal::Metrics, "value") => Some(&["values", "samples"]),
        (Signal::Logs, "observed_timestamp") => Some(&["observed_timestamp", "timestamp"]),
        (Signal::Spans, "end_time") => Some(&["start_time", "duration_ns"]),
        (Signal::Spans | Signal::Logs, "trace_id") => Some(&["trace_id"]),
        (Signal::Spans | Signal::Logs, "span_id") => Some(&["span_id"]),
        (Signal::Spans, "parent_span_id") => Some(&["parent_span_id"]),
        _ => None,
    }
}

/// The file columns a read needs to know how many memory rows a file batch holds,
/// whatever else it projects (a samples run is many rows): `SELECT count(*)`.
pub fn count_columns(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Metrics => &["samples"],
        Signal::Logs | Signal::Spans => &[],
    }
}

/// A file batch in the memory layout, with `schema`'s columns (a projection of the
/// stored schema); the batch must hold the file columns they need
/// ([`file_columns_of`]).
pub fn to_memory(
    signal: Signal,
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, StorageError> {
    let column = |name: &str| -> Result<ArrayRef, StorageError> {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| StorageError::Layout(format!("file batch has no {name} column")))
    };
    if signal == Signal::Metrics {
        return super::runs::explode(batch, schema);
    }
    let n = batch.num_rows();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let array: ArrayRef = match (signal, field.name().as_str()) {
            (Signal::Logs, "observed_timestamp") => {
                let obs = column("observed_timestamp")?;
                let ts = column("timestamp")?;
                let (obs, ts) = (
                    obs.as_primitive::<TimestampNanosecondType>(),
                    ts.as_primitive::<TimestampNanosecondType>(),
                );
                let values: TimestampNanosecondArray = (0..n)
                    .map(|i| {
                        Some(if obs.is_null(i) {
                            ts.value(i)
                        } else {
                            obs.value(i)
                        })
                    })
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC");
                Arc::new(values)
            }
            (Signal::Spans, "end_time") => {
                let start = column("start_time")?;
                let dur = column("duration_ns")?;
                let (start, dur) = (
                    start.as_primitive::<TimestampNanosecondType>(),
                    dur.as_primitive::<Int64Type>(),
                );
                let values: TimestampNanosecondArray = (0..n)
                    .map(|i| Some(start.value(i).saturating_add(dur.value(i))))
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC");
                Arc::new(values)
            }
            (_, name) if id_width(name).is_some() => binary_to_hex(&column(name)?),
            (_, name) => column(name)?,
        };
        // A rebuilt string column where the reader wants views (SQL's `Utf8View`).
        let array = if array.data_type() == field.data_type() {
            array
        } else {
            arrow::compute::cast(&array, field.data_type())?
        };
        columns.push(array);
    }
    // `SELECT count(*)` projects no column at all: keep the row count.
    let options = RecordBatchOptions::new().with_row_count(Some(n));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}
