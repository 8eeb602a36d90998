//! The logs workload and the log search comparison.

use anyhow::bail;
use bytes::Bytes;
use osprey_benches::http::Http;
use osprey_benches::logs;
use prost::Message;

use crate::{
    Args, peers::clickhouse_script, peers::run_clickhouse, peers::run_osprey, push::NDJSON_HEADERS,
    push::OTLP_HEADERS, push::Payloads, push::shard, report::Row, servers::now_ms,
    servers::start_osprey, servers::wait_ready,
};

pub(crate) async fn logs_workload(
    args: &Args,
    http: &Http,
    rows_out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let lines = ((1_000_000.0 * args.scale) as usize).max(1000);
    let end = now_ms() * 1_000_000;
    let mut w = logs::LogsWorkload::new(args.seed, lines, end - 2 * 3_600_000_000_000, end);
    eprintln!("logs: {lines} lines; encoding…");
    let mut payloads = Vec::new();
    let mut events = Vec::new();
    let mut ndjson = Vec::new();
    let mut raw_bytes = 0usize;
    // A selective search term: a long number from a line in the middle of the run.
    let mut probe: Option<String> = None;
    loop {
        let batch = w.next_batch(1000);
        if batch.is_empty() {
            break;
        }
        if probe.is_none() && payloads.len() >= lines / 2000 {
            probe = batch.iter().find_map(|l| {
                l.body
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .find(|t| t.len() >= 5 && t.bytes().all(|b| b.is_ascii_digit()))
                    .map(str::to_string)
            });
        }
        raw_bytes += batch.iter().map(|l| l.body.len()).sum::<usize>();
        payloads.push(Bytes::from(logs::to_otlp(&batch).encode_to_vec()));
        let mut body = Vec::new();
        logs::to_events(&batch, &mut body);
        events.push(Bytes::from(body));
        logs::to_ndjson(&batch, &mut ndjson);
    }
    eprintln!(
        "logs: average body {} B, NDJSON {} B/line",
        raw_bytes / lines,
        ndjson.len() / lines
    );
    let payloads = shard(payloads, args.concurrency);
    rows_out.push(
        run_osprey(
            args,
            http,
            "logs",
            "/v1/logs",
            &OTLP_HEADERS,
            &Payloads::Shards(payloads),
            lines as u64,
        )
        .await?,
    );
    // The same lines as stdout JSON events through `POST /api/v1/logs` (parsing,
    // severity and timestamp detection included), in batches of 1000 lines.
    let events = shard(events, args.concurrency);
    let mut row = run_osprey(
        args,
        http,
        "logs-ndjson",
        "/api/v1/logs",
        &NDJSON_HEADERS,
        &Payloads::Shards(events),
        lines as u64,
    )
    .await?;
    row.system = "Osprey (NDJSON events, POST /api/v1/logs)".into();
    rows_out.push(row);
    if args.peers {
        let file = args.work_dir.join("logs.ndjson");
        std::fs::write(&file, &ndjson)?;
        rows_out.push(run_clickhouse(args, "logs", &file, lines as u64).await?);
        if let Some(token) = probe {
            eprintln!("logs: search term {token}");
            search_comparison(args, http, &token).await?;
        }
    }
    Ok(())
}

pub(crate) const PHRASE: &str = "connection reset by peer";

pub(crate) const RUNS: usize = 5;

pub(crate) fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Median ms of `runs` POSTs of the SQL `query` to `url` (after one warm-up; 0: the
/// warm-up only), and the response of the last.
pub(crate) async fn time_sql(
    http: &Http,
    url: &str,
    query: &str,
    runs: usize,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let body = bytes::Bytes::from(serde_json::json!({ "query": query }).to_string());
    let headers = [("Content-Type", "application/json")];
    median_of(runs, query, || http.post(url, &headers, body.clone())).await
}

/// Median ms of `RUNS` GETs of `url` (after one warm-up), and the response of the last.
pub(crate) async fn time_get(http: &Http, url: &str) -> anyhow::Result<(f64, serde_json::Value)> {
    median_of(RUNS, url, || http.get(url)).await
}

/// Median ms of `runs` calls (after one warm-up) answering 200 with JSON, and the
/// last answer; `what` names the call in errors.
async fn median_of<F, Fut>(
    runs: usize,
    what: &str,
    call: F,
) -> anyhow::Result<(f64, serde_json::Value)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(u16, bytes::Bytes)>>,
{
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for i in 0..=runs {
        let t = std::time::Instant::now();
        let (status, body) = call().await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != 200 {
            bail!("{what}: {status} {}", String::from_utf8_lossy(&body));
        }
        last = serde_json::from_slice(&body)?;
        if i > 0 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times.get(times.len() / 2).copied().unwrap_or(0.0), last))
}

