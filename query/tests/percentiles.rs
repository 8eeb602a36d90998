//! SQL's `approx_percentile_cont` (Osprey's grouped sketch, `query/src/sql/sketch.rs`)
//! against DataFusion's exact `percentile_cont` on the same spans: equal where a group
//! holds few values, within the sketch's 0.4 % where it holds many, in both call
//! forms, with and without GROUP BY, over files and the memtable together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{SEC, T0, state, store_split};
use osprey_storage::Signal;
use osprey_storage::schema::{SpanRow, spans_batch};
use serde_json::Value;

/// Durations skewed like latencies (log-uniform over 10 µs .. 10 s), per service:
/// `big` has 20,000 spans, `mid` 3,000, `small` 40 (kept exactly).
fn spans() -> Vec<SpanRow> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::new();
    for (service, n) in [("big", 20_000), ("mid", 3_000), ("small", 40)] {
        for i in 0..n {
            let duration = (10_000.0 * (next() * 13.8).exp()).round() as i64;
            let start = T0 + i as i64 * SEC / 1000;
            out.push(SpanRow {
                service: service.into(),
                start_time_ns: start,
                end_time_ns: start + duration,
                trace_id: format!("{:032x}", i + 1),
                span_id: format!("{:016x}", i + 1),
                name: "op".into(),
                kind: "SPAN_KIND_SERVER".into(),
                status_code: "STATUS_CODE_UNSET".into(),
                events: "[]".into(),
                links: "[]".into(),
                ..Default::default()
            });
        }
    }
    out
}

