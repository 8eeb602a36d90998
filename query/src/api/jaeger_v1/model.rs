//! Jaeger's v1 JSON model (what Grafana's Jaeger data source and Jaeger's query
//! service read), as typed serde structs, and the rendering of a trace's span rows
//! into it. Field names and types follow Jaeger's `model/json` package.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use serde::Serialize;
use serde_json::Value;

use crate::QueryError;
use crate::columns::{SpanColumns, typed_row};

/// `{"data":…, "total":…, "limit":0, "offset":0, "errors":…}`. As in Jaeger's query
/// service, `total` counts the data of the list endpoints (services, operations) and
/// is 0 for traces and dependencies.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    pub data: T,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub errors: Option<Vec<ErrorEntry>>,
}

impl<T: Serialize> Envelope<T> {
    pub fn new(data: T, total: usize, errors: Option<Vec<ErrorEntry>>) -> Self {
        Self {
            data,
            total,
            limit: 0,
            offset: 0,
            errors,
        }
    }
}

/// One entry of the envelope's `errors`.
#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    /// Absent for a trace id asked for and not found (as Jaeger writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    pub msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<Span>,
    pub processes: BTreeMap<String, Process>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    pub flags: u32,
    pub operation_name: String,
    pub references: Vec<Reference>,
    /// µs since the epoch.
    pub start_time: i64,
    /// µs.
    pub duration: i64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
    #[serde(rename = "processID")]
    pub process_id: String,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct Reference {
    #[serde(rename = "refType")]
    pub ref_type: &'static str,
    #[serde(rename = "traceID")]
    pub trace_id: Value,
    #[serde(rename = "spanID")]
    pub span_id: Value,
}

#[derive(Debug, Serialize)]
pub struct Log {
    /// µs since the epoch.
    pub timestamp: u64,
    pub fields: Vec<Tag>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

/// A tag with Jaeger's type names; arrays and maps travel as their JSON text, as
/// Jaeger's OTLP translator does.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "value")]
pub enum TagValue {
    #[serde(rename = "bool")]
    Bool(bool),
    #[serde(rename = "int64")]
    Int64(serde_json::Number),
    #[serde(rename = "float64")]
    Float64(serde_json::Number),
    #[serde(rename = "string")]
    String(String),
}

#[derive(Debug, Serialize)]
pub struct Tag {
    pub key: String,
    #[serde(flatten)]
    pub value: TagValue,
}

impl Tag {
    fn string(key: &str, value: &str) -> Self {
        Self {
            key: key.to_string(),
            value: TagValue::String(value.to_string()),
        }
    }

    /// A tag of a typed attribute value.
    fn typed(key: &str, value: &Value) -> Self {
        let value = match value {
            Value::Bool(b) => TagValue::Bool(*b),
            Value::Number(n) if n.is_i64() || n.is_u64() => TagValue::Int64(n.clone()),
            Value::Number(n) => TagValue::Float64(n.clone()),
            Value::String(s) => TagValue::String(s.clone()),
            other => TagValue::String(other.to_string()),
        };
        Self {
            key: key.to_string(),
            value,
        }
    }
}

fn kind_tag(kind: &str) -> Option<&'static str> {
    match kind {
        "SPAN_KIND_SERVER" => Some("server"),
        "SPAN_KIND_CLIENT" => Some("client"),
        "SPAN_KIND_PRODUCER" => Some("producer"),
        "SPAN_KIND_CONSUMER" => Some("consumer"),
        "SPAN_KIND_INTERNAL" => Some("internal"),
        _ => None,
    }
}

/// The tags Jaeger derives from a span's fields beside its attributes.
fn derived_tags(kind: &str, status: &str, status_msg: &str, scope: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    if let Some(k) = kind_tag(kind) {
        tags.push(Tag::string("span.kind", k));
    }
    match status {
        "STATUS_CODE_ERROR" => {
            tags.push(Tag {
                key: "error".into(),
                value: TagValue::Bool(true),
            });
            tags.push(Tag::string("otel.status_code", "ERROR"));
        }
        "STATUS_CODE_OK" => tags.push(Tag::string("otel.status_code", "OK")),
        _ => {}
    }
    if !status_msg.is_empty() {
        tags.push(Tag::string("otel.status_description", status_msg));
    }
    if !scope.is_empty() {
        tags.push(Tag::string("otel.scope.name", scope));
    }
    tags
}

/// A span's parent (CHILD_OF) and links (FOLLOWS_FROM, from the links' JSON text).
fn references(trace_id: &str, parent: &str, links: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    if !parent.is_empty() {
        out.push(Reference {
            ref_type: "CHILD_OF",
            trace_id: Value::String(trace_id.to_string()),
            span_id: Value::String(parent.to_string()),
        });
    }
    if let Ok(Value::Array(ls)) = serde_json::from_str::<Value>(links) {
        for l in ls {
            out.push(Reference {
                ref_type: "FOLLOWS_FROM",
                trace_id: l["trace_id"].clone(),
                span_id: l["span_id"].clone(),
            });
        }
    }
    out
}

