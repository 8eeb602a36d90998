//! SQL filters on `body` read only the rows the full-text index names
//! (`sql/body_filter.rs`, `sql/provider.rs`): the Parquet scan of a file is handed the
//! index's candidate rows, and files with none are not listed.

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
    st.storage
        .append("default", Signal::Logs, logs_batch(&rows).unwrap())
        .await
        .unwrap();
    st.storage.flush().await.unwrap();
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
