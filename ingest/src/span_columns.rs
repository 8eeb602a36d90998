//! A `spans` batch (the ingest schema, `osprey_storage::schema::spans_batch`) read span
//! by span: what span metrics and the service graph need of each acknowledged span,
//! borrowed from the batch that is stored, so no row is built for them.

use arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use arrow::datatypes::TimestampNanosecondType;

/// The columns of a spans batch, by name.
pub struct SpanColumns<'a> {
    service: &'a StringArray,
    name: &'a StringArray,
    kind: &'a StringArray,
    status: &'a StringArray,
    trace_id: &'a StringArray,
    span_id: &'a StringArray,
    parent_span_id: &'a StringArray,
    start: &'a [i64],
    end: &'a [i64],
    attributes: &'a MapArray,
    resource: &'a MapArray,
}

impl<'a> SpanColumns<'a> {
    /// `None` when `batch` lacks a column of the spans ingest schema or has it with
    /// another type.
    pub fn new(batch: &'a RecordBatch) -> Option<Self> {
        let text = |name: &str| batch.column_by_name(name)?.as_string_opt::<i32>();
        let time = |name: &str| {
            let a = batch
                .column_by_name(name)?
                .as_primitive_opt::<TimestampNanosecondType>()?;
            Some(a.values().as_ref())
        };
        let map = |name: &str| batch.column_by_name(name)?.as_map_opt();
        Some(Self {
            service: text("service")?,
            name: text("name")?,
            kind: text("kind")?,
            status: text("status_code")?,
            trace_id: text("trace_id")?,
            span_id: text("span_id")?,
            parent_span_id: text("parent_span_id")?,
            start: time("start_time")?,
            end: time("end_time")?,
            attributes: map("attributes")?,
            resource: map("resource")?,
        })
    }

    pub fn len(&self) -> usize {
        self.service.len()
    }

    pub fn service(&self, i: usize) -> &'a str {
        self.service.value(i)
    }

    pub fn name(&self, i: usize) -> &'a str {
        self.name.value(i)
    }

    /// `SPAN_KIND_*`.
    pub fn kind(&self, i: usize) -> &'a str {
        self.kind.value(i)
    }

    /// `STATUS_CODE_*`.
    pub fn status(&self, i: usize) -> &'a str {
        self.status.value(i)
    }

    pub fn trace_id(&self, i: usize) -> &'a str {
        self.trace_id.value(i)
    }

    pub fn span_id(&self, i: usize) -> &'a str {
        self.span_id.value(i)
    }

    /// Empty for a root span.
    pub fn parent_span_id(&self, i: usize) -> &'a str {
        self.parent_span_id.value(i)
    }

    pub fn end_ns(&self, i: usize) -> i64 {
        self.end[i]
    }

    /// The span's duration, never negative.
    pub fn duration_ns(&self, i: usize) -> i64 {
        (self.end[i] - self.start[i]).max(0)
    }

    /// The value of the span attribute `key`, the first if it repeats.
    pub fn attribute(&self, i: usize, key: &str) -> Option<&'a str> {
        lookup(self.attributes, i, key)
    }

    /// The first non-empty value of the span attribute `key`.
    pub fn non_empty_attribute(&self, i: usize, key: &str) -> Option<&'a str> {
        lookup_where(self.attributes, i, key, |v| !v.is_empty())
    }

    /// The value of the resource attribute `key`, the first if it repeats.
    pub fn resource_attribute(&self, i: usize, key: &str) -> Option<&'a str> {
        lookup(self.resource, i, key)
    }
}

fn lookup<'a>(map: &'a MapArray, i: usize, key: &str) -> Option<&'a str> {
    lookup_where(map, i, key, |_| true)
}

/// The first value of `key` in row `i` of `map` that `keep` accepts.
fn lookup_where<'a>(
    map: &'a MapArray,
    i: usize,
    key: &str,
    keep: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    let offsets = map.value_offsets();
    let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
    let keys = map.keys().as_string_opt::<i32>()?;
    let values = map.values().as_string_opt::<i32>()?;
    (from..to)
        .filter(|&j| keys.value(j) == key)
        .map(|j| values.value(j))
        .find(|v| keep(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_storage::schema::{SpanRow, spans_batch};

    #[test]
    fn reads_each_span_of_a_batch() {
        let rows = vec![
            SpanRow {
                service: "api".into(),
                name: "GET /".into(),
                kind: "SPAN_KIND_SERVER".into(),
                status_code: "STATUS_CODE_ERROR".into(),
                trace_id: "aa".into(),
                span_id: "01".into(),
                start_time_ns: 100,
                end_time_ns: 350,
                attributes: vec![("k".into(), "v1".into()), ("k".into(), "v2".into())],
                resource: vec![("host".into(), "h1".into())],
                ..Default::default()
            },
            SpanRow {
                service: "db".into(),
                parent_span_id: "01".into(),
                start_time_ns: 500,
                end_time_ns: 400,
                ..Default::default()
            },
        ];
        let batch = spans_batch(&rows).expect("a spans batch");
        let c = SpanColumns::new(&batch).expect("the spans schema");
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c.service(0), c.name(0), c.kind(0), c.status(0)),
            ("api", "GET /", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR")
        );
        assert_eq!(
            (c.trace_id(0), c.span_id(0), c.parent_span_id(0)),
            ("aa", "01", "")
        );
        assert_eq!((c.duration_ns(0), c.end_ns(0)), (250, 350));
        assert_eq!(c.attribute(0, "k"), Some("v1"));
        assert_eq!(c.non_empty_attribute(0, "k"), Some("v1"));
        assert_eq!(c.resource_attribute(0, "host"), Some("h1"));
        assert_eq!(c.attribute(0, "host"), None);
        assert_eq!((c.service(1), c.parent_span_id(1)), ("db", "01"));
        assert_eq!(
            c.duration_ns(1),
            0,
            "an end before the start counts as zero"
        );
        assert_eq!(c.attribute(1, "k"), None);
    }

    #[test]
    fn another_schema_is_not_read_as_spans() {
        let logs = osprey_storage::schema::logs_batch(&[]).expect("a logs batch");
        assert!(SpanColumns::new(&logs).is_none());
    }
}
