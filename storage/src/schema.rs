//! The three tables of DESIGN §3 as Arrow schemas, and typed row structs that build
//! their record batches, so that every producer (OTLP, remote_write, the demo) agrees on
//! column names, types and order.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, MapBuilder, RecordBatch, StringBuilder,
    TimestampNanosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::{Signal, StorageError};

/// Attributes, resource attributes and labels: string → string, in insertion order.
pub type Attributes = Vec<(String, String)>;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
}

fn map_type() -> DataType {
    use arrow::array::Array;
    map_builder().finish().data_type().clone()
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

static LOGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("service"),
        Field::new("timestamp", ts_type(), false),
        Field::new("observed_timestamp", ts_type(), false),
        utf8("severity_text"),
        Field::new("severity_number", DataType::Int32, false),
        utf8("body"),
        utf8("trace_id"),
        utf8("span_id"),
        Field::new("attributes", map_type(), false),
        Field::new("resource", map_type(), false),
        utf8("scope"),
    ]))
});

static SPANS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("service"),
        Field::new("start_time", ts_type(), false),
        utf8("trace_id"),
        utf8("span_id"),
        utf8("parent_span_id"),
        utf8("name"),
        utf8("kind"),
        Field::new("end_time", ts_type(), false),
        Field::new("duration_ns", DataType::Int64, false),
        utf8("status_code"),
        utf8("status_message"),
        Field::new("attributes", map_type(), false),
        Field::new("resource", map_type(), false),
        utf8("events"),
        utf8("links"),
        utf8("scope"),
        // The OTLP type of each attribute that is not a string (`int`, `double`,
        // `bool`, `bytes`, `array`, `kvlist`), so trace renderings give values their
        // type back. Added after the first files: older files and WAL records read as
        // empty maps (`layout::ADDED_COLUMNS`), hence nullable.
        Field::new("attribute_types", map_type(), true),
        Field::new("resource_types", map_type(), true),
    ]))
});

static METRICS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("timestamp", ts_type(), false),
        utf8("metric"),
        Field::new("labels", map_type(), false),
        Field::new("value", DataType::Float64, false),
    ]))
});

static SERIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        utf8("metric"),
        Field::new("labels", map_type(), false),
    ]))
});

/// The series table: one row per series of the series index.
pub fn series_schema() -> SchemaRef {
    SERIES.clone()
}

/// Builds a `series` batch.
pub fn series_batch(
    series: &[std::sync::Arc<crate::series::Series>],
) -> Result<RecordBatch, StorageError> {
    let mut sid = UInt64Builder::with_capacity(series.len());
    let mut metric = StringBuilder::new();
    let mut labels = map_builder();
    for s in series {
        sid.append_value(s.id);
        metric.append_value(&s.metric);
        append_map(&mut labels, &s.labels);
    }
    RecordBatch::try_new(
        series_schema(),
        vec![
            Arc::new(sid.finish()),
            Arc::new(metric.finish()),
            Arc::new(labels.finish()),
        ],
    )
    .map_err(StorageError::Arrow)
}

/// What the metrics table keeps per sample: labels live once per series in the
/// series index, not once per sample.
static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt64, false),
        Field::new("timestamp", ts_type(), false),
        Field::new("value", DataType::Float64, false),
    ]))
});

/// The string columns of `signal` stored as `Dictionary(Int32, Utf8)` (memtables and
/// files; ingest batches and WAL records hold strings): span kinds and status codes,
/// a few fixed values each. A filter, `CASE` or group on them then compares the few
/// dictionary values per batch instead of a 16–17-byte string per row (RED per
/// service −25 %, benches/README.md), and Parquet stores them as a dictionary anyway.
pub fn dictionary_columns(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Spans => &["kind", "status_code"],
        Signal::Logs | Signal::Metrics => &[],
    }
}

/// The type of a [`dictionary_columns`] column.
pub fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

