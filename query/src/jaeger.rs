//! Jaeger's v1 JSON API shapes (what Grafana's Jaeger data source reads):
//! `GET /api/traces/{traceID}` and `GET /api/services`.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch};
use datafusion::prelude::{col, lit};
use serde_json::{Value, json};

use crate::columns::{SpanColumns, strings, typed_row};
use crate::session::signal_session;
use crate::{QueryError, QueryState};
use osprey_storage::Signal;

/// Jaeger's `{"data":…, "total":…, "limit":0, "offset":0, "errors":…}` envelope. As in
/// Jaeger's query service, `total` counts the data of the list endpoints (services,
/// operations) and is 0 for traces and dependencies.
pub fn envelope(data: Value, total: usize, errors: Option<Value>) -> Value {
    json!({
        "data": data,
        "total": total,
        "limit": 0,
        "offset": 0,
        "errors": errors,
    })
}

/// Lowercase, left-padded to 32 hex digits (Jaeger accepts 64-bit ids too).
pub fn normalize_trace_id(id: &str) -> Result<String, QueryError> {
    let id = id.trim().to_ascii_lowercase();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(QueryError::BadData(format!(
            "invalid trace id {id:?}: expected 1-32 hex digits"
        )));
    }
    Ok(format!("{id:0>32}"))
}

fn tag(key: &str, value: &str) -> Value {
    json!({"key": key, "type": "string", "value": value})
}

