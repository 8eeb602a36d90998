//! The metrics workload and the PromQL query comparison.

use bytes::Bytes;
use osprey_benches::http::Http;
use osprey_benches::metrics;
use prost::Message;
use std::sync::Arc;

use crate::{
    Args, logs_load::RUNS, logs_load::time_get, logs_load::url_escape, peers::run_osprey,
    peers::run_prometheus, peers::run_victoria, push::Payloads, push::REMOTE_WRITE_HEADERS,
    push::Shards, report::Row, servers::free_port, servers::now_ms, servers::start_osprey,
    servers::start_prometheus, servers::wait_ready,
};

pub(crate) async fn metrics_workload(
    args: &Args,
    http: &Http,
    rows_out: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let hosts = ((65.0 * args.scale).round() as usize).max(1);
    let steps = 480;
    let mut w = metrics::MetricsWorkload::new(args.seed, hosts, steps, 15_000, now_ms() - 60_000);
    let samples = w.samples();
    eprintln!(
        "metrics: {} series × {steps} samples = {samples} samples; encoding…",
        w.series_count()
    );
    // One shard per connection, each a fixed range of series, sent in time order.
    let per_request = w.series_count().div_ceil(args.concurrency.max(1));
    let mut shards: Vec<Vec<Bytes>> = vec![Vec::new(); args.concurrency.max(1)];
    for step in 0..steps {
        for (i, req) in w.step(step, per_request).into_iter().enumerate() {
            let raw = req.encode_to_vec();
            let n = shards.len();
            shards[i % n].push(Bytes::from(snap::raw::Encoder::new().compress_vec(&raw)?));
        }
    }
    let payloads: Shards = Arc::new(shards);
    rows_out.push(
        run_osprey(
            args,
            http,
            "metrics",
            "/api/v1/write",
            &REMOTE_WRITE_HEADERS,
            &Payloads::Shards(Arc::clone(&payloads)),
            samples,
        )
        .await?,
    );
    if args.peers {
        rows_out.push(run_victoria(args, http, &payloads, samples).await?);
        rows_out.extend(run_prometheus(args, http, &payloads, samples).await?);
        query_comparison(args, http, w.start_ms + 15_000 * steps as i64).await?;
    }
    Ok(())
}

/// Dashboard queries over the last hour of the metrics data at a 15 s step, on Osprey
/// and Prometheus restarted on the data they ingested (median of RUNS after a warm-up),
/// with the answers checked to have the same series.
pub(crate) async fn query_comparison(args: &Args, http: &Http, end_ms: i64) -> anyhow::Result<()> {
    const QUERIES: [&str; 5] = [
        "sum by (service) (rate(http_requests_total[5m]))",
        "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
        "topk(5, sum by (service, route) (rate(http_requests_total[5m])))",
        "sum by (instance) (rate(node_cpu_seconds_total{mode=~\"user|system\", instance=~\"node-00.*\"}[5m]))",
        "avg by (job) (node_load1)",
    ];
    let dir = args.work_dir.join("osprey-metrics");
    let (osprey, port, _) = start_osprey(args, &dir)?;
    wait_ready(&format!("http://127.0.0.1:{port}/readyz"), "osprey").await?;
    let pdir = args.work_dir.join("prometheus");
    let pport = free_port()?;
    let prom = start_prometheus(&pdir, pport, &["--query.max-samples=500000000"]).await?;
    let (start, end) = ((end_ms - 3_600_000) as f64 / 1000.0, end_ms as f64 / 1000.0);
    println!("\nPromQL range queries, 1 h at 15 s step (median of {RUNS} after a warm-up):\n");
    println!("| query | Osprey | Prometheus 2.42 | ratio (Prometheus / Osprey) | series |");
    println!("|---|---:|---:|---:|---:|");
    for q in QUERIES {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=15",
            url_escape(q)
        );
        let (ours, a) = time_get(http, &format!("http://127.0.0.1:{port}{path}")).await?;
        let (theirs, b) = time_get(http, &format!("http://127.0.0.1:{pport}{path}")).await?;
        let count = |v: &serde_json::Value| v["data"]["result"].as_array().map_or(0, Vec::len);
        let (na, nb) = (count(&a), count(&b));
        if na != nb {
            eprintln!("warning: {q}: Osprey returned {na} series, Prometheus {nb}");
        }
        println!(
            "| `{q}` | {ours:.1} ms | {theirs:.1} ms | {:.2} | {nb} |",
            theirs / ours
        );
    }
    osprey.stop();
    prom.stop();
    Ok(())
}