/// The logs issue's search targets: the same searches on Osprey (its API, index on disk,
/// after a restart) and on ClickHouse (the table with its tokenbf index).
pub(crate) async fn search_comparison(args: &Args, http: &Http, token: &str) -> anyhow::Result<()> {
    let dir = args.work_dir.join("osprey-logs");
    let (server, port, _) = start_osprey(args, &dir)?;
    wait_ready(&format!("http://127.0.0.1:{port}/readyz"), "osprey").await?;
    let base = format!("http://127.0.0.1:{port}/api/v1/logs");
    let term = time_get(
        http,
        &format!("{base}/search?limit=100&query={}", url_escape(token)),
    )
    .await?;
    let phrase = time_get(
        http,
        &format!(
            "{base}/search?limit=100&query={}",
            url_escape(&format!("\"{PHRASE}\""))
        ),
    )
    .await?;
    let hist = time_get(http, &format!("{base}/histogram?step=60&by=severity")).await?;
    // The logs of one trace: an id from the middle of the data.
    let sql_url = format!("http://127.0.0.1:{port}/api/v1/sql");
    let picked = time_sql(
        http,
        &sql_url,
        "SELECT trace_id FROM logs WHERE trace_id <> '' ORDER BY timestamp LIMIT 1 OFFSET 400000",
        0,
    )
    .await?;
    let trace = picked.1["rows"][0][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let by_trace = time_get(
        http,
        &format!(
            "{base}/search?limit=100&query={}",
            url_escape(&format!("trace_id:{trace}"))
        ),
    )
    .await?;
    let by_trace_sql = time_sql(
        http,
        &sql_url,
        &format!(
            "SELECT timestamp, service, body FROM logs WHERE trace_id = '{trace}' ORDER BY timestamp"
        ),
        RUNS,
    )
    .await?;
    server.stop();
    let data_dir = args.work_dir.join("chdb-logs").display().to_string();
    let ch = clickhouse_script(
        args,
        "clickhouse_search.py",
        &[
            "--data-dir",
            &data_dir,
            "--token",
            token,
            "--phrase",
            PHRASE,
            "--runs",
            &RUNS.to_string(),
            "--trace-id",
            &trace,
        ],
    )
    .await?;
    let matched = |v: &serde_json::Value| v["data"]["stats"]["matched"].as_u64().unwrap_or(0);
    let buckets = hist.1["data"]["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|x| x["by"].as_object().map_or(0, |m| m.len()))
                .sum::<usize>()
        })
        .unwrap_or(0);
    println!();
    println!(
        "| search (median of {RUNS}) | Osprey ms | ClickHouse ms | ClickHouse / Osprey | matches (Osprey / ClickHouse) |"
    );
    println!("|---|---:|---:|---:|---|");
    for (name, what, o_ms, o_n, key) in [
        (
            "term",
            format!("`{token}`"),
            term.0,
            matched(&term.1) as u64,
            "term",
        ),
        (
            "phrase",
            format!("`\"{PHRASE}\"`"),
            phrase.0,
            matched(&phrase.1) as u64,
            "phrase",
        ),
        (
            "histogram",
            "severity by minute".to_string(),
            hist.0,
            buckets as u64,
            "histogram",
        ),
        (
            "logs of one trace",
            format!("`trace_id:{trace}`"),
            by_trace.0,
            matched(&by_trace.1) as u64,
            "trace",
        ),
        (
            "logs of one trace (SQL)",
            "`WHERE trace_id = …`".to_string(),
            by_trace_sql.0,
            by_trace_sql.1["rows"].as_array().map_or(0, Vec::len) as u64,
            "trace_sql",
        ),
    ] {
        let c_ms = ch[key]["ms"].as_f64().unwrap_or(f64::NAN);
        let c_n = ch[key]["count"].as_u64().unwrap_or(0);
        println!(
            "| {name}: {what} | {o_ms:.1} | {c_ms:.1} | {:.1}× | {o_n} / {c_n} |",
            c_ms / o_ms
        );
    }
    Ok(())
}
