//! SQL filters on `body` read only the rows the full-text index names
//! (`sql/body_filter.rs`, `sql/provider.rs`): the Parquet scan of a file is handed the
//! index's candidate rows, and files with none are not listed. Filters on trace ids
//! hand it only the row groups whose bloom filters may hold one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::state;
use osprey_storage::Signal;
use osprey_storage::schema::{LogRow, logs_batch};

/// The plan of `sql` as run, with its metrics.
async fn explain_analyze(st: &osprey_query::QueryState, sql: &str) -> String {
    let r = osprey_query::sql::run(st, "default", &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .unwrap();
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stores `rows` and flushes them to a logs file.
async fn store_flushed(st: &osprey_query::QueryState, rows: &[LogRow]) {
    st.storage
        .append("default", Signal::Logs, logs_batch(rows).unwrap())
        .await
        .unwrap();
    st.storage.flush().await.unwrap();
}

/// The value of metric `name` on the Parquet scan's line of a plan.
fn scan_metric(plan: &str, name: &str) -> u64 {
    let line = plan
        .lines()
        .flat_map(|l| l.split("DataSourceExec").skip(1))
        .find(|l| l.contains("file_type=parquet"))
        .unwrap_or_else(|| panic!("no Parquet scan in {plan}"));
    let at = line
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let digits: String = line[at + name.len() + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

#[tokio::test]
async fn a_body_filter_reads_only_the_candidate_rows() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let rows: Vec<LogRow> = (0..2000)
        .map(|i| LogRow {
            service: "api".into(),
            body: if i % 500 == 7 {
                format!("Payment DECLINED for order {i}")
            } else {
                format!("served request {i} status=200")
            },
            timestamp_ns: 1_700_000_000_000_000_000 + i,
            ..Default::default()
        })
        .collect();
    store_flushed(&st, &rows).await;
    let count = |sql: &'static str| {
        let st = st.clone();
        async move {
            osprey_query::sql::run(&st, "default", sql)
                .await
                .unwrap()
                .rows[0][0]
                .as_i64()
                .unwrap()
        }
    };
    // Four rows hold the token; the filter is case-sensitive, the index is not.
    assert_eq!(
        count("SELECT count(*) FROM logs WHERE body LIKE '%DECLINED for%'").await,
        4
    );
    assert_eq!(
        count("SELECT count(*) FROM logs WHERE body LIKE '%declined for%'").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM logs WHERE body ILIKE '%ECLINED%'").await,
        4
    );
    // The scan's pushed-down filter saw only the 4 candidates, not the 2000 rows.
    let plan = explain_analyze(
        &st,
        "SELECT count(*) FROM logs WHERE body LIKE '%DECLINED for%'",
    )
    .await;
    let seen =
        scan_metric(&plan, "pushdown_rows_matched") + scan_metric(&plan, "pushdown_rows_pruned");
    assert_eq!(seen, 4, "{plan}");
    // A fragment no row holds: the file is not listed at all.
    let plan = explain_analyze(&st, "SELECT count(*) FROM logs WHERE body LIKE '%zzqqx%'").await;
    assert!(!plan.contains("file_type=parquet"), "{plan}");
}

/// `trace_id = '…'` scans only the row groups whose bloom filters may hold the id:
/// DataFusion is handed them as a selection, so it reads no other group's filter.
#[tokio::test]
async fn a_trace_id_filter_scans_only_the_groups_that_may_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    // Ids in no order, as random ids are: no group's min/max rules one out.
    let id = |i: u64| {
        let mixed = u128::from(i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        format!("{mixed:032x}")
    };
    // Three row groups of a logs file (32k rows each at most).
    let rows: Vec<LogRow> = (0..70_000)
        .map(|i| LogRow {
            service: "api".into(),
            body: format!("line {i}"),
            trace_id: id(i),
            timestamp_ns: 1_700_000_000_000_000_000 + i as i64,
            ..Default::default()
        })
        .collect();
    store_flushed(&st, &rows).await;
    let sql = format!(
        "SELECT body FROM logs WHERE trace_id = '{}' ORDER BY timestamp",
        id(40_000)
    );
    let r = osprey_query::sql::run(&st, "default", &sql).await.unwrap();
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0][0].as_str(), Some("line 40000"));
    let plan = explain_analyze(&st, &sql).await;
    // Of the file's three groups, the one holding the id is the only one DataFusion
    // weighs (`N total → M matched`); before, it weighed all three and read their
    // filters.
    assert_eq!(
        scan_metric(&plan, "row_groups_pruned_statistics"),
        1,
        "{plan}"
    );
    assert_eq!(
        scan_metric(&plan, "row_groups_pruned_bloom_filter"),
        1,
        "{plan}"
    );
    // An id no row has lists no file.
    let none = osprey_query::sql::run(
        &st,
        "default",
        &format!(
            "SELECT count(*) FROM logs WHERE trace_id = '{}'",
            id(90_000)
        ),
    )
    .await
    .unwrap();
    assert_eq!(none.rows[0][0].as_i64(), Some(0));
}
