//! Data written by an earlier on-disk format is still read, whole and unchanged.
//!
//! `storage/tests/fixtures/data-v1/` is a data directory (MANIFEST, Parquet files of
//! every signal with their trace-id sidecars, tag and full-text indexes, series
//! files) written by the format of 2026-12 from the dataset below; `expected.json`
//! beside it holds what the API answered over it. This test opens a copy of it with
//! today's code and asks the same questions through the API: SQL over each table
//! (every column, through the file layouts), a trace by id (trace-id sidecar), a tag
//! search (tag index), a log search (full-text index) and PromQL (series files and
//! the samples' page index). A format change must keep these answers.
//!
//! `OSPREY_WRITE_FIXTURES=1 cargo nextest run -E 'test(format_fixture)'` writes a new
//! fixture (do that only for a new format version, as a new directory, keeping the
//! old ones); writing also checks that the answers over the files equal those over
//! the same rows in memory.
//!
//! Times: fixed (2023-11-14), as no retention or re-dating runs in this test.

// A test: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use http_body_util::BodyExt;
use osprey_config::{QueryConfig, StorageConfig};
use osprey_query::{OpsState, QueryState};
use osprey_storage::schema::{LogRow, SampleRow, SpanRow, logs_batch, samples_batch, spans_batch};
use osprey_storage::{Signal, Storage};
use serde_json::Value;
use tower::ServiceExt;

/// 2023-11-14T22:13:20Z, in ns.
const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage/tests/fixtures/data-v1")
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn logs() -> Vec<LogRow> {
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

fn spans() -> Vec<SpanRow> {
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

fn samples() -> Vec<SampleRow> {
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

/// The questions, as (name, method, path and query, body).
fn requests() -> Vec<(&'static str, &'static str, String, Option<String>)> {
    let s = T0 / SEC;
    let sql = |q: &str| Some(serde_json::json!({ "query": q }).to_string());
    vec![
        (
            "sql_logs",
            "POST",
            "/api/v1/sql".into(),
            sql(
                "SELECT service, timestamp, observed_timestamp, severity_text, severity_number, body, trace_id, span_id, attributes, resource, scope FROM logs ORDER BY timestamp, service",
            ),
        ),
        (
            "sql_spans",
            "POST",
            "/api/v1/sql".into(),
            sql(
                "SELECT service, start_time, end_time, duration_ns, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, attributes, resource, events, links, attribute_types FROM spans ORDER BY start_time, span_id",
            ),
        ),
        (
            "sql_metrics",
            "POST",
            "/api/v1/sql".into(),
            sql(
                "SELECT metric, labels, timestamp, value FROM metrics ORDER BY metric, labels['job'], labels['code'], timestamp",
            ),
        ),
        (
            "trace_by_id",
            "GET",
            format!("/api/traces/{:032x}", 0xabc3),
            None,
        ),
        (
            "tag_search",
            "GET",
            format!(
                "/api/traces?service=payment&tags=%7B%22http.response.status_code%22%3A%22500%22%7D&start={}&end={}&limit=20",
                s * 1_000_000,
                (s + 3600) * 1_000_000
            ),
            None,
        ),
        (
            "log_search",
            "GET",
            format!(
                "/api/v1/logs/search?query=timeout%20service%3Apayment&start={s}&end={}&limit=100",
                s + 3600
            ),
            None,
        ),
        (
            "promql_rate",
            "GET",
            format!(
                "/api/v1/query_range?query=sum%20by%20(job)%20(rate(http_requests_total%5B1m%5D))&start={}&end={}&step=60",
                s + 60,
                s + 540
            ),
            None,
        ),
        (
            "promql_gauge",
            "GET",
            format!("/api/v1/query?query=process_memory_bytes&time={}", s + 300),
            None,
        ),
        (
            "series",
            "GET",
            format!(
                "/api/v1/series?match[]=http_requests_total&start={s}&end={}",
                s + 600
            ),
            None,
        ),
    ]
}

async fn ask(st: &QueryState) -> Value {
    let ops = OpsState {
        storage: st.storage.clone(),
        registry: Default::default(),
        shutting_down: Default::default(),
    };
    let app = osprey_query::router(st.clone(), ops)
        .layer(axum::middleware::from_fn(osprey_auth::http_context));
    let mut answers = serde_json::Map::new();
    for (name, method, uri, body) in requests() {
        let mut req = axum::http::Request::builder().method(method).uri(&uri);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let mut json: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}: {bytes:?}"));
        // Execution statistics are timings, not data.
        if let Some(data) = json.get_mut("data").and_then(Value::as_object_mut) {
            data.remove("stats");
        }
        assert_eq!(status, 200, "{name}: {json}");
        answers.insert(name.to_string(), json);
    }
    Value::Object(answers)
}

fn state(dir: &Path) -> QueryState {
    QueryState {
        storage: Storage::open(dir, StorageConfig::default()).unwrap(),
        config: QueryConfig::default(),
    }
}

async fn write_fixture(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let st = state(dir);
    for (signal, batch) in [
        (Signal::Logs, logs_batch(&logs()).unwrap()),
        (Signal::Spans, spans_batch(&spans()).unwrap()),
        (Signal::Metrics, samples_batch(&samples()).unwrap()),
    ] {
        st.storage.append("default", signal, batch).await.unwrap();
    }
    let in_memory = ask(&st).await;
    st.storage.flush().await.unwrap();
    let from_files = ask(&st).await;
    assert_eq!(
        in_memory, from_files,
        "answers over files differ from those over memory"
    );
    st.storage.close().await.unwrap();
    drop(st);
    let _ = std::fs::remove_dir_all(dir.join("wal"));
    let text = serde_json::to_string_pretty(&from_files).unwrap();
    std::fs::write(dir.join("expected.json"), text + "\n").unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn format_fixture_v1_is_read_whole() {
    let fixture = fixture_dir();
    if std::env::var_os("OSPREY_WRITE_FIXTURES").is_some() {
        write_fixture(&fixture).await;
    }
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixture.join("expected.json")).expect("fixture missing: see the module doc"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture, tmp.path());
    let st = state(tmp.path());
    assert!(
        st.storage.files().len() >= 3,
        "the fixture's files are listed"
    );
    let got = ask(&st).await;
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(
            &got[name], want,
            "{name} differs from what the format of 2026-12 answered"
        );
    }
    // The answers are about the data, not empty.
    assert_eq!(got["sql_logs"]["rows"].as_array().unwrap().len(), 60);
    assert_eq!(got["sql_spans"]["rows"].as_array().unwrap().len(), 18);
    assert_eq!(got["sql_metrics"]["rows"].as_array().unwrap().len(), 240);
    assert!(
        !got["log_search"]["data"]["result"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!got["tag_search"]["data"].as_array().unwrap().is_empty());
}
