//! How rows are laid out in files, where that differs from memory, and why:
//!
//! - metrics: values in the lossless decimal layout of `decimal.rs`;
//! - logs: `observed_timestamp` is null when it equals `timestamp` (OTLP log bridges
//!   and the Loki/NDJSON paths set both alike), so the column costs next to nothing
//!   instead of a second full timestamp (measured: 4.2 B/line on the logs workload);
//! - spans: `end_time` is always null: it is `start_time + duration_ns` (measured:
//!   3.75 B/span on the traces workload).
//!
//! `to_file` applies the layout when a file is written; queries read files through
//! `file_schema` and rebuild the memory columns (see `osprey-query`'s session).

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, AsArray, RecordBatch, TimestampNanosecondArray};
use arrow::datatypes::{Field, Schema, SchemaRef, TimestampNanosecondType};

use crate::schema::stored_schema;
use crate::{Signal, StorageError};

/// `signal`'s stored schema with `column` made nullable.
fn with_nullable(signal: Signal, column: &str) -> SchemaRef {
    let base = stored_schema(signal);
    Arc::new(Schema::new(
        base.fields()
            .iter()
            .map(|f| {
                if f.name() == column {
                    Arc::new(Field::new(f.name(), f.data_type().clone(), true))
                } else {
                    Arc::clone(f)
                }
            })
            .collect::<Vec<_>>(),
    ))
}

static LOGS_FILE: LazyLock<SchemaRef> =
    LazyLock::new(|| with_nullable(Signal::Logs, "observed_timestamp"));
static SPANS_FILE: LazyLock<SchemaRef> = LazyLock::new(|| with_nullable(Signal::Spans, "end_time"));

/// The schema of a signal's Parquet files.
pub fn file_schema(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Metrics => crate::decimal::file_samples_schema(),
        Signal::Logs => LOGS_FILE.clone(),
        Signal::Spans => SPANS_FILE.clone(),
    }
}

/// Whether `batch` is already in the file layout (compaction inputs are).
fn is_file_layout(signal: Signal, batch: &RecordBatch) -> bool {
    batch.schema().fields() == file_schema(signal).fields()
}

/// Converts a sorted memory-layout batch to the file layout.
pub fn to_file(signal: Signal, batch: RecordBatch) -> Result<RecordBatch, StorageError> {
    if is_file_layout(signal, &batch) {
        return Ok(batch);
    }
    match signal {
        Signal::Metrics => crate::decimal::encode(&batch),
        Signal::Spans => {
            let idx = batch
                .schema()
                .index_of("end_time")
                .map_err(StorageError::Arrow)?;
            let mut columns = batch.columns().to_vec();
            columns[idx] =
                Arc::new(TimestampNanosecondArray::new_null(batch.num_rows()).with_timezone("UTC"));
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
            Ok(RecordBatch::try_new(file_schema(signal), columns)?)
        }
    }
}
