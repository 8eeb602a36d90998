//! SQL filters on span kinds and status codes (`provider.rs::enum_column`): applied
//! to the file batches as decoded, not pushed into the Parquet source. Counts over
//! files and the memtable together equal the counts of the rows written, for the
//! filters alone, combined with others, and in an OR with a column that is pushed;
//! the plan shows where they run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{SEC, T0, state, store_split};
use osprey_storage::Signal;
use osprey_storage::schema::{SpanRow, spans_batch};

const KINDS: [&str; 3] = ["SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_INTERNAL"];
const STATUSES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

fn spans() -> Vec<SpanRow> {
    (0..3000)
        .map(|i: i64| {
            let start = T0 + i * SEC / 100;
            SpanRow {
                service: format!("svc-{}", i % 4),
                start_time_ns: start,
                end_time_ns: start + 1000 + i,
                trace_id: format!("{:032x}", i / 5 + 1),
                span_id: format!("{:016x}", i + 1),
                name: "op".into(),
                kind: KINDS[(i % 7 % 3) as usize].into(),
                status_code: STATUSES[(i % 11 % 3) as usize].into(),
                events: "[]".into(),
                links: "[]".into(),
                ..Default::default()
            }
        })
        .collect()
}

async fn count(st: &osprey_query::QueryState, filter: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM spans WHERE {filter}");
    let r = osprey_query::sql::run(st, "default", &sql).await.unwrap();
    r.rows[0][0].as_u64().unwrap()
}

#[tokio::test]
async fn kind_and_status_filters_count_every_matching_span_once() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let rows = spans();
    let (files, memory) = rows.split_at(2000);
    let (files, memory) = (spans_batch(files).unwrap(), spans_batch(memory).unwrap());
    store_split(&st, Signal::Spans, files, memory).await;
    let expect = |keep: &dyn Fn(&SpanRow) -> bool| rows.iter().filter(|r| keep(r)).count() as u64;
    let server = |r: &SpanRow| r.kind == "SPAN_KIND_SERVER";
    let error = |r: &SpanRow| r.status_code == "STATUS_CODE_ERROR";
    assert_eq!(
        count(&st, "kind = 'SPAN_KIND_SERVER'").await,
        expect(&server)
    );
    assert_eq!(
        count(
            &st,
            "kind = 'SPAN_KIND_SERVER' AND status_code = 'STATUS_CODE_ERROR'"
        )
        .await,
        expect(&|r| server(r) && error(r))
    );
    assert_eq!(
        count(
            &st,
            "status_code = 'STATUS_CODE_ERROR' AND service = 'svc-1'"
        )
        .await,
        expect(&|r| error(r) && r.service == "svc-1")
    );
    assert_eq!(
        count(&st, "kind = 'SPAN_KIND_CLIENT' OR service = 'svc-2'").await,
        expect(&|r| r.kind == "SPAN_KIND_CLIENT" || r.service == "svc-2")
    );
    assert_eq!(
        count(
            &st,
            "status_code IN ('STATUS_CODE_OK', 'STATUS_CODE_UNSET')"
        )
        .await,
        expect(&|r| !error(r))
    );
    // Where each filter runs: the kind on the file batches, the service in the scan.
    let r = osprey_query::sql::run(
        &st,
        "default",
        "EXPLAIN SELECT count(*) FROM spans WHERE kind = 'SPAN_KIND_SERVER' AND service = 'svc-1'",
    )
    .await
    .unwrap();
    let plan: String = r
        .rows
        .iter()
        .filter_map(|row| row[1].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let layout = plan
        .lines()
        .find(|l| l.contains("FileLayoutExec"))
        .unwrap_or_else(|| panic!("no FileLayoutExec in {plan}"));
    assert!(layout.contains("filter=kind"), "{plan}");
    let source = plan
        .lines()
        .find(|l| l.contains("DataSourceExec") && l.contains("parquet"))
        .unwrap_or_else(|| panic!("no Parquet source in {plan}"));
    assert!(source.contains("service"), "{source}");
    assert!(!source.contains("SPAN_KIND_SERVER"), "{source}");
}
