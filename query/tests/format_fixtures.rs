//! Data written by an earlier on-disk format is still read, whole and unchanged.
//!
//! `storage/tests/fixtures/data-v1/` to `data-v6/` are data directories
//! (MANIFEST, Parquet files of every signal with their trace-id sidecars, tag and
//! full-text indexes, series files) written from the dataset below by six formats:
//! samples a row each (`data-v1`), samples in runs per series (`data-v2`,
//! `files/runs.rs`), logs files with their stream volumes in the footer (`data-v3`,
//! `files/volumes.rs`), logs files with trace-id bloom filters (`data-v4`,
//! `files/encoding.rs`), full-text indexes keeping the bodies' `| json` labels
//! (`data-v5`, `index/json_fields.rs`), and span kinds and status codes as Arrow
//! dictionaries (`data-v6`, `files/layout.rs`); `expected.json` beside each holds what the API
//! answered over it (the logs-of-a-trace questions, added with `data-v4`, hold the same answers in
//! the older directories: there the column is read; so do LogQL's `| json` answers,
//! added with `data-v5`, where the older indexes have the bodies parsed).
//! This test opens a copy of each with today's code and asks the same questions
//! through the API: SQL over each table (every column, through the file layouts), a
//! trace by id (trace-id sidecar), a tag search (tag index), a log search (full-text
//! index), PromQL (series files and the samples' run index) and Loki's volume, stats
//! and series (the logs footer's stream volumes, or the rows without them). A format change must
//! keep these answers. Opening `data-v1` migrates its samples file to runs; the test
//! opens it a second time to read what the migration left.
//!
//! `OSPREY_WRITE_FIXTURES=data-vN cargo nextest run -E 'test(format_fixture)'` writes a
//! new fixture (do that only for a new format version, as a new directory, keeping
//! the old ones); writing also checks that the answers over the files equal those over
//! the same rows in memory.
//!
//! Times: fixed (2023-11-14), as no retention or re-dating runs in this test.

// A test: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{SEC, T0, call, logs, samples, spans, state};
use osprey_query::QueryState;
use osprey_storage::Signal;
use osprey_storage::schema::{logs_batch, samples_batch, spans_batch};
use serde_json::Value;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../storage/tests/fixtures")
        .join(name)
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
            "logs_by_trace",
            "GET",
            format!(
                "/api/v1/logs/search?query=trace_id%3A{:032x}&start={s}&end={}&limit=100",
                5,
                s + 3600
            ),
            None,
        ),
        // LogQL's `| json` (no body here is JSON: every line is an error, which the
        // full-text index says since data-v5, and the bodies say before).
        (
            "logql_json",
            "GET",
            format!(
                "/loki/api/v1/query_range?query={}&start={s}&end={}&step=30",
                "sum%20by%20(detected_level)%20(count_over_time(%7Bservice_name%3D~%22.%2B%22%7D%20%7C%20json%20%7C%20__error__%21%3D%22%22%20%7C%20drop%20__error__%2C%20__error_details__%20%5B30s%5D))",
                s + 90
            ),
            None,
        ),
        (
            "sql_logs_by_trace",
            "POST",
            "/api/v1/sql".into(),
            sql(&format!(
                "SELECT timestamp, service, body, trace_id FROM logs WHERE trace_id = '{:032x}' OR trace_id IN ('{:032x}', '{:032x}') ORDER BY timestamp",
                9, 7, 12
            )),
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
        (
            "loki_volume",
            "GET",
            format!(
                "/loki/api/v1/index/volume?query=%7Bk8s_namespace_name%3D%22shop%22%7D&targetLabels=service_name&start={s}&end={}",
                s + 3600
            ),
            None,
        ),
        (
            "loki_volume_range",
            "GET",
            format!(
                "/loki/api/v1/index/volume_range?query=%7Bk8s_namespace_name%3D%22shop%22%7D&start={s}&end={}&step=600",
                s + 3600
            ),
            None,
        ),
        (
            "loki_index_stats",
            "GET",
            format!(
                "/loki/api/v1/index/stats?query=%7Bk8s_namespace_name%3D%22shop%22%7D&start={s}&end={}",
                s + 3600
            ),
            None,
        ),
        (
            "loki_series",
            "GET",
            format!(
                "/loki/api/v1/series?match[]=%7Bservice_name%3D~%22c.*%22%7D&start={s}&end={}",
                s + 3600
            ),
            None,
        ),
    ]
}

