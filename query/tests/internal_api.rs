//! The node-to-node API (`api/internal.rs`), in-process: only the cluster token opens
//! it, and a querier's snapshot plus this node's answer count every acknowledged row
//! once, before and after flushes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use http_body_util::BodyExt;
use osprey_storage::Signal;
use osprey_storage::schema::{logs_batch, spans_batch};
use tower::ServiceExt;

const TOKEN: &str = "cluster-secret";

fn app(st: &osprey_query::QueryState) -> axum::Router {
    osprey_query::internal_router(st.clone(), "ingester-0".into()).layer(
        axum::middleware::from_fn_with_state(
            std::sync::Arc::new(osprey_auth::Authenticator::cluster(TOKEN)),
            osprey_auth::http_context,
        ),
    )
}

struct Answer {
    status: u16,
    rows: usize,
    checkpoint: Option<u64>,
    node: Option<String>,
    memtables: Option<String>,
    body: String,
}

async fn ask(app: &axum::Router, token: Option<&str>, tenant: &str, query: &str) -> Answer {
    let mut req = axum::http::Request::builder()
        .uri(format!("/internal/v1/unflushed?{query}"))
        .header("X-Scope-OrgID", tenant);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let checkpoint = header("x-osprey-checkpoint").and_then(|v| v.parse().ok());
    let node = header("x-osprey-node");
    let memtables = header("x-osprey-memtables");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let rows = if status == 200 {
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum()
    } else {
        0
    };
    Answer {
        status,
        rows,
        checkpoint,
        node,
        memtables,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn rows_in_files(st: &osprey_query::QueryState, tenant: &str, signal: Signal) -> u64 {
    let snap = st.storage.snapshot(tenant, signal);
    snap.files.iter().map(|f| f.rows).sum()
}

#[tokio::test]
async fn unflushed_rows_are_counted_once_with_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    let app = app(&st);
    let logs = common::logs();
    let spans = common::spans();
    let (half, total) = (logs.len() / 2, logs.len());
    st.storage
        .append("a", Signal::Logs, logs_batch(&logs[..half]).unwrap())
        .await
        .unwrap();
    st.storage
        .append("a", Signal::Spans, spans_batch(&spans).unwrap())
        .await
        .unwrap();

    // Only the cluster token opens it.
    assert_eq!(
        ask(&app, None, "a", "signal=logs&after=0").await.status,
        401
    );
    assert_eq!(
        ask(&app, Some("nope"), "a", "signal=logs&after=0")
            .await
            .status,
        401
    );

    let first = ask(&app, Some(TOKEN), "a", "signal=logs&after=0").await;
    assert_eq!((first.status, first.rows), (200, half), "{}", first.body);
    assert_eq!(first.checkpoint, Some(0));
    assert_eq!(first.node.as_deref(), Some("ingester-0"));
    let spans_now = ask(&app, Some(TOKEN), "a", "signal=spans&after=0").await;
    assert_eq!(spans_now.rows, spans.len());
    // Tenants are apart.
    assert_eq!(
        ask(&app, Some(TOKEN), "b", "signal=logs&after=0")
            .await
            .rows,
        0
    );

    // After a flush the old snapshot is refused, naming the new checkpoint; with it,
    // memory and files hold every row once.
    st.storage.flush().await.unwrap();
    st.storage
        .append("a", Signal::Logs, logs_batch(&logs[half..]).unwrap())
        .await
        .unwrap();
    let stale = ask(&app, Some(TOKEN), "a", "signal=logs&after=0").await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let body: serde_json::Value = serde_json::from_str(&stale.body).unwrap();
    assert_eq!(body["errorType"], "conflict");
    assert!(
        body["error"].as_str().unwrap().contains("stale snapshot"),
        "{body}"
    );
    let committed = body["committed"].as_u64().unwrap();
    assert!(committed > 0);
    let fresh = ask(
        &app,
        Some(TOKEN),
        "a",
        &format!("signal=logs&after={committed}"),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.checkpoint, Some(committed));
    assert_eq!(
        rows_in_files(&st, "a", Signal::Logs) + fresh.rows as u64,
        total as u64
    );

    // Bad parameters are named.
    let bad = ask(&app, Some(TOKEN), "a", "signal=events&after=0").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("expected logs, spans or metrics"),
        "{}",
        bad.body
    );
    assert_eq!(ask(&app, Some(TOKEN), "a", "signal=logs").await.status, 400);
    let bad = ask(&app, Some(TOKEN), "a", "signal=logs&after=x:y").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    // Every writer's checkpoints: this node takes its own, 0 when absent (stale here).
    let list = format!("signal=logs&after=other:99,ingester-0:{committed}");
    assert_eq!(ask(&app, Some(TOKEN), "a", &list).await.status, 200);
    assert_eq!(
        ask(&app, Some(TOKEN), "a", "signal=logs&after=other:99")
            .await
            .status,
        409
    );
}

/// `POST /internal/v1/series`: the definitions of the asked series this node knows,
/// for the request's tenant only; unknown ids are left out.
#[tokio::test]
async fn series_definitions_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    let app = app(&st);
    let samples = common::samples();
    st.storage
        .append(
            "a",
            Signal::Metrics,
            osprey_storage::schema::samples_batch(&samples).unwrap(),
        )
        .await
        .unwrap();
    let mut ids: Vec<u64> = samples.iter().map(|s| s.series_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    let ask_series = |tenant: &'static str, ids: Vec<u64>| {
        let app = app.clone();
        async move {
            let req = axum::http::Request::post("/internal/v1/series")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("X-Scope-OrgID", tenant)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::json!({ "ids": ids }).to_string()))
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["series"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let mut asked = ids.clone();
    asked.push(42);
    let found = ask_series("a", asked).await;
    assert_eq!(found.len(), ids.len());
    let first = samples.iter().find(|s| s.series_id() == ids[0]).unwrap();
    let def = found.iter().find(|d| d["id"] == ids[0]).unwrap();
    assert_eq!(def["metric"], first.metric.as_str());
    assert!(!def["labels"].as_array().unwrap().is_empty());
    assert!(ask_series("b", ids).await.is_empty(), "tenants are apart");
}

