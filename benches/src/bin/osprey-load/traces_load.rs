//! The traces workload and the trace lookup and search comparison.

use osprey_benches::http::Http;
use osprey_benches::{logs, traces};
use prost::Message;

use crate::{
    Args, logs_load::RUNS, logs_load::time_get, logs_load::time_sql, logs_load::url_escape,
    peers::clickhouse_script, peers::run_clickhouse, peers::run_osprey, push::OTLP_HEADERS,
    push::Payloads, push::write_frame, report::Row, servers::now_ms, servers::start_osprey,
    servers::wait_ready,
};

pub(crate) async fn traces_workload(
    args: &Args,
    http: &Http,
    rows_out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let n = ((100_000.0 * args.scale) as usize).max(100);
    let end = now_ms() * 1_000_000;
    let mut w = traces::TracesWorkload::new(args.seed, n, end - 2 * 3_600_000_000_000, end);
    eprintln!("traces: {n} traces; encoding…");
    // Requests and ClickHouse's NDJSON go to files as they are made: at the issue's
    // 1M traces they are several GB.
    let requests = args.work_dir.join("spans.otlp");
    let file = args.work_dir.join("spans.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&requests)?);
    let mut ndjson_out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    let mut ndjson = Vec::new();
    let (mut spans, mut ndjson_bytes, mut made) = (0u64, 0u64, 0usize);
    // A trace from the middle of the run, to look up by id.
    let mut probe: Option<String> = None;
    loop {
        let batch = w.next_batch(50);
        if batch.is_empty() {
            break;
        }
        if probe.is_none() && made >= n / 100 {
            probe = batch.first().map(|g| logs::hex(&g.span.trace_id));
        }
        made += 1;
        spans += batch.len() as u64;
        write_frame(&mut out, &traces::to_otlp(&batch).encode_to_vec())?;
        ndjson.clear();
        traces::to_ndjson(&batch, &mut ndjson);
        ndjson_bytes += ndjson.len() as u64;
        std::io::Write::write_all(&mut ndjson_out, &ndjson)?;
    }
    std::io::Write::flush(&mut out)?;
    std::io::Write::flush(&mut ndjson_out)?;
    drop((out, ndjson_out));
    eprintln!(
        "traces: {spans} spans, NDJSON {} B/span",
        ndjson_bytes / spans.max(1)
    );
    if let Some(id) = &probe {
        std::fs::write(args.work_dir.join("probe-trace-id"), id)?;
    }
    rows_out.push(
        run_osprey(
            args,
            http,
            "traces",
            "/v1/traces",
            &OTLP_HEADERS,
            &Payloads::File(requests.clone()),
            spans,
        )
        .await?,
    );
    let _ = std::fs::remove_file(&requests);
    if args.peers {
        rows_out.push(run_clickhouse(args, "spans", &file, spans).await?);
        let _ = std::fs::remove_file(&file);
        if let Some(id) = probe {
            trace_comparison(args, http, &id).await?;
        }
    }
    Ok(())
}

/// The traces issue's targets: a trace by id, and searches by service + tag + duration
/// returning the 20 newest matching traces whole, on Osprey (its Jaeger API, after a
/// restart) and ClickHouse (the SigNoz-like table, trace_id bloom filter). The first
/// search matches thousands of traces (the page fills from the newest data); the
/// second matches a handful, so both sides read every row of the service.
pub(crate) async fn trace_comparison(
    args: &Args,
    http: &Http,
    trace_id: &str,
) -> anyhow::Result<()> {
    let dir = args.work_dir.join("osprey-traces");
    let (server, port, _) = start_osprey(args, &dir)?;
    wait_ready(&format!("http://127.0.0.1:{port}/readyz"), "osprey").await?;
    let base = format!("http://127.0.0.1:{port}/api");
    let by_id = time_get(http, &format!("{base}/traces/{trace_id}")).await?;
    let mut searches = Vec::new();
    for s in SEARCHES {
        let tags = url_escape(&format!("{{\"{}\":\"{}\"}}", s.tag, s.value));
        searches.push(
            time_get(
                http,
                &format!(
                    "{base}/traces?service={}&tags={tags}&minDuration={}ms&limit=20&start=0",
                    s.service, s.min_ms
                ),
            )
            .await?,
        );
    }
    let sql_url = format!("http://127.0.0.1:{port}/api/v1/sql");
    let mut analytics = Vec::new();
    for (name, query) in ANALYTICS {
        analytics.push((*name, time_sql(http, &sql_url, query, RUNS).await?));
    }
    server.stop();
    let data_dir = args.work_dir.join("chdb-spans").display().to_string();
    let spans_of = |v: &serde_json::Value| {
        v["data"].as_array().map_or(0, |ts| {
            ts.iter()
                .map(|t| t["spans"].as_array().map_or(0, Vec::len))
                .sum::<usize>()
        })
    };
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| t["traceID"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    println!();
    println!(
        "| trace query (median of {RUNS}) | Osprey ms | ClickHouse ms | ClickHouse / Osprey | spans returned (Osprey / ClickHouse) |"
    );
    println!("|---|---:|---:|---:|---|");
    for (i, (s, search)) in SEARCHES.iter().zip(&searches).enumerate() {
        let min_ms = s.min_ms.to_string();
        let runs = RUNS.to_string();
        let ch = clickhouse_script(
            args,
            "clickhouse_traces.py",
            &[
                "--data-dir",
                &data_dir,
                "--trace-id",
                trace_id,
                "--service",
                s.service,
                "--tag",
                s.tag,
                "--value",
                s.value,
                "--min-ms",
                &min_ms,
                "--runs",
                &runs,
            ],
        )
        .await?;
        if i == 0 {
            println!(
                "| trace by id | {:.1} | {:.1} | {:.1}× | {} / {} |",
                by_id.0,
                ch["by_id"]["ms"].as_f64().unwrap_or(f64::NAN),
                ch["by_id"]["ms"].as_f64().unwrap_or(f64::NAN) / by_id.0,
                spans_of(&by_id.1),
                ch["by_id"]["spans"].as_u64().unwrap_or(0),
            );
        }
        let ch_ids: Vec<String> = ch["search"]["trace_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "| search: service={}, {}={}, ≥{} ms, 20 newest traces ({} found) | {:.1} | {:.1} | {:.1}× | {} / {} (same trace ids: {}) |",
            s.service,
            s.tag,
            s.value,
            s.min_ms,
            ids(&search.1).len(),
            search.0,
            ch["search"]["ms"].as_f64().unwrap_or(f64::NAN),
            ch["search"]["ms"].as_f64().unwrap_or(f64::NAN) / search.0,
            spans_of(&search.1),
            ch["search"]["spans"].as_u64().unwrap_or(0),
            ids(&search.1) == ch_ids,
        );
    }
    analytics_table(args, &data_dir, &analytics).await
}

/// Span analytics in SQL, as an SRE writes them (the names key ClickHouse's answers
/// in `clickhouse_traces.py --analytics`, which runs the same questions in its SQL).
const ANALYTICS: &[(&str, &str)] = &[
    (
        "red",
        "SELECT service, count(*) AS calls, \
         sum(CASE WHEN status_code = 'STATUS_CODE_ERROR' THEN 1 ELSE 0 END) AS errors, \
         approx_percentile_cont(duration_ns, 0.5) AS p50, approx_percentile_cont(duration_ns, 0.95) AS p95, \
         approx_percentile_cont(duration_ns, 0.99) AS p99 \
         FROM spans WHERE kind = 'SPAN_KIND_SERVER' GROUP BY service ORDER BY service",
    ),
    (
        "route_p99",
        "SELECT service, attributes['http.route'] AS route, count(*) AS calls, \
         approx_percentile_cont(duration_ns, 0.99) AS p99 \
         FROM spans WHERE kind = 'SPAN_KIND_SERVER' GROUP BY service, route ORDER BY service, route",
    ),
    (
        "slowest_errors",
        "SELECT trace_id, max(duration_ns) AS d FROM spans WHERE status_code = 'STATUS_CODE_ERROR' \
         GROUP BY trace_id ORDER BY d DESC, trace_id LIMIT 20",
    ),
];

/// Prints Osprey's and ClickHouse's times for [`ANALYTICS`], and whether they agree
/// on what can be compared exactly (counts per group, the slowest traces).
async fn analytics_table(
    args: &Args,
    data_dir: &str,
    osprey: &[(&str, (f64, serde_json::Value))],
) -> anyhow::Result<()> {
    let runs = RUNS.to_string();
    let ch = clickhouse_script(
        args,
        "clickhouse_traces.py",
        &["--data-dir", data_dir, "--analytics", "--runs", &runs],
    )
    .await?;
    println!();
    println!(
        "| span analytics in SQL (median of {RUNS}) | Osprey ms | ClickHouse ms | Osprey / ClickHouse | rows (Osprey / ClickHouse), exact columns equal |"
    );
    println!("|---|---:|---:|---:|---|");
    for (name, (ms, body)) in osprey {
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        let ch_rows = ch[*name]["rows"].as_array().cloned().unwrap_or_default();
        // Exact columns: the group keys and counts (percentiles are approximate on
        // both sides, by different methods). A missing map key is NULL in Osprey's
        // SQL and "" in ClickHouse's.
        let exact = |r: &serde_json::Value, n: usize| -> Vec<String> {
            r.as_array()
                .map(|c| {
                    c.iter()
                        .take(n)
                        .map(|v| match v {
                            serde_json::Value::Null => "\"\"".to_string(),
                            v => v.to_string().to_lowercase(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let n = match *name {
            "red" => 3,
            "route_p99" => 3,
            _ => 2,
        };
        // Compared as sets: the missing route sorts last in Osprey (NULL) and first
        // in ClickHouse ("").
        let keys = |rows: &[serde_json::Value]| {
            let mut k: Vec<Vec<String>> = rows.iter().map(|r| exact(r, n)).collect();
            k.sort();
            k
        };
        let same = keys(&rows) == keys(&ch_rows);
        let c_ms = ch[*name]["ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {name} | {ms:.1} | {c_ms:.1} | {:.2} | {} / {}, {same} |",
            ms / c_ms,
            rows.len(),
            ch_rows.len()
        );
    }
    Ok(())
}

pub(crate) struct Search {
    pub(crate) service: &'static str,
    pub(crate) tag: &'static str,
    pub(crate) value: &'static str,
    pub(crate) min_ms: u64,
}

pub(crate) const SEARCHES: &[Search] = &[
    Search {
        service: "frontend",
        tag: "http.response.status_code",
        value: "500",
        min_ms: 200,
    },
    Search {
        service: "frontend",
        tag: "cache.key",
        value: "product:4242",
        min_ms: 0,
    },
];