async fn ask(st: &QueryState) -> Value {
    let app = common::app(st);
    let mut answers = serde_json::Map::new();
    for (name, method, uri, body) in requests() {
        let body = body.map(|b| ("application/json", b));
        let (status, json) = call(&app, method, &uri, body, None).await;
        assert_eq!(status, 200, "{name}: {json}");
        answers.insert(name.to_string(), json);
    }
    Value::Object(answers)
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

/// Opens a copy of fixture `name` (twice, the second time over what the first open
/// left) and checks every answer against its `expected.json`.
async fn read_whole(name: &str) {
    let fixture = fixture_dir(name);
    if std::env::var("OSPREY_WRITE_FIXTURES").ok().as_deref() == Some(name) {
        write_fixture(&fixture).await;
    }
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixture.join("expected.json")).expect("fixture missing: see the module doc"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture, tmp.path());
    for open in ["first", "second"] {
        let st = state(tmp.path());
        assert!(
            st.storage.files().len() >= 3,
            "the fixture's files are listed"
        );
        assert!(
            st.storage
                .files()
                .iter()
                .all(|f| f.signal != Signal::Metrics || f.runs > 0),
            "samples files are in the runs layout after open"
        );
        let got = ask(&st).await;
        for (q, want) in expected.as_object().unwrap() {
            assert_eq!(
                &got[q], want,
                "{q} differs from what the format of {name} answered ({open} open)"
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
        // Found through the trace-id filters (data-v4) or by reading the column.
        assert_eq!(
            got["logs_by_trace"]["data"]["result"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            got["sql_logs_by_trace"]["rows"].as_array().unwrap().len(),
            3
        );
        assert_eq!(
            got["logql_json"]["data"]["result"]
                .as_array()
                .unwrap()
                .len(),
            3,
            "{}",
            got["logql_json"]
        );
        st.storage.close().await.unwrap();
    }
}

#[tokio::test]
async fn format_fixture_v1_is_read_whole() {
    read_whole("data-v1").await;
}

#[tokio::test]
async fn format_fixture_v2_is_read_whole() {
    read_whole("data-v2").await;
}

#[tokio::test]
async fn format_fixture_v3_is_read_whole() {
    read_whole("data-v3").await;
}

#[tokio::test]
async fn format_fixture_v4_is_read_whole() {
    read_whole("data-v4").await;
}

#[tokio::test]
async fn format_fixture_v5_is_read_whole() {
    read_whole("data-v5").await;
}

/// Spans files written before `kind` and `status_code` were dictionaries in the files'
/// Arrow schema (`data-v5`) merge with files written today: compaction reads both in
/// the current layout, writes that, and the merged file answers as both did.
#[tokio::test]
async fn format_fixture_v5_spans_compact_with_todays_files() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir("data-v5"), tmp.path());
    let st = state(tmp.path());
    let app = common::app(&st);
    let by_kind = || async {
        let q = "SELECT kind, status_code, count(*) AS n, sum(duration_ns) AS d FROM spans \
                 GROUP BY kind, status_code ORDER BY kind, status_code";
        let body = serde_json::json!({ "query": q }).to_string();
        let (status, json) = call(
            &app,
            "POST",
            "/api/v1/sql",
            Some(("application/json", body)),
            None,
        )
        .await;
        assert_eq!(status, 200, "{json}");
        json["rows"].clone()
    };
    let old = by_kind().await;
    st.storage
        .append("default", Signal::Spans, spans_batch(&spans()).unwrap())
        .await
        .unwrap();
    st.storage.flush().await.unwrap();
    let spans_files = || {
        st.storage
            .files()
            .into_iter()
            .filter(|f| f.signal == Signal::Spans)
            .collect::<Vec<_>>()
    };
    assert_eq!(spans_files().len(), 2, "the fixture's file and today's");
    let both = by_kind().await;
    let stats = st.storage.compact_full(None).await.unwrap();
    assert!(stats.merges >= 1, "{stats:?}");
    let merged = spans_files();
    assert_eq!(merged.len(), 1, "the two spans files merged");
    assert_eq!(
        by_kind().await,
        both,
        "the merged file answers as its inputs did"
    );
    // Every group doubled: the same rows twice, once from each format.
    let doubled: Vec<Value> = old
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n = r[2].as_i64().unwrap() * 2;
            let d = r[3].as_i64().unwrap() * 2;
            serde_json::json!([r[0], r[1], n, d])
        })
        .collect();
    assert_eq!(both, Value::Array(doubled));
    // The merged file is written in today's layout.
    let file = std::fs::File::open(tmp.path().join(&merged[0].path)).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap();
    for name in osprey_storage::schema::dictionary_columns(Signal::Spans) {
        assert_eq!(
            reader.schema().field_with_name(name).unwrap().data_type(),
            &osprey_storage::schema::dictionary_type(),
            "{name}"
        );
    }
    st.storage.close().await.unwrap();
}

#[tokio::test]
async fn format_fixture_v6_is_read_whole() {
    read_whole("data-v6").await;
}