/// An asker that kept earlier answers gets only the batches after those it holds, by
/// memtable; a count that does not fit the memtable (it changed) gets all of it again.
#[tokio::test]
async fn only_the_batches_an_asker_lacks_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    let app = app(&st);
    let logs = common::logs();
    for chunk in logs.chunks(logs.len() / 3).take(2) {
        st.storage
            .append("a", Signal::Logs, logs_batch(chunk).unwrap())
            .await
            .unwrap();
    }
    let first = ask(&app, Some(TOKEN), "a", "signal=logs&after=0").await;
    let layout = first.memtables.clone().unwrap();
    let (seg, rest) = layout.split_once(':').unwrap();
    assert_eq!(rest, "0:2", "{layout}");
    // Holding both batches: nothing is sent.
    let again = ask(
        &app,
        Some(TOKEN),
        "a",
        &format!("signal=logs&after=0&have={seg}:2"),
    )
    .await;
    assert_eq!((again.status, again.rows), (200, 0));
    assert_eq!(
        again.memtables.as_deref(),
        Some(format!("{seg}:2:2").as_str())
    );
    // One more batch: only it is sent.
    let third = logs.chunks(logs.len() / 3).nth(2).unwrap();
    st.storage
        .append("a", Signal::Logs, logs_batch(third).unwrap())
        .await
        .unwrap();
    let next = ask(
        &app,
        Some(TOKEN),
        "a",
        &format!("signal=logs&after=0&have={seg}:2"),
    )
    .await;
    assert_eq!(next.rows, third.len());
    assert_eq!(
        next.memtables.as_deref(),
        Some(format!("{seg}:2:3").as_str())
    );
    // A count larger than the memtable's: all of it again.
    let all = ask(
        &app,
        Some(TOKEN),
        "a",
        &format!("signal=logs&after=0&have={seg}:9"),
    )
    .await;
    assert_eq!(
        all.memtables.as_deref(),
        Some(format!("{seg}:0:3").as_str())
    );
    assert_eq!(
        all.rows,
        logs.chunks(logs.len() / 3)
            .take(3)
            .map(<[_]>::len)
            .sum::<usize>()
    );
    let bad = ask(&app, Some(TOKEN), "a", "signal=logs&after=0&have=x").await;
    assert_eq!(bad.status, 400);
}

async fn get_json(app: &axum::Router, tenant: &str, uri: &str) -> (u16, serde_json::Value) {
    let req = axum::http::Request::get(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("X-Scope-OrgID", tenant)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Exemplars of the series a query's selectors match and metric metadata, which only
/// the ingester that received them holds, for the asking tenant only.
#[tokio::test]
async fn exemplars_and_metadata_of_the_asking_tenant() {
    use osprey_storage::series::exemplars::Exemplar;
    use osprey_storage::series::metadata::Metadata;
    let dir = tempfile::tempdir().unwrap();
    let st = common::state(dir.path());
    let app = app(&st);
    let exemplar = |tenant: &str, job: &str, ts: i64| Exemplar {
        tenant: tenant.into(),
        metric: "rpc_total".into(),
        series_labels: vec![("job".into(), job.into())],
        labels: vec![("trace_id".into(), format!("{job}-{ts}"))],
        value: 1.5,
        timestamp_ms: ts,
    };
    st.storage.exemplars().add([
        exemplar("a", "api", 1_000),
        exemplar("a", "db", 2_000),
        exemplar("a", "api", 9_000),
        exemplar("b", "api", 1_500),
    ]);
    let q = "/internal/v1/exemplars?query=sum%28rate%28rpc_total%7Bjob%3D%22api%22%7D%5B5m%5D%29%29&start=0&end=5000";
    let (status, body) = get_json(&app, "a", q).await;
    assert_eq!(status, 200, "{body}");
    let found: Vec<Exemplar> = serde_json::from_value(body["exemplars"].clone()).unwrap();
    assert_eq!(found, vec![exemplar("a", "api", 1_000)]);
    let (status, body) =
        get_json(&app, "a", "/internal/v1/exemplars?query=sum(&start=0&end=1").await;
    assert_eq!(status, 400, "{body}");

    let meta = |help: &str| Metadata {
        kind: "counter".into(),
        help: help.into(),
        unit: String::new(),
    };
    st.storage.metadata().set("a", "rpc_total", meta("RPCs."));
    st.storage.metadata().set("a", "up", meta("Up."));
    st.storage
        .metadata()
        .set("b", "rpc_total", meta("Other tenant."));
    let (status, body) = get_json(&app, "a", "/internal/v1/metadata").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["metadata"],
        serde_json::json!({
            "rpc_total": [{"type": "counter", "help": "RPCs.", "unit": ""}],
            "up": [{"type": "counter", "help": "Up.", "unit": ""}],
        })
    );
    let (_, body) = get_json(&app, "b", "/internal/v1/metadata?metric=rpc_total").await;
    assert_eq!(body["metadata"]["rpc_total"][0]["help"], "Other tenant.");
}
