//! What the query crate's integration tests share: a deterministic dataset of every
//! signal, and the API router over a storage, called in-process.
//!
//! Times are fixed (2023-11-14): these tests run no retention or ingest re-dating,
//! and every request names its time range.

#![allow(dead_code)]

use axum::body::Body;
use http_body_util::BodyExt;
use osprey_config::{QueryConfig, StorageConfig};
use osprey_query::{OpsState, QueryState};
use osprey_storage::Storage;
use osprey_storage::schema::{LogRow, SampleRow, SpanRow};
use serde_json::Value;
use tower::ServiceExt;

/// 2023-11-14T22:13:20Z, in ns.
pub const T0: i64 = 1_700_000_000_000_000_000;
pub const SEC: i64 = 1_000_000_000;

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn logs() -> Vec<LogRow> {
    let services = ["checkout", "payment", "cart"];
    (0..60)
        .map(|i| {
            let service = services[i % 3];
            let (sev, num, body) = match i % 5 {
                0 => (
                    "ERROR",
                    17,
                    format!("payment timeout after {i} ms order={i}"),
                ),
                1 => ("WARN", 13, format!("slow request path=/cart/{i}")),
                _ => ("INFO", 9, format!("served request {i} status=200")),
            };
            LogRow {
                service: service.into(),
                timestamp_ns: T0 + i as i64 * SEC,
                observed_timestamp_ns: T0 + i as i64 * SEC + if i % 4 == 0 { 1000 } else { 0 },
                severity_text: sev.into(),
                severity_number: num,
                body,
                trace_id: if i % 3 == 0 {
                    format!("{:032x}", i / 3 + 1)
                } else {
                    String::new()
                },
                span_id: if i % 3 == 0 {
                    format!("{:016x}", i + 1)
                } else {
                    String::new()
                },
                attributes: kv(&[
                    ("http.method", if i % 2 == 0 { "GET" } else { "POST" }),
                    ("seq", &i.to_string()),
                ]),
                resource: kv(&[("service.name", service), ("k8s.namespace.name", "shop")]),
                scope: "fixture".into(),
            }
        })
        .collect()
}

pub fn spans() -> Vec<SpanRow> {
    let mut out = Vec::new();
    for t in 0..6i64 {
        let trace_id = format!("{:032x}", 0xabc0 + t);
        let start = T0 + t * 10 * SEC;
        let parts = [
            ("checkout", "POST /checkout", "SPAN_KIND_SERVER", 0, 400),
            ("payment", "charge", "SPAN_KIND_CLIENT", 1, 250),
            ("payment", "POST /charge", "SPAN_KIND_SERVER", 2, 200),
        ];
        for (k, (service, name, kind, parent, ms)) in parts.iter().enumerate() {
            let error = t % 3 == 0 && k > 0;
            out.push(SpanRow {
                service: service.to_string(),
                start_time_ns: start + k as i64 * 1_000_000,
                end_time_ns: start + k as i64 * 1_000_000 + ms * 1_000_000,
                trace_id: trace_id.clone(),
                span_id: format!("{:016x}", t * 10 + k as i64 + 1),
                parent_span_id: if k == 0 { String::new() } else { format!("{:016x}", t * 10 + *parent as i64) },
                name: name.to_string(),
                kind: kind.to_string(),
                status_code: if error { "STATUS_CODE_ERROR" } else { "STATUS_CODE_UNSET" }.into(),
                status_message: if error { "card declined".into() } else { String::new() },
                attributes: kv(&[("http.response.status_code", if error { "500" } else { "200" }), ("retry", if t % 2 == 0 { "true" } else { "false" })]),
                resource: kv(&[("service.name", service), ("host.name", "node-1")]),
                events: if error { format!(r#"[{{"time_unix_nano":{},"name":"exception","attributes":{{"exception.type":"CardError"}}}}]"#, start + 5_000_000) } else { "[]".into() },
                links: "[]".into(),
                scope: "fixture".into(),
                attribute_types: kv(&[("http.response.status_code", "int"), ("retry", "bool")]),
                resource_types: Vec::new(),
            });
        }
    }
    out
}

pub fn samples() -> Vec<SampleRow> {
    let mut out = Vec::new();
    for (job, rate) in [("checkout", 3.0), ("payment", 1.5)] {
        for code in ["200", "500"] {
            for step in 0..40i64 {
                let factor = if code == "500" { 0.1 } else { 1.0 };
                out.push(SampleRow {
                    metric: "http_requests_total".into(),
                    labels: kv(&[("code", code), ("job", job)]),
                    timestamp_ns: T0 + step * 15 * SEC,
                    value: (step as f64 * 15.0 * rate * factor).round(),
                });
            }
        }
        for step in 0..40i64 {
            out.push(SampleRow {
                metric: "process_memory_bytes".into(),
                labels: kv(&[("job", job)]),
                timestamp_ns: T0 + step * 15 * SEC,
                value: 1.5e8 + step as f64 * 1024.5,
            });
        }
    }
    out
}

/// A query state over a storage in `dir`.
pub fn state(dir: &std::path::Path) -> QueryState {
    QueryState::new(
        Storage::open(dir, StorageConfig::default()).unwrap(),
        QueryConfig::default(),
    )
}

/// Stores `files` for the default tenant and flushes them to a file, then `memory`,
/// which stays in the memtable: a table read over both.
pub async fn store_split(
    st: &QueryState,
    signal: osprey_storage::Signal,
    files: arrow::array::RecordBatch,
    memory: arrow::array::RecordBatch,
) {
    st.storage.append("default", signal, files).await.unwrap();
    st.storage.flush().await.unwrap();
    st.storage.append("default", signal, memory).await.unwrap();
}

/// The API port's query router, with the request-context layer the listeners add.
pub fn app(st: &QueryState) -> axum::Router {
    let ops = OpsState {
        storage: st.storage.clone(),
        registry: Default::default(),
        shutting_down: Default::default(),
    };
    osprey_query::router(st.clone(), ops.clone())
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(osprey_auth::Authenticator::default()),
            osprey_auth::http_context,
        ))
        .merge(osprey_query::probes_router(ops))
}

/// One request, answered in-process: its status and JSON body (a non-JSON body
/// comes back as a JSON string). Execution statistics (timings) are dropped.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<(&str, String)>,
    tenant: Option<&str>,
) -> (u16, Value) {
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    if let Some((content_type, _)) = &body {
        req = req.header("content-type", *content_type);
    }
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let req = req
        .body(body.map(|(_, b)| Body::from(b)).unwrap_or_else(Body::empty))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let mut json: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    if let Some(data) = json.get_mut("data").and_then(Value::as_object_mut) {
        data.remove("stats");
    }
    (status, json)
}