/// [`spans`] stored: the first `1/part` of them in a file, the rest in the memtable.
async fn stored(part: usize) -> (tempfile::TempDir, osprey_query::QueryState) {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let rows = spans();
    let (files, memory) = rows.split_at(rows.len() / part);
    let (files, memory) = (spans_batch(files).unwrap(), spans_batch(memory).unwrap());
    store_split(&st, Signal::Spans, files, memory).await;
    (dir, st)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn approx_percentiles_match_exact_ones() {
    let (_dir, st) = stored(2).await;
    for p in [0.5, 0.9, 0.99] {
        let sql = format!(
            "SELECT service, count(*), \
             approx_percentile_cont(duration_ns, {p}), \
             approx_percentile_cont({p}) WITHIN GROUP (ORDER BY duration_ns), \
             percentile_cont({p}) WITHIN GROUP (ORDER BY duration_ns) \
             FROM spans GROUP BY service ORDER BY service"
        );
        let r = osprey_query::sql::run(&st, "default", &sql).await.unwrap();
        assert_eq!(r.rows.len(), 3);
        for row in &r.rows {
            let (approx, within, exact) = (f(&row[2]), f(&row[3]), f(&row[4]));
            assert_eq!(approx, within, "{row:?}");
            if row[0] == "small" {
                // Exact. DataFusion's percentile_cont rounds its interpolation weight
                // down to a multiple of 1e-6, so the two differ by less than 1e-6 of
                // the gap between the two nearest values.
                let err = (approx - exact).abs() / exact;
                assert!(err <= 1e-6, "p{p} of a small group is exact: {row:?}");
            } else {
                let err = (approx - exact).abs() / exact;
                assert!(err <= 1.0 / 256.0, "p{p} {row:?}: relative error {err}");
            }
        }
        // Without GROUP BY (the plain accumulator).
        let sql = format!(
            "SELECT approx_percentile_cont(duration_ns, {p}), \
             percentile_cont({p}) WITHIN GROUP (ORDER BY duration_ns) FROM spans"
        );
        let r = osprey_query::sql::run(&st, "default", &sql).await.unwrap();
        let (approx, exact) = (f(&r.rows[0][0]), f(&r.rows[0][1]));
        assert!(
            (approx - exact).abs() / exact <= 1.0 / 256.0,
            "p{p}: {approx} vs {exact}"
        );
    }
    // A percentile that is not a literal in 0..=1 is refused by name.
    let e = osprey_query::sql::run(
        &st,
        "default",
        "SELECT approx_percentile_cont(duration_ns, 1.5) FROM spans",
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("between 0.0 and 1.0"), "{e}");
}

/// 64-bit integers are read as they are (no cast per call), other numbers through
/// Float64: the same answers, typed Float64 either way, and the plan casts nothing.
#[tokio::test]
async fn integer_and_float_inputs_answer_alike() {
    let (_dir, st) = stored(3).await;
    let sql = "SELECT service, \
               approx_percentile_cont(duration_ns, 0.95) AS ints, \
               approx_percentile_cont(duration_ns * 1.0, 0.95) AS floats, \
               approx_percentile_cont(arrow_cast(duration_ns, 'Decimal128(20, 0)'), 0.95) AS decimals, \
               approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ns DESC) AS low \
               FROM spans GROUP BY service ORDER BY service";
    let r = osprey_query::sql::run(&st, "default", sql).await.unwrap();
    let types: Vec<&str> = r.columns.iter().map(|c| c.data_type.as_str()).collect();
    assert_eq!(types, ["Utf8", "Float64", "Float64", "Float64", "Float64"]);
    assert_eq!(r.rows.len(), 3);
    for row in &r.rows {
        assert_eq!(row[1], row[2], "{row:?}");
        assert_eq!(row[1], row[3], "{row:?}");
        // DESC asks for the 5th percentile from the top: a lower value.
        assert!(f(&row[4]) < f(&row[1]), "{row:?}");
    }
    let plan = osprey_query::sql::run(
        &st,
        "default",
        "EXPLAIN SELECT approx_percentile_cont(duration_ns, 0.5), \
         approx_percentile_cont(duration_ns, 0.99) FROM spans",
    )
    .await
    .unwrap();
    let text = format!("{:?}", plan.rows);
    assert!(text.contains("approx_percentile_cont"), "{text}");
    assert!(!text.contains("CAST(spans.duration_ns"), "{text}");
}

/// Several percentiles of one argument share one sketch (`shared.rs`): the answers
/// are those of one call per query, under the same names and types, in expressions,
/// `ORDER BY` and `HAVING` too, with and without GROUP BY; a call with a `FILTER`
/// keeps its own sketch.
#[tokio::test]
async fn percentiles_of_one_argument_share_a_sketch() {
    let (_dir, st) = stored(2).await;
    let run = |sql: String| {
        let st = &st;
        async move { osprey_query::sql::run(st, "default", &sql).await.unwrap() }
    };
    let shared = "SELECT service, count(*) AS calls, \
                  approx_percentile_cont(duration_ns, 0.5) AS p50, \
                  approx_percentile_cont(duration_ns, 0.95) / 1000.0 AS p95_us, \
                  approx_percentile_cont(duration_ns, 0.99), \
                  approx_percentile_cont(duration_ns * 2, 0.5) AS d50, \
                  approx_percentile_cont(duration_ns * 2, 0.9) AS d90, \
                  approx_percentile_cont(duration_ns, 0.9) FILTER (WHERE duration_ns > 1000000) AS slow90 \
                  FROM spans GROUP BY service \
                  HAVING approx_percentile_cont(duration_ns, 0.5) > 0 \
                  ORDER BY approx_percentile_cont(duration_ns, 0.99) DESC";
    let r = run(shared.to_string()).await;
    let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "service",
            "calls",
            "p50",
            "p95_us",
            "approx_percentile_cont(spans.duration_ns,Float64(0.99))",
            "d50",
            "d90",
            "slow90"
        ]
    );
    assert!(r.columns[2..].iter().all(|c| c.data_type == "Float64"));
    assert_eq!(r.rows.len(), 3);
    // The same, one percentile per query: no sketch to share.
    for (col, expr) in [
        (2, "approx_percentile_cont(duration_ns, 0.5)"),
        (3, "approx_percentile_cont(duration_ns, 0.95) / 1000.0"),
        (4, "approx_percentile_cont(duration_ns, 0.99)"),
        (5, "approx_percentile_cont(duration_ns * 2, 0.5)"),
        (6, "approx_percentile_cont(duration_ns * 2, 0.9)"),
        (
            7,
            "approx_percentile_cont(duration_ns, 0.9) FILTER (WHERE duration_ns > 1000000)",
        ),
    ] {
        let one = run(format!(
            "SELECT service, {expr} FROM spans GROUP BY service"
        ))
        .await;
        for row in &r.rows {
            let theirs = one.rows.iter().find(|o| o[0] == row[0]).unwrap();
            assert_eq!(row[col], theirs[1], "{expr} of {}", row[0]);
        }
    }
    let p99: Vec<f64> = r.rows.iter().map(|row| f(&row[4])).collect();
    assert!(
        p99.windows(2).all(|w| w[0] >= w[1]),
        "ordered by p99: {p99:?}"
    );
    let plan = format!("{:?}", run(format!("EXPLAIN {shared}")).await.rows);
    // Two shared calls (one per argument), planned and run.
    assert!(plan.matches("approx_percentiles(").count() >= 2, "{plan}");
    // Without GROUP BY (the plain accumulator): as separate queries answer.
    let r = run(
        "SELECT approx_percentile_cont(duration_ns, 0.5), approx_percentile_cont(duration_ns, 0.99) \
         FROM spans"
            .into(),
    )
    .await;
    for (col, p) in [(0, 0.5), (1, 0.99)] {
        let one = run(format!(
            "SELECT approx_percentile_cont(duration_ns, {p}) FROM spans"
        ))
        .await;
        assert_eq!(r.rows[0][col], one.rows[0][0], "p{p}");
    }
    // Over no rows: nulls, as one call answers.
    let r = run(
        "SELECT approx_percentile_cont(duration_ns, 0.5), approx_percentile_cont(duration_ns, 0.99) \
         FROM spans WHERE service = 'none'"
            .into(),
    )
    .await;
    assert_eq!(r.rows, vec![vec![Value::Null, Value::Null]]);
}