static SPANS_STORED: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields: Vec<Field> = SPANS
        .fields()
        .iter()
        .map(|f| {
            if dictionary_columns(Signal::Spans).contains(&f.name().as_str()) {
                f.as_ref().clone().with_data_type(dictionary_type())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
});

/// The schema batches of a signal are stored with (memtables and files): the ingest
/// schema, except that metrics samples drop the metric name and labels, and
/// [`dictionary_columns`] are dictionaries.
pub fn stored_schema(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Metrics => SAMPLES.clone(),
        Signal::Spans => SPANS_STORED.clone(),
        Signal::Logs => LOGS.clone(),
    }
}

/// A batch of the ingest schema projected to the stored schema (a WAL record written
/// before a column was added gets it, empty).
pub fn to_stored(signal: Signal, batch: &RecordBatch) -> Result<RecordBatch, StorageError> {
    if signal == Signal::Spans {
        let full = crate::files::layout::fill_added(batch, &schema(signal))?;
        let mut columns = full.columns().to_vec();
        for name in dictionary_columns(signal) {
            let i = full.schema().index_of(name)?;
            columns[i] = arrow::compute::cast(&columns[i], &dictionary_type())?;
        }
        return Ok(RecordBatch::try_new(stored_schema(signal), columns)?);
    }
    if signal != Signal::Metrics {
        return crate::files::layout::fill_added(batch, &schema(signal));
    }
    let stored = stored_schema(signal);
    let columns = stored
        .fields()
        .iter()
        .map(|f| {
            batch.column_by_name(f.name()).cloned().ok_or_else(|| {
                StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
                    "metrics batch has no {} column",
                    f.name()
                )))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(stored, columns)?)
}

/// A batch of the stored metrics schema from its columns (equal lengths).
pub fn stored_samples(
    ids: Vec<u64>,
    times_ns: Vec<i64>,
    values: Vec<f64>,
) -> Result<RecordBatch, StorageError> {
    Ok(RecordBatch::try_new(
        stored_schema(Signal::Metrics),
        vec![
            Arc::new(arrow::array::UInt64Array::from(ids)),
            Arc::new(arrow::array::TimestampNanosecondArray::from(times_ns).with_timezone("UTC")),
            Arc::new(arrow::array::Float64Array::from(values)),
        ],
    )?)
}

/// The columns of a stored metrics batch, row by row: series ids, times (ns), values.
pub type SampleColumns<'a> = (&'a [u64], &'a [i64], &'a [f64]);

/// The columns of a stored metrics batch ([`stored_samples`] read back).
pub fn stored_sample_columns(batch: &RecordBatch) -> Result<SampleColumns<'_>, StorageError> {
    fn values<'a, T: arrow::datatypes::ArrowPrimitiveType>(
        batch: &'a RecordBatch,
        name: &str,
    ) -> Result<&'a [T::Native], StorageError> {
        use arrow::array::AsArray;
        batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<T>())
            .map(|a| &a.values()[..])
            .ok_or_else(|| StorageError::Layout(format!("samples batch has no {name} column")))
    }
    use arrow::datatypes::{Float64Type, TimestampNanosecondType, UInt64Type};
    Ok((
        values::<UInt64Type>(batch, "series_id")?,
        values::<TimestampNanosecondType>(batch, "timestamp")?,
        values::<Float64Type>(batch, "value")?,
    ))
}

/// The Arrow schema of a signal's batches as ingest produces them (and the WAL keeps).
pub fn schema(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Logs => LOGS.clone(),
        Signal::Spans => SPANS.clone(),
        Signal::Metrics => METRICS.clone(),
    }
}

/// The columns a signal's files are sorted by (DESIGN §3).
pub fn sort_columns(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Logs => &["service", "timestamp"],
        Signal::Spans => &["service", "start_time"],
        Signal::Metrics => &["series_id", "timestamp"],
    }
}

/// One log record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRow {
    pub service: String,
    pub timestamp_ns: i64,
    pub observed_timestamp_ns: i64,
    pub severity_text: String,
    pub severity_number: i32,
    pub body: String,
    /// Lowercase hex, empty when absent.
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Attributes,
    pub resource: Attributes,
    pub scope: String,
}

