//! Jaeger v3's JSON model: OTLP/JSON `TracesData` (protobuf's JSON mapping: camelCase
//! names, 64-bit integers as strings, enums as numbers) inside grpc-gateway's
//! `{"result": …}`, lists of names, and `{"error": {"httpCode", "message"}}`; and the
//! rendering of span rows into it.
//!
//! Span and resource attributes are stored as strings with their OTLP types beside them
//! (`attribute_types`, `resource_types`), so they come back typed: `intValue`,
//! `doubleValue`, `boolValue`, `arrayValue`, `kvlistValue`. Bytes come back as their
//! hex text, and spans stored before types were kept as strings. Like Jaeger's jsonpb
//! output, default values (0, empty lists) are left out.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch};
use serde::Serialize;
use serde_json::Value;

use crate::QueryError;
use crate::columns::{SpanColumns, typed_row};

/// grpc-gateway's wrapper of a streamed answer.
#[derive(Debug, Serialize)]
pub struct Wrapped<T: Serialize> {
    pub result: T,
}

#[derive(Debug, Serialize)]
pub struct Services {
    pub services: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Operations<T: Serialize> {
    pub operations: Vec<T>,
}

/// Jaeger v3's error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub http_code: u16,
    pub message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TracesData {
    pub resource_spans: Vec<ResourceSpans>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans {
    pub resource: Resource,
    pub scope_spans: Vec<ScopeSpans>,
}

#[derive(Debug, Serialize)]
pub struct Resource {
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct ScopeSpans {
    pub scope: Scope,
    pub spans: Vec<Span>,
}

#[derive(Debug, Serialize)]
pub struct Scope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// Written for root spans too, empty, as Jaeger's GetTrace snapshot has it
    /// (cmd/query/app/apiv3/snapshots/GetTrace.json).
    pub parent_span_id: String,
    pub name: String,
    pub kind: u8,
    pub start_time_unix_nano: String,
    pub end_time_unix_nano: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub status: Status,
}

#[derive(Debug, Serialize)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub time_unix_nano: String,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: AnyValue,
}

/// OTLP's `AnyValue`: one of its fields, or none (`{}`) for an empty value.
#[derive(Debug, Serialize)]
pub struct AnyValue(#[serde(with = "any_value_fields")] Option<AnyValueField>);

/// The field of `AnyValue` that is set (`boolValue`, `intValue`, …).
#[derive(Debug, Serialize)]
pub enum AnyValueField {
    #[serde(rename = "boolValue")]
    Bool(bool),
    /// 64-bit integers are strings in protobuf's JSON mapping.
    #[serde(rename = "intValue")]
    Int(String),
    #[serde(rename = "doubleValue")]
    Double(f64),
    #[serde(rename = "stringValue")]
    String(String),
    #[serde(rename = "arrayValue")]
    Array { values: Vec<AnyValue> },
    #[serde(rename = "kvlistValue")]
    Kvlist { values: Vec<KeyValue> },
}

/// `None` as `{}`, `Some(v)` as `{"<field>": …}`.
mod any_value_fields {
    use serde::ser::{Serialize, SerializeMap, Serializer};

    pub fn serialize<S: Serializer>(
        v: &Option<super::AnyValueField>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => v.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

impl AnyValue {
    /// A typed attribute value (as `columns::typed_value` gives it).
    fn of(v: &Value) -> Self {
        AnyValue(match v {
            Value::Bool(b) => Some(AnyValueField::Bool(*b)),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(AnyValueField::Int(n.to_string())),
            Value::Number(n) => n.as_f64().map(AnyValueField::Double),
            Value::String(s) => Some(AnyValueField::String(s.clone())),
            Value::Array(a) => Some(AnyValueField::Array {
                values: a.iter().map(AnyValue::of).collect(),
            }),
            Value::Object(m) => Some(AnyValueField::Kvlist {
                values: m.iter().map(|(k, v)| KeyValue::of(k, v)).collect(),
            }),
            Value::Null => None,
        })
    }
}

impl KeyValue {
    fn of(key: &str, v: &Value) -> Self {
        KeyValue {
            key: key.to_string(),
            value: AnyValue::of(v),
        }
    }
}

fn typed_attrs(pairs: &[(String, Value)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| KeyValue::of(k, v)).collect()
}

/// An attribute object as stored in events and links (`{"k": value}`).
fn json_attrs(v: &Value) -> Vec<KeyValue> {
    match v {
        Value::Object(m) => m.iter().map(|(k, v)| KeyValue::of(k, v)).collect(),
        _ => Vec::new(),
    }
}

fn kind_number(kind: &str) -> u8 {
    match kind {
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        _ => 0,
    }
}

fn status_number(code: &str) -> Option<u8> {
    match code {
        "STATUS_CODE_OK" => Some(1),
        "STATUS_CODE_ERROR" => Some(2),
        _ => None,
    }
}

/// Stored events (a JSON array of `{time_unix_nano, name, attributes}`).
fn events(text: &str) -> Vec<Event> {
    let Ok(Value::Array(es)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    es.iter()
        .map(|e| Event {
            time_unix_nano: e["time_unix_nano"].as_u64().unwrap_or(0).to_string(),
            name: e["name"].as_str().unwrap_or("").to_string(),
            attributes: json_attrs(&e["attributes"]),
        })
        .collect()
}

/// Stored links (a JSON array of `{trace_id, span_id, attributes}`).
fn links(text: &str) -> Vec<Link> {
    let Ok(Value::Array(ls)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    ls.iter()
        .map(|l| Link {
            trace_id: l["trace_id"].as_str().unwrap_or("").to_string(),
            span_id: l["span_id"].as_str().unwrap_or("").to_string(),
            attributes: json_attrs(&l["attributes"]),
        })
        .collect()
}

/// Spans grouped by (service, resource without `service.name` as JSON texts, so that
/// equal typed resources group together), then by scope, with their start times.
type Groups = BTreeMap<(String, Vec<(String, String)>), BTreeMap<String, Vec<(i64, Span)>>>;

impl TracesData {
    /// Spans (any order, any number of traces): one `resourceSpans` per service and
    /// resource, one `scopeSpans` per scope, spans by start time.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self, QueryError> {
        let mut groups = Groups::new();
        for b in batches {
            add_rows(&mut groups, b)?;
        }
        let resource_spans = groups
            .into_iter()
            .map(|((service, resource), scopes)| {
                let mut resource: Vec<(String, Value)> = resource
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(Value::Null)))
                    .collect();
                resource.insert(0, ("service.name".to_string(), Value::String(service)));
                ResourceSpans {
                    resource: Resource {
                        attributes: typed_attrs(&resource),
                    },
                    scope_spans: scopes
                        .into_iter()
                        .map(|(scope, mut spans)| {
                            spans.sort_by_key(|(t, _)| *t);
                            ScopeSpans {
                                scope: Scope {
                                    name: (!scope.is_empty()).then_some(scope),
                                },
                                spans: spans.into_iter().map(|(_, s)| s).collect(),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(TracesData { resource_spans })
    }
}

fn add_rows(groups: &mut Groups, b: &RecordBatch) -> Result<(), QueryError> {
    let c = SpanColumns::new(b)?;
    for i in 0..b.num_rows() {
        let start_ns = c.start.value(i);
        let message = c.status_msg.value(i);
        let span = Span {
            trace_id: c.trace_id.value(i).to_string(),
            span_id: c.span_id.value(i).to_string(),
            parent_span_id: if c.parent.is_valid(i) {
                c.parent.value(i).to_string()
            } else {
                String::new()
            },
            name: c.name.value(i).to_string(),
            kind: kind_number(c.kind.value(i)),
            start_time_unix_nano: start_ns.to_string(),
            end_time_unix_nano: start_ns.saturating_add(c.duration.value(i)).to_string(),
            attributes: typed_attrs(&typed_row(&c.attributes, c.attribute_types.as_ref(), i)),
            events: events(c.events.value(i)),
            links: links(c.links.value(i)),
            status: Status {
                code: status_number(c.status.value(i)),
                message: (!message.is_empty()).then(|| message.to_string()),
            },
        };
        let resource: Vec<(String, String)> = typed_row(&c.resource, c.resource_types.as_ref(), i)
            .into_iter()
            .filter(|(k, _)| k != "service.name")
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        groups
            .entry((c.service.value(i).to_string(), resource))
            .or_default()
            .entry(c.scope.value(i).to_string())
            .or_default()
            .push((start_ns, span));
    }
    Ok(())
}
