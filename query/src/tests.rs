//! SQL over memtable ∪ files with the file layouts of `osprey_storage::files::layout`: every
//! projection must see the same rows and values whether a row is in memory or a file.

use osprey_config::{QueryConfig, StorageConfig};
use osprey_storage::schema::{LogRow, SampleRow, SpanRow, logs_batch, samples_batch, spans_batch};
use osprey_storage::{Signal, Storage};
use serde_json::json;

use crate::QueryState;

/// Query parameters as a handler receives them.
pub(crate) fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn state() -> (tempfile::TempDir, QueryState) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), StorageConfig::default()).unwrap();
    let logs = |tag: &str| {
        let rows: Vec<LogRow> = (0..3)
            .map(|i| LogRow {
                service: "svc".into(),
                timestamp_ns: 1_795_000_000_000_000_000 + i,
                observed_timestamp_ns: 1_795_000_000_000_000_000 + i * 2,
                body: format!("{tag}{i}"),
                attributes: vec![("seq".into(), format!("{tag}{i}"))],
                resource: vec![("service.name".into(), "svc".into())],
                ..Default::default()
            })
            .collect();
        logs_batch(&rows).unwrap()
    };
    let samples = |v: f64| {
        samples_batch(&[SampleRow {
            metric: "up".into(),
            labels: vec![("job".into(), "a".into())],
            timestamp_ns: 1_795_000_000_000_000_000 + v as i64,
            value: v,
        }])
        .unwrap()
    };
    let span = |name: &str, dur: i64| {
        spans_batch(&[SpanRow {
            service: "svc".into(),
            name: name.into(),
            trace_id: format!("{dur:032x}"),
            span_id: format!("{dur:016x}"),
            start_time_ns: 1_795_000_000_000_000_000,
            end_time_ns: 1_795_000_000_000_000_000 + dur,
            ..Default::default()
        }])
        .unwrap()
    };
    storage
        .append("default", Signal::Spans, span("f", 7))
        .await
        .unwrap();
    storage
        .append("default", Signal::Logs, logs("f"))
        .await
        .unwrap();
    storage
        .append("default", Signal::Metrics, samples(0.25))
        .await
        .unwrap();
    storage.flush().await.unwrap();
    storage
        .append("default", Signal::Logs, logs("m"))
        .await
        .unwrap();
    storage
        .append("default", Signal::Spans, span("m", 9))
        .await
        .unwrap();
    storage
        .append("default", Signal::Metrics, samples(1.5))
        .await
        .unwrap();
    let st = QueryState::new(storage, QueryConfig::default());
    (dir, st)
}

async fn rows(st: &QueryState, q: &str) -> serde_json::Value {
    json!(crate::sql::run(st, "default", q).await.unwrap().rows)
}

#[tokio::test]
async fn projections_over_memory_and_files_agree() {
    let (_dir, st) = state().await;
    assert_eq!(
        rows(&st, "SELECT attributes['seq'] FROM logs ORDER BY 1").await,
        json!([["f0"], ["f1"], ["f2"], ["m0"], ["m1"], ["m2"]])
    );
    assert_eq!(
        rows(
            &st,
            "SELECT attributes['seq'], service FROM logs ORDER BY 1 LIMIT 2"
        )
        .await,
        json!([["f0", "svc"], ["f1", "svc"]])
    );
    assert_eq!(
        rows(&st, "SELECT body, CAST(observed_timestamp AS BIGINT) - CAST(timestamp AS BIGINT) FROM logs ORDER BY 1").await,
        json!([["f0", 0], ["f1", 1], ["f2", 2], ["m0", 0], ["m1", 1], ["m2", 2]])
    );
    assert_eq!(rows(&st, "SELECT count(*) FROM logs").await, json!([[6]]));
    assert_eq!(
        rows(&st, "SELECT value FROM metrics ORDER BY 1").await,
        json!([[0.25], [1.5]])
    );
    assert_eq!(
        rows(
            &st,
            "SELECT metric, labels['job'], value FROM metrics ORDER BY value"
        )
        .await,
        json!([["up", "a", 0.25], ["up", "a", 1.5]])
    );
    assert_eq!(
        rows(&st, "SELECT count(*) FROM samples").await,
        json!([[2]])
    );
}

/// The typed seam: an instant query's answer is the evaluator's value, with labels,
/// before any rendering (what rule evaluation reads).
#[tokio::test]
async fn promql_evaluation_returns_the_typed_value() {
    let (_dir, st) = state().await;
    let t = 1_795_000_000_000_000_000 + 1_000_000_000;
    let req = |query| crate::promql::Request {
        query,
        start_ns: t,
        end_ns: t,
        step_ms: None,
        timeout: None,
    };
    let e = crate::promql::evaluate(&st, "default", req("up * 2"))
        .await
        .unwrap();
    assert!(e.is_instant());
    let osprey_promql::Value::Vector(series) = &e.value else {
        panic!("expected a vector, got {}", e.value.type_name());
    };
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels.get("job"), Some("a"));
    assert_eq!(series[0].labels.get("__name__"), None);
    assert_eq!(series[0].vals, vec![Some(3.0)]);
}