/// One span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRow {
    pub service: String,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    /// `SPAN_KIND_*`.
    pub kind: String,
    /// `STATUS_CODE_UNSET|OK|ERROR`.
    pub status_code: String,
    pub status_message: String,
    pub attributes: Attributes,
    pub resource: Attributes,
    /// JSON array of `{time_unix_nano, name, attributes}`.
    pub events: String,
    /// JSON array of `{trace_id, span_id, attributes}`.
    pub links: String,
    pub scope: String,
    /// Key → OTLP type of the attributes that are not strings.
    pub attribute_types: Attributes,
    /// Key → OTLP type of the resource attributes that are not strings.
    pub resource_types: Attributes,
}

/// One sample of one series. `labels` exclude `__name__`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleRow {
    pub metric: String,
    pub labels: Attributes,
    pub timestamp_ns: i64,
    pub value: f64,
}

impl SampleRow {
    /// A stable id of the series: FNV-1a over the metric name and the sorted labels.
    pub fn series_id(&self) -> u64 {
        // Senders mostly give labels sorted (remote_write requires it): no copy then.
        let sorted_copy;
        let labels: &[(String, String)] = if self.labels.is_sorted() {
            &self.labels
        } else {
            let mut l = self.labels.clone();
            l.sort();
            sorted_copy = l;
            &sorted_copy
        };
        let mut h: u64 = 0xcbf29ce484222325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x100000001b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x100000001b3);
        };
        eat(self.metric.as_bytes());
        for (k, v) in labels {
            eat(k.as_bytes());
            eat(v.as_bytes());
        }
        h
    }
}

fn append_map(b: &mut MapBuilder<StringBuilder, StringBuilder>, attrs: &Attributes) {
    for (k, v) in attrs {
        b.keys().append_value(k);
        b.values().append_value(v);
    }
    // Appending an entry can only fail on mismatched key/value counts, which the loop
    // above rules out; an error here is therefore reported, not unwrapped.
    let _ = b.append(true);
}

fn batch(signal: Signal, columns: Vec<ArrayRef>) -> Result<RecordBatch, StorageError> {
    RecordBatch::try_new(schema(signal), columns).map_err(StorageError::Arrow)
}

/// Builds a `logs` batch.
pub fn logs_batch(rows: &[LogRow]) -> Result<RecordBatch, StorageError> {
    let n = rows.len();
    let mut service = StringBuilder::with_capacity(n, n * 8);
    let mut ts = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut obs = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut sev_text = StringBuilder::new();
    let mut sev_num = Int32Builder::with_capacity(n);
    let mut body = StringBuilder::with_capacity(n, n * 64);
    let mut trace = StringBuilder::new();
    let mut span = StringBuilder::new();
    let mut attrs = map_builder();
    let mut res = map_builder();
    let mut scope = StringBuilder::new();
    for r in rows {
        service.append_value(&r.service);
        ts.append_value(r.timestamp_ns);
        obs.append_value(r.observed_timestamp_ns);
        sev_text.append_value(&r.severity_text);
        sev_num.append_value(r.severity_number);
        body.append_value(&r.body);
        trace.append_value(&r.trace_id);
        span.append_value(&r.span_id);
        append_map(&mut attrs, &r.attributes);
        append_map(&mut res, &r.resource);
        scope.append_value(&r.scope);
    }
    batch(
        Signal::Logs,
        vec![
            Arc::new(service.finish()),
            Arc::new(ts.finish()),
            Arc::new(obs.finish()),
            Arc::new(sev_text.finish()),
            Arc::new(sev_num.finish()),
            Arc::new(body.finish()),
            Arc::new(trace.finish()),
            Arc::new(span.finish()),
            Arc::new(attrs.finish()),
            Arc::new(res.finish()),
            Arc::new(scope.finish()),
        ],
    )
}

