//! LogQL ranges that start with `| json` and read only labels after it take the labels
//! from each file's full-text index (`logs/lines.rs`, `osprey_storage::index::json_fields`)
//! instead of reading and parsing the bodies; ranges that read no line read no body. Their answers, errors included, must be
//! exactly those of the same lines read from memory, where every line is parsed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::state;
use osprey_logql::logql::{Query, parse};
use osprey_query::logs::logql::range;
use osprey_storage::Signal;
use osprey_storage::schema::{LogRow, logs_batch};

const MIN: i64 = 60_000_000_000;

/// Lines of two services: JSON of a few shapes (nested, repeated and sanitised names,
/// an id with a value per line), plain text and broken JSON; some carry a `level`
/// attribute, which a JSON `level` overrides.
fn rows(start: i64) -> Vec<LogRow> {
    (0..3000i64)
        .map(|i| {
            let level = ["info", "warn", "error", "debug"][(i % 4) as usize];
            let body = match i % 10 {
                0 => format!("plain text line {i}"),
                1 => format!(r#"{{"level":"{level}","msg":"cut"#),
                2 => format!(
                    r#"{{"level":"{level}","http":{{"status":{},"method":"GET"}},"user":"u-{i}"}}"#,
                    200 + (i % 3) * 100
                ),
                3 => format!(r#"{{"le-vel":"x","level":"","latency":{}}}"#, i % 50),
                4 => format!(
                    r#"{{"level":"info","level":"{level}","latency":{}}}"#,
                    i % 7
                ),
                _ => format!(
                    r#"{{"level":"{level}","msg":"request done","user":"u-{i}","latency":{}}}"#,
                    i % 90
                ),
            };
            let attributes = if i % 3 == 0 {
                vec![("level".to_string(), "attr".to_string())]
            } else {
                Vec::new()
            };
            LogRow {
                service: if i % 2 == 0 { "api" } else { "web" }.into(),
                severity_number: 9 + (i % 3) as i32 * 4,
                body,
                timestamp_ns: start + i * 20_000_000_000 / 10,
                attributes: attributes.into_iter().collect(),
                ..Default::default()
            }
        })
        .collect()
}

#[tokio::test]
async fn json_labels_from_the_index_answer_as_the_lines_do() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let start = (now - 240 * MIN) / MIN * MIN;
    let lines = rows(start);
    // Two files in the `files` tenant, the same lines in memory in `memory`.
    let (a, b) = lines.split_at(1700);
    for part in [a, b] {
        st.storage
            .append("files", Signal::Logs, logs_batch(part).unwrap())
            .await
            .unwrap();
        st.storage.flush().await.unwrap();
    }
    st.storage
        .append("memory", Signal::Logs, logs_batch(&lines).unwrap())
        .await
        .unwrap();
    let end = start + 120 * MIN;
    let queries = [
        // Every line parsed: the plain and broken ones fail the query, naming a series.
        r#"sum by (level) (count_over_time({service_name="api"} | json [1m]))"#,
        r#"sum by (level) (count_over_time({service_name=~".+"} | json | __error__="" [1m]))"#,
        r#"sum by (http_status) (rate({service_name="api"} | json | level="error" [5m]))"#,
        r#"sum by (le_vel, level) (count_over_time({service_name="web"} | json | __error__="" [2m]))"#,
        r#"max by (level) (max_over_time({service_name=~"api|web"} | json | __error__="" | unwrap latency [1m]))"#,
        r#"sum by (level, detected_level) (count_over_time({service_name="api"} | json | __error__="" | drop msg [1m]))"#,
        r#"sum(count_over_time({service_name="api"} | json | __error__="" | http_status >= 300 [1m]))"#,
        // A label with a value per line is not kept: those files are read.
        r#"sum by (user) (count_over_time({service_name="api"} | json | __error__="" | level="error" [10m]))"#,
        r#"sum by (level) (count_over_time({service_name="api"} | json | __error__!="" [1m]))"#,
        // Ranges that read no line: no body is read at all.
        r#"sum by (detected_level) (count_over_time({service_name="api"} [1m]))"#,
        r#"count_over_time({service_name=~"api|web"} | level="attr" [1m])"#,
        r#"rate({service_name="web"} [5m])"#,
        r#"sum by (service_name) (count_over_time({service_name=~".+"} | detected_level="error" | drop level [2m]))"#,
        r#"sum by (level) (bytes_over_time({service_name="api"} [1m]))"#,
    ];
    for q in queries {
        let Query::Metric(expr) = parse(q).unwrap() else {
            panic!("{q} is not a metric query")
        };
        let from_files = range(&st, "files", &expr, start, end, MIN).await;
        let from_memory = range(&st, "memory", &expr, start, end, MIN).await;
        match (from_files, from_memory) {
            (Ok(f), Ok(m)) => {
                assert!(!m.is_empty(), "{q}: no series");
                assert_eq!(f, m, "{q}");
            }
            // Which failing line is met first depends on the scan's order (files in
            // parallel): the error's kind must agree, and its series be one of a line.
            (Err(f), Err(m)) => {
                let kind = |e: &str| e.split(" for series").next().unwrap_or("").to_string();
                assert_eq!(kind(&f.to_string()), kind(&m.to_string()), "{q}");
            }
            (f, m) => panic!("{q}: files {f:?}, memory {m:?}"),
        }
    }
    // The first query fails (plain lines are not JSON), as Loki's does.
    let Query::Metric(expr) = parse(queries[0]).unwrap() else {
        unreachable!()
    };
    let err = range(&st, "files", &expr, start, end, MIN)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("JSONParserErr"), "{err}");
}
