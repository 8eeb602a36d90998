//! Jaeger's API v3 over HTTP (what the current Jaeger UI calls): `/api/v3/services`,
//! `/api/v3/operations`, `/api/v3/traces` and `/api/v3/traces/{trace_id}`. Traces are
//! OTLP/JSON `TracesData` inside grpc-gateway's `{"result": …}` wrapper; errors are
//! `{"error": {"httpCode": …, "message": …}}`; parameter names are the camelCase ones
//! with the deprecated snake_case aliases still accepted, as Jaeger 2.x does.
//!
//! Span and resource attributes are stored as strings with their OTLP types beside them
//! (`attribute_types`, `resource_types`), so they come back typed: `intValue`,
//! `doubleValue`, `boolValue`, `arrayValue`, `kvlistValue`. Bytes come back as their
//! hex text, and spans stored before types were kept as strings.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch};
use serde_json::{Value, json};

use crate::QueryError;
use crate::columns::{SpanColumns, typed_row};
use crate::traces::search::{TraceQuery, go_duration_ns, tags_json};

/// Jaeger's error body.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({"error": {"httpCode": status, "message": message}})
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

fn status_number(code: &str) -> u8 {
    match code {
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => 0,
    }
}

/// Jaeger's lowercase span kind (`server`, …; `internal` for an unspecified kind).
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "SPAN_KIND_SERVER" => "server",
        "SPAN_KIND_CLIENT" => "client",
        "SPAN_KIND_PRODUCER" => "producer",
        "SPAN_KIND_CONSUMER" => "consumer",
        _ => "internal",
    }
}

/// The stored span kind for a Jaeger span kind parameter.
pub fn stored_kind(jaeger: &str) -> Result<&'static str, QueryError> {
    Ok(match jaeger.to_ascii_lowercase().as_str() {
        "server" => "SPAN_KIND_SERVER",
        "client" => "SPAN_KIND_CLIENT",
        "producer" => "SPAN_KIND_PRODUCER",
        "consumer" => "SPAN_KIND_CONSUMER",
        "internal" => "SPAN_KIND_INTERNAL",
        other => {
            return Err(QueryError::BadData(format!(
                "malformed parameter spanKind: unsupported span kind {other:?}; expected server, client, producer, consumer or internal"
            )));
        }
    })
}