/// Builds a `spans` batch.
pub fn spans_batch(rows: &[SpanRow]) -> Result<RecordBatch, StorageError> {
    let mut b = SpansBuilder::with_capacity(rows.len());
    for r in rows {
        for (k, v) in &r.attributes {
            b.attribute(k, v);
        }
        for (k, v) in &r.resource {
            b.resource(k, v);
        }
        for (k, t) in &r.attribute_types {
            b.attribute_type(k, t);
        }
        for (k, t) in &r.resource_types {
            b.resource_type(k, t);
        }
        b.end_span(&SpanFields {
            service: &r.service,
            start_time_ns: r.start_time_ns,
            end_time_ns: r.end_time_ns,
            trace_id: &r.trace_id,
            span_id: &r.span_id,
            parent_span_id: &r.parent_span_id,
            name: &r.name,
            kind: &r.kind,
            status_code: &r.status_code,
            status_message: &r.status_message,
            events: &r.events,
            links: &r.links,
            scope: &r.scope,
        });
    }
    b.finish()
}

/// The scalar fields of one span, as [`SpanRow`] has them, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct SpanFields<'a> {
    pub service: &'a str,
    pub start_time_ns: i64,
    pub end_time_ns: i64,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub status_code: &'a str,
    pub status_message: &'a str,
    pub events: &'a str,
    pub links: &'a str,
    pub scope: &'a str,
}

/// The columns of a `spans` batch, built span by span from borrowed values: a span's
/// map entries first ([`Self::attribute`] and the like), then [`Self::end_span`]. What
/// [`spans_batch`] builds from rows, and OTLP ingest from the wire with no row.
pub struct SpansBuilder {
    service: StringBuilder,
    start: TimestampNanosecondBuilder,
    trace: StringBuilder,
    span: StringBuilder,
    parent: StringBuilder,
    name: StringBuilder,
    kind: StringBuilder,
    end: TimestampNanosecondBuilder,
    dur: Int64Builder,
    status: StringBuilder,
    status_msg: StringBuilder,
    attrs: MapBuilder<StringBuilder, StringBuilder>,
    res: MapBuilder<StringBuilder, StringBuilder>,
    events: StringBuilder,
    links: StringBuilder,
    scope: StringBuilder,
    attr_types: MapBuilder<StringBuilder, StringBuilder>,
    res_types: MapBuilder<StringBuilder, StringBuilder>,
}

impl SpansBuilder {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            service: StringBuilder::new(),
            start: TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"),
            trace: StringBuilder::with_capacity(n, n * 32),
            span: StringBuilder::with_capacity(n, n * 16),
            parent: StringBuilder::with_capacity(n, n * 16),
            name: StringBuilder::new(),
            kind: StringBuilder::new(),
            end: TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC"),
            dur: Int64Builder::with_capacity(n),
            status: StringBuilder::new(),
            status_msg: StringBuilder::new(),
            attrs: map_builder(),
            res: map_builder(),
            events: StringBuilder::new(),
            links: StringBuilder::new(),
            scope: StringBuilder::new(),
            attr_types: map_builder(),
            res_types: map_builder(),
        }
    }

    /// Spans ended so far.
    pub fn len(&self) -> usize {
        arrow::array::ArrayBuilder::len(&self.dur)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An attribute of the span being built.
    pub fn attribute(&mut self, key: &str, value: &str) {
        self.attrs.keys().append_value(key);
        self.attrs.values().append_value(value);
    }

    /// A resource attribute of the span being built.
    pub fn resource(&mut self, key: &str, value: &str) {
        self.res.keys().append_value(key);
        self.res.values().append_value(value);
    }

    /// The OTLP type of an attribute that is not a string.
    pub fn attribute_type(&mut self, key: &str, type_name: &str) {
        self.attr_types.keys().append_value(key);
        self.attr_types.values().append_value(type_name);
    }

    /// The OTLP type of a resource attribute that is not a string.
    pub fn resource_type(&mut self, key: &str, type_name: &str) {
        self.res_types.keys().append_value(key);
        self.res_types.values().append_value(type_name);
    }

    /// Ends the span: its fields, and the map entries given since the last span.
    pub fn end_span(&mut self, f: &SpanFields<'_>) {
        self.service.append_value(f.service);
        self.start.append_value(f.start_time_ns);
        self.trace.append_value(f.trace_id);
        self.span.append_value(f.span_id);
        self.parent.append_value(f.parent_span_id);
        self.name.append_value(f.name);
        self.kind.append_value(f.kind);
        self.end.append_value(f.end_time_ns);
        self.dur
            .append_value(f.end_time_ns.saturating_sub(f.start_time_ns));
        self.status.append_value(f.status_code);
        self.status_msg.append_value(f.status_message);
        self.events.append_value(f.events);
        self.links.append_value(f.links);
        self.scope.append_value(f.scope);
        // A map entry fails only on mismatched key and value counts, which the
        // methods above rule out; an error here is reported, not unwrapped.
        for m in [
            &mut self.attrs,
            &mut self.res,
            &mut self.attr_types,
            &mut self.res_types,
        ] {
            let _ = m.append(true);
        }
    }

    pub fn finish(mut self) -> Result<RecordBatch, StorageError> {
        batch(
            Signal::Spans,
            vec![
                Arc::new(self.service.finish()),
                Arc::new(self.start.finish()),
                Arc::new(self.trace.finish()),
                Arc::new(self.span.finish()),
                Arc::new(self.parent.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.end.finish()),
                Arc::new(self.dur.finish()),
                Arc::new(self.status.finish()),
                Arc::new(self.status_msg.finish()),
                Arc::new(self.attrs.finish()),
                Arc::new(self.res.finish()),
                Arc::new(self.events.finish()),
                Arc::new(self.links.finish()),
                Arc::new(self.scope.finish()),
                Arc::new(self.attr_types.finish()),
                Arc::new(self.res_types.finish()),
            ],
        )
    }
}