/// A span's events (their JSON text) as Jaeger logs.
fn logs(events: &str) -> Vec<Log> {
    let Ok(Value::Array(es)) = serde_json::from_str::<Value>(events) else {
        return Vec::new();
    };
    es.iter()
        .map(|e| {
            let mut fields = vec![Tag::string("event", e["name"].as_str().unwrap_or(""))];
            if let Value::Object(a) = &e["attributes"] {
                fields.extend(a.iter().map(|(k, v)| Tag::typed(k, v)));
            }
            Log {
                timestamp: e["time_unix_nano"].as_u64().unwrap_or(0) / 1000,
                fields,
            }
        })
        .collect()
}

/// Renders the spans of one trace (any order) in Jaeger's trace shape.
pub fn trace(trace_id: &str, batches: &[RecordBatch]) -> Result<Trace, QueryError> {
    // Processes by service and resource (each value as JSON text, so equal typed
    // resources share a process).
    let mut processes: BTreeMap<(String, Vec<(String, String)>), String> = BTreeMap::new();
    let mut spans: Vec<(i64, Span)> = Vec::new();
    for b in batches {
        let c = SpanColumns::new(b)?;
        for i in 0..b.num_rows() {
            let mut resource: Vec<(String, String)> =
                typed_row(&c.resource, c.resource_types.as_ref(), i)
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect();
            resource.retain(|(k, _)| k != "service.name");
            let next_id = format!("p{}", processes.len() + 1);
            let pid = processes
                .entry((c.service.value(i).to_string(), resource))
                .or_insert(next_id)
                .clone();
            let mut tags: Vec<Tag> = typed_row(&c.attributes, c.attribute_types.as_ref(), i)
                .iter()
                .map(|(k, v)| Tag::typed(k, v))
                .collect();
            tags.extend(derived_tags(
                c.kind.value(i),
                c.status.value(i),
                c.status_msg.value(i),
                c.scope.value(i),
            ));
            spans.push((
                c.start.value(i),
                Span {
                    trace_id: trace_id.to_string(),
                    span_id: c.span_id.value(i).to_string(),
                    flags: 1,
                    operation_name: c.name.value(i).to_string(),
                    references: references(trace_id, c.parent.value(i), c.links.value(i)),
                    start_time: c.start.value(i) / 1000,
                    duration: c.duration.value(i) / 1000,
                    tags,
                    logs: logs(c.events.value(i)),
                    process_id: pid,
                    warnings: None,
                },
            ));
        }
    }
    spans.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.span_id.cmp(&y.span_id)));
    // Process ids in the order the sorted spans first use them (as Jaeger numbers
    // them), so a trace reads the same whether its spans are in memory, in files or
    // both (which come back in storage order).
    let mut renumbered: HashMap<String, String> = HashMap::new();
    let spans: Vec<Span> = spans
        .into_iter()
        .map(|(_, mut span)| {
            let next = format!("p{}", renumbered.len() + 1);
            span.process_id = renumbered
                .entry(span.process_id.clone())
                .or_insert(next)
                .clone();
            span
        })
        .collect();
    let processes = processes
        .into_iter()
        .map(|((service, resource), pid)| {
            let pid = renumbered.get(&pid).cloned().unwrap_or(pid);
            let tags = resource
                .iter()
                .map(|(k, v)| Tag::typed(k, &serde_json::from_str(v).unwrap_or(Value::Null)))
                .collect();
            (
                pid,
                Process {
                    service_name: service,
                    tags,
                },
            )
        })
        .collect();
    Ok(Trace {
        trace_id: trace_id.to_string(),
        spans,
        processes,
        warnings: None,
    })
}

#[cfg(test)]
mod tests {
    use super::trace;
    use osprey_storage::schema::{SpanRow, spans_batch};

    #[test]
    fn process_ids_follow_the_spans_not_the_batches() {
        let span = |service: &str, id: &str, start: i64| SpanRow {
            service: service.into(),
            trace_id: "ab".repeat(16),
            span_id: id.into(),
            start_time_ns: start,
            end_time_ns: start + 10,
            resource: vec![("service.name".into(), service.into())],
            ..Default::default()
        };
        let root = spans_batch(&[span("frontend", "0000000000000001", 100)]).unwrap();
        let child = spans_batch(&[span("payments", "0000000000000002", 200)]).unwrap();
        let id = "ab".repeat(16);
        // As a trace half in memory (read first) and half in files comes back.
        let a = serde_json::to_value(trace(&id, &[child.clone(), root.clone()]).unwrap()).unwrap();
        let b = serde_json::to_value(trace(&id, &[root, child]).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["spans"][0]["processID"], "p1");
        assert_eq!(a["processes"]["p1"]["serviceName"], "frontend");
        assert_eq!(a["processes"]["p2"]["serviceName"], "payments");
    }
}