/// A typed JSON value as an OTLP/JSON `AnyValue` (64-bit integers as strings, as
/// protobuf's JSON mapping writes them).
fn any_value(v: &Value) -> Value {
    match v {
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::String(s) => json!({"stringValue": s}),
        Value::Array(a) => {
            json!({"arrayValue": {"values": a.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Object(m) => json!({"kvlistValue": {"values": m
            .iter()
            .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
            .collect::<Vec<_>>()}}),
        Value::Null => json!({}),
    }
}

fn typed_attrs(pairs: &[(String, Value)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
        .collect()
}

/// An attribute object as stored in events and links (`{"k": value}`) as OTLP/JSON.
fn json_attrs(v: &Value) -> Vec<Value> {
    let Value::Object(m) = v else {
        return Vec::new();
    };
    m.iter()
        .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
        .collect()
}

/// `v` with the stored attribute object `attrs` as its `attributes`, when there are any.
fn with_attrs(mut v: Value, attrs: &Value) -> Value {
    let a = json_attrs(attrs);
    if !a.is_empty() {
        v["attributes"] = json!(a);
    }
    v
}

/// Spans (any order, any number of traces) as OTLP/JSON `TracesData`: one
/// `resourceSpans` per service and resource, one `scopeSpans` per scope, spans by
/// start time.
pub fn traces_data(batches: &[RecordBatch]) -> Result<Value, QueryError> {
    // Resource values as JSON text, so that equal typed resources group together.
    type ResourceKey = (String, Vec<(String, String)>);
    let mut groups: BTreeMap<ResourceKey, BTreeMap<String, Vec<(i64, Value)>>> = BTreeMap::new();
    for b in batches {
        let SpanColumns {
            service,
            trace_id,
            span_id,
            parent,
            name,
            kind,
            status,
            status_msg,
            events,
            links,
            scope,
            start,
            duration: dur,
            attributes: attrs,
            resource: res,
            attribute_types,
            resource_types,
            ..
        } = SpanColumns::new(b)?;
        for i in 0..b.num_rows() {
            let start_ns = start.value(i);
            // Like Jaeger's jsonpb output, default values (0, empty lists) are left out.
            let mut span = json!({
                "traceId": trace_id.value(i),
                "spanId": span_id.value(i),
                "name": name.value(i),
                "kind": kind_number(kind.value(i)),
                "startTimeUnixNano": start_ns.to_string(),
                "endTimeUnixNano": start_ns.saturating_add(dur.value(i)).to_string(),
                "status": {},
            });
            let span_attrs = typed_row(&attrs, attribute_types.as_ref(), i);
            if !span_attrs.is_empty() {
                span["attributes"] = json!(typed_attrs(&span_attrs));
            }
            let code = status_number(status.value(i));
            if code != 0 {
                span["status"]["code"] = json!(code);
            }
            // Written for root spans too, empty, as Jaeger's GetTrace snapshot has it
            // (cmd/query/app/apiv3/snapshots/GetTrace.json).
            span["parentSpanId"] = json!(if parent.is_valid(i) {
                parent.value(i)
            } else {
                ""
            });
            if !status_msg.value(i).is_empty() {
                span["status"]["message"] = json!(status_msg.value(i));
            }
            if let Ok(Value::Array(es)) = serde_json::from_str::<Value>(events.value(i))
                && !es.is_empty()
            {
                span["events"] = es
                    .iter()
                    .map(|e| {
                        with_attrs(
                            json!({
                                "timeUnixNano": e["time_unix_nano"].as_u64().unwrap_or(0).to_string(),
                                "name": e["name"].as_str().unwrap_or(""),
                            }),
                            &e["attributes"],
                        )
                    })
                    .collect();
            }
            if let Ok(Value::Array(ls)) = serde_json::from_str::<Value>(links.value(i))
                && !ls.is_empty()
            {
                span["links"] = ls
                    .iter()
                    .map(|l| {
                        with_attrs(
                            json!({
                                "traceId": l["trace_id"].as_str().unwrap_or(""),
                                "spanId": l["span_id"].as_str().unwrap_or(""),
                            }),
                            &l["attributes"],
                        )
                    })
                    .collect();
            }
            let mut resource: Vec<(String, String)> = typed_row(&res, resource_types.as_ref(), i)
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
            resource.retain(|(k, _)| k != "service.name");
            groups
                .entry((service.value(i).to_string(), resource))
                .or_default()
                .entry(scope.value(i).to_string())
                .or_default()
                .push((start_ns, span));
        }
    }
    let resource_spans: Vec<Value> = groups
        .into_iter()
        .map(|((service, resource), scopes)| {
            let mut resource: Vec<(String, Value)> = resource
                .into_iter()
                .map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(Value::Null)))
                .collect();
            resource.insert(0, ("service.name".to_string(), Value::String(service)));
            let scope_spans: Vec<Value> = scopes
                .into_iter()
                .map(|(scope, mut spans)| {
                    spans.sort_by_key(|(t, _)| *t);
                    json!({
                        "scope": if scope.is_empty() { json!({}) } else { json!({"name": scope}) },
                        "spans": spans.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "resource": {"attributes": typed_attrs(&resource)},
                "scopeSpans": scope_spans,
            })
        })
        .collect();
    Ok(json!({ "resourceSpans": resource_spans }))
}

/// An RFC 3339 time parameter, ns since the epoch.
fn rfc3339_ns(name: &str, v: &str) -> Result<i64, QueryError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            QueryError::BadData(format!(
                "malformed parameter {name}: {v:?} is not an RFC 3339 time"
            ))
        })
}

/// The value of a parameter by its canonical name or a deprecated alias.
fn param<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<(&'a str, &'a str)> {
    names.iter().find_map(|n| {
        params
            .iter()
            .find(|(k, v)| k == n && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    })
}

/// `GET /api/v3/traces` parameters as a trace search.
pub fn find_traces_query(params: &[(String, String)]) -> Result<TraceQuery, QueryError> {
    let service = param(params, &["query.serviceName", "query.service_name"])
        .map(|(_, v)| v.to_string())
        .ok_or_else(|| QueryError::BadData("query.serviceName is required".into()))?;
    let (Some((min_name, min)), Some((max_name, max))) = (
        param(params, &["query.startTimeMin", "query.start_time_min"]),
        param(params, &["query.startTimeMax", "query.start_time_max"]),
    ) else {
        return Err(QueryError::BadData(
            "query.startTimeMin and query.startTimeMax are required".into(),
        ));
    };
    let start_ns = rfc3339_ns(min_name, min)?;
    let end_ns = rfc3339_ns(max_name, max)?;
    let duration = |names: &[&str]| -> Result<Option<i64>, QueryError> {
        param(params, names)
            .map(|(n, v)| {
                go_duration_ns(v)
                    .map_err(|e| QueryError::BadData(format!("malformed parameter {n}: {e}")))
            })
            .transpose()
    };
    let limit = match param(
        params,
        &[
            "query.searchDepth",
            "query.num_traces",
            "query.search_depth",
        ],
    ) {
        None => 20,
        Some((n, v)) => v
            .parse::<usize>()
            .map_err(|e| QueryError::BadData(format!("malformed parameter {n}: {e}")))?,
    };
    // `query.attributes`: a JSON object of string values, as Jaeger's HTTP gateway
    // takes it; matched like v1's `tags` (span or resource attributes).
    let tags = match param(params, &["query.attributes"]) {
        None => Vec::new(),
        Some((n, v)) => tags_json(v, &format!("malformed parameter {n}"))?,
    };
    if end_ns < start_ns {
        return Err(QueryError::BadData(format!(
            "{max_name} must not be before {min_name}"
        )));
    }
    Ok(TraceQuery {
        service,
        operation: param(params, &["query.operationName", "query.operation_name"])
            .map(|(_, v)| v.to_string()),
        tags,
        min_duration_ns: duration(&["query.durationMin", "query.duration_min"])?,
        max_duration_ns: duration(&["query.durationMax", "query.duration_max"])?,
        start_ns,
        end_ns,
        limit: limit.clamp(1, 1500),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::params;

    #[test]
    fn find_traces_parameters_and_aliases() {
        let q = find_traces_query(&params(&[
            ("query.serviceName", "checkout"),
            ("query.operation_name", "pay"),
            ("query.startTimeMin", "2026-11-22T00:00:00Z"),
            ("query.startTimeMax", "2026-11-22T01:00:00.5Z"),
            ("query.durationMin", "1ms"),
            ("query.num_traces", "7"),
            (
                "query.attributes",
                r#"{"http.route":"/pay","error":"true"}"#,
            ),
        ]))
        .unwrap();
        let mut tags = q.tags.clone();
        tags.sort();
        assert_eq!(
            tags,
            vec![
                ("error".to_string(), "true".to_string()),
                ("http.route".to_string(), "/pay".to_string())
            ]
        );
        for (bad, why) in [
            (
                ("query.attributes", "{"),
                "malformed parameter query.attributes",
            ),
            (("query.attributes", r#"{"a":1}"#), "expected a string"),
            (
                ("query.startTimeMax", "2026-11-21T00:00:00Z"),
                "must not be before",
            ),
        ] {
            let mut p = vec![
                ("query.serviceName", "a"),
                ("query.startTimeMin", "2026-11-22T00:00:00Z"),
                ("query.startTimeMax", "2026-11-22T01:00:00Z"),
            ];
            p.retain(|(k, _)| *k != bad.0);
            p.push(bad);
            let e = find_traces_query(&params(&p)).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(q.service, "checkout");
        assert_eq!(q.operation.as_deref(), Some("pay"));
        assert_eq!(q.end_ns - q.start_ns, 3_600_500_000_000);
        assert_eq!(q.min_duration_ns, Some(1_000_000));
        assert_eq!(q.limit, 7);
        let e = find_traces_query(&params(&[("query.serviceName", "a")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("query.startTimeMin and query.startTimeMax are required")
        );
        let e = find_traces_query(&params(&[("query.startTimeMin", "2026-11-22T00:00:00Z")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("query.serviceName is required"),
            "{e}"
        );
        let e = find_traces_query(&params(&[
            ("query.serviceName", "a"),
            ("query.startTimeMin", "yesterday"),
            ("query.startTimeMax", "2026-11-22T01:00:00Z"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("malformed parameter query.startTimeMin"),
            "{e}"
        );
    }

    #[test]
    fn span_kinds() {
        assert_eq!(stored_kind("Server").unwrap(), "SPAN_KIND_SERVER");
        assert!(stored_kind("sideways").is_err());
        assert_eq!(kind_name("SPAN_KIND_UNSPECIFIED"), "internal");
    }
}