/// A tag of a typed value, with Jaeger's type names (`bool`, `int64`, `float64`,
/// `string`; arrays and maps as their JSON text, as Jaeger's OTLP translator does).
fn typed_tag(key: &str, value: &Value) -> Value {
    match value {
        Value::Bool(b) => json!({"key": key, "type": "bool", "value": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            json!({"key": key, "type": "int64", "value": n})
        }
        Value::Number(n) => json!({"key": key, "type": "float64", "value": n}),
        Value::String(s) => tag(key, s),
        other => tag(key, &other.to_string()),
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

/// Renders the spans of one trace (any order) in Jaeger's trace shape.
pub fn trace_json(trace_id: &str, batches: &[RecordBatch]) -> Result<Value, QueryError> {
    let mut processes: BTreeMap<(String, Vec<(String, String)>), String> = BTreeMap::new();
    let mut spans: Vec<(i64, Value)> = Vec::new();
    for b in batches {
        let SpanColumns {
            service,
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
            let mut resource: Vec<(String, String)> = typed_row(&res, resource_types.as_ref(), i)
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
            resource.retain(|(k, _)| k != "service.name");
            let next_id = format!("p{}", processes.len() + 1);
            let pid = processes
                .entry((service.value(i).to_string(), resource))
                .or_insert(next_id)
                .clone();
            let mut tags: Vec<Value> = typed_row(&attrs, attribute_types.as_ref(), i)
                .iter()
                .map(|(k, v)| typed_tag(k, v))
                .collect();
            if let Some(k) = kind_tag(kind.value(i)) {
                tags.push(tag("span.kind", k));
            }
            match status.value(i) {
                "STATUS_CODE_ERROR" => {
                    tags.push(json!({"key": "error", "type": "bool", "value": true}));
                    tags.push(tag("otel.status_code", "ERROR"));
                }
                "STATUS_CODE_OK" => tags.push(tag("otel.status_code", "OK")),
                _ => {}
            }
            if !status_msg.value(i).is_empty() {
                tags.push(tag("otel.status_description", status_msg.value(i)));
            }
            if !scope.value(i).is_empty() {
                tags.push(tag("otel.scope.name", scope.value(i)));
            }
            let mut references = Vec::new();
            if !parent.value(i).is_empty() {
                references.push(
                    json!({"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent.value(i)}),
                );
            }
            if let Ok(Value::Array(ls)) = serde_json::from_str::<Value>(links.value(i)) {
                for l in ls {
                    references.push(json!({"refType": "FOLLOWS_FROM", "traceID": l["trace_id"], "spanID": l["span_id"]}));
                }
            }
            let mut logs = Vec::new();
            if let Ok(Value::Array(es)) = serde_json::from_str::<Value>(events.value(i)) {
                for e in es {
                    let mut fields = vec![tag("event", e["name"].as_str().unwrap_or(""))];
                    if let Value::Object(a) = &e["attributes"] {
                        for (k, v) in a {
                            fields.push(typed_tag(k, v));
                        }
                    }
                    logs.push(json!({
                        "timestamp": e["time_unix_nano"].as_u64().unwrap_or(0) / 1000,
                        "fields": fields,
                    }));
                }
            }
            let start_ns = start.value(i);
            spans.push((
                start_ns,
                json!({
                    "traceID": trace_id,
                    "spanID": span_id.value(i),
                    "flags": 1,
                    "operationName": name.value(i),
                    "references": references,
                    "startTime": start_ns / 1000,
                    "duration": dur.value(i) / 1000,
                    "tags": tags,
                    "logs": logs,
                    "processID": pid,
                    "warnings": null,
                }),
            ));
        }
    }
    spans.sort_by_key(|(t, _)| *t);
    let processes: serde_json::Map<String, Value> = processes
        .into_iter()
        .map(|((service, resource), pid)| {
            // The key holds each value as JSON text (so equal typed resources share
            // a process); back to typed tags here.
            let tags: Vec<Value> = resource
                .iter()
                .map(|(k, v)| typed_tag(k, &serde_json::from_str(v).unwrap_or(Value::Null)))
                .collect();
            (pid, json!({"serviceName": service, "tags": tags}))
        })
        .collect();
    Ok(json!({
        "traceID": trace_id,
        "spans": spans.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
        "processes": processes,
        "warnings": null,
    }))
}

/// All spans of a trace, from memtables and files (`tracefetch.rs`).
pub async fn find_trace(
    st: &QueryState,
    tenant: &str,
    trace_id: &str,
) -> Result<Vec<RecordBatch>, QueryError> {
    let mut found = crate::tracefetch::find_traces(st, tenant, &[trace_id.to_string()]).await?;
    Ok(found.remove(trace_id).unwrap_or_default())
}

/// Span names of one service, sorted (Jaeger's `/api/services/{service}/operations`).
pub async fn operations(
    st: &QueryState,
    tenant: &str,
    service: &str,
) -> Result<Vec<String>, QueryError> {
    let ctx = signal_session(&st.storage, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .filter(col("service").eq(lit(service)))?
        .select(vec![col("name")])?
        .distinct()?
        .sort(vec![col("name").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let s = strings(&b, "name")?;
        out.extend((0..s.len()).map(|i| s.value(i).to_string()));
    }
    Ok(out)
}

/// Span names of one service with their kinds (Jaeger v3's `/api/v3/operations`),
/// optionally of one stored kind (`SPAN_KIND_SERVER`, …), sorted.
pub async fn operation_kinds(
    st: &QueryState,
    tenant: &str,
    service: &str,
    kind: Option<&str>,
) -> Result<Vec<(String, String)>, QueryError> {
    let ctx = signal_session(&st.storage, tenant, Signal::Spans, None).await?;
    let mut filter = col("service").eq(lit(service));
    if let Some(k) = kind {
        filter = filter.and(col("kind").eq(lit(k)));
    }
    let df = ctx
        .table("spans")
        .await?
        .filter(filter)?
        .select(vec![col("name"), col("kind")])?
        .distinct()?
        .sort(vec![
            col("name").sort(true, false),
            col("kind").sort(true, false),
        ])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let (n, k) = (strings(&b, "name")?, strings(&b, "kind")?);
        out.extend((0..n.len()).map(|i| (n.value(i).to_string(), k.value(i).to_string())));
    }
    Ok(out)
}

/// The service-graph counter (DESIGN §5; the OpenTelemetry servicegraph connector's
/// name) that `/api/dependencies` reads.
const GRAPH_CALLS: &str = "traces_service_graph_request_total";

/// How far before the window a series' last sample is looked for (its value then is
/// the baseline of the window's increase). Series are written every
/// `spanmetrics.interval`, far more often.
const BASELINE_LOOKBACK_NS: i64 = 86_400 * 1_000_000_000;

/// The calls a cumulative counter's samples (time-sorted) add in `[start_ns, end_ns]`:
/// from its last value before the window (0 for a series that began in it), a drop
/// being a restart from 0.
fn counter_increase(samples: &[(i64, f64)], start_ns: i64, end_ns: i64) -> f64 {
    let mut prev = samples
        .iter()
        .take_while(|(t, _)| *t < start_ns)
        .filter(|(_, v)| v.is_finite())
        .last()
        .map_or(0.0, |(_, v)| *v);
    let mut total = 0.0;
    for (_, v) in samples
        .iter()
        .filter(|(t, v)| (start_ns..=end_ns).contains(t) && v.is_finite())
    {
        total += if *v >= prev { v - prev } else { *v };
        prev = *v;
    }
    total
}

/// Jaeger's dependencies from the service graph: each `client → server` edge of
/// `traces_service_graph_request_total` (virtual nodes such as `user` or a database
/// included) with the calls its counters added in `[start_ns, end_ns]`, sorted.
pub async fn dependencies(
    st: &QueryState,
    tenant: &str,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<(String, String, u64)>, QueryError> {
    let is_calls = |v: &str| v == GRAPH_CALLS;
    let series = st.storage.series().select(
        tenant,
        &[osprey_storage::series::Matcher {
            name: "__name__",
            matches: &is_calls,
        }],
    );
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let (storage, tenant) = (st.storage.clone(), tenant.to_string());
    st.blocking("dependencies", move || {
        let snap = storage.snapshot(&tenant, Signal::Metrics);
        let mut ids: Vec<u64> = series.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut samples = storage
            .read_samples(
                &snap,
                &ids,
                start_ns.saturating_sub(BASELINE_LOOKBACK_NS),
                end_ns,
            )
            .map_err(|e| QueryError::Internal(e.to_string()))?;
        let mut edges: BTreeMap<(String, String), f64> = BTreeMap::new();
        for s in &series {
            let Some(mut points) = samples.remove(&s.id) else {
                continue;
            };
            points.sort_by_key(|p| p.0);
            *edges
                .entry((s.get("client").to_string(), s.get("server").to_string()))
                .or_default() += counter_increase(&points, start_ns, end_ns);
        }
        Ok(edges
            .into_iter()
            .map(|((client, server), calls)| (client, server, calls.round().max(0.0) as u64))
            .filter(|(_, _, calls)| *calls > 0)
            .collect())
    })
    .await
}

/// Services that sent spans, sorted.
pub async fn services(st: &QueryState, tenant: &str) -> Result<Vec<String>, QueryError> {
    let ctx = signal_session(&st.storage, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .select(vec![col("service")])?
        .distinct()?
        .sort(vec![col("service").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let s = strings(&b, "service")?;
        out.extend((0..s.len()).map(|i| s.value(i).to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::counter_increase;

    #[test]
    fn increases_count_from_the_baseline_and_through_restarts() {
        let s = [
            (1, 5.0),
            (10, 7.0),
            (20, 9.0),
            (30, 2.0),
            (40, f64::NAN),
            (50, 4.0),
        ];
        // From the value before the window: 7 → 9, restart to 2, → 4.
        assert_eq!(counter_increase(&s, 15, 60), 2.0 + 2.0 + 2.0);
        // A series that began in the window counts from 0.
        assert_eq!(counter_increase(&s, 0, 10), 7.0);
        assert_eq!(counter_increase(&s, 21, 29), 0.0);
        assert_eq!(counter_increase(&[], 0, 10), 0.0);
    }
}