/// Builds a `metrics` batch.
pub fn samples_batch(rows: &[SampleRow]) -> Result<RecordBatch, StorageError> {
    samples_batch_with_ids(rows, None)
}

/// [`samples_batch`] with the rows' series ids already computed (`ids[i]` is
/// `rows[i].series_id()`), as the ingest gate has them.
pub fn samples_batch_with_ids(
    rows: &[SampleRow],
    ids: Option<&[u64]>,
) -> Result<RecordBatch, StorageError> {
    let n = rows.len();
    let mut sid = UInt64Builder::with_capacity(n);
    let mut ts = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut metric = StringBuilder::new();
    let mut labels = map_builder();
    let mut value = Float64Builder::with_capacity(n);
    for (i, r) in rows.iter().enumerate() {
        sid.append_value(match ids.and_then(|ids| ids.get(i)) {
            Some(&id) => id,
            None => r.series_id(),
        });
        ts.append_value(r.timestamp_ns);
        metric.append_value(&r.metric);
        append_map(&mut labels, &r.labels);
        value.append_value(r.value);
    }
    batch(
        Signal::Metrics,
        vec![
            Arc::new(sid.finish()),
            Arc::new(ts.finish()),
            Arc::new(metric.finish()),
            Arc::new(labels.finish()),
            Arc::new(value.finish()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_match_schemas() {
        let l = logs_batch(&[LogRow {
            service: "a".into(),
            attributes: vec![("k".into(), "v".into())],
            ..Default::default()
        }])
        .unwrap();
        assert_eq!(l.num_rows(), 1);
        let s = spans_batch(&[SpanRow::default()]).unwrap();
        assert_eq!(s.schema(), schema(Signal::Spans));
        let m = samples_batch(&[SampleRow {
            metric: "up".into(),
            value: 1.0,
            ..Default::default()
        }])
        .unwrap();
        assert_eq!(m.num_rows(), 1);
    }

    #[test]
    fn series_id_ignores_label_order() {
        let a = SampleRow {
            metric: "m".into(),
            labels: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            ..Default::default()
        };
        let mut b = a.clone();
        b.labels.reverse();
        assert_eq!(a.series_id(), b.series_id());
        b.labels[0].1 = "3".into();
        assert_ne!(a.series_id(), b.series_id());
    }
}
