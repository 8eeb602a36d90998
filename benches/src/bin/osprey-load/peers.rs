//! Each system's ingest run: Osprey, Prometheus, VictoriaMetrics, ClickHouse (chdb).

use anyhow::{Context, bail};
use bytes::Bytes;
use osprey_benches::http::Http;
use osprey_benches::proc::{dir_bytes, peak_rss};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::{
    Args, push::Payloads, push::REMOTE_WRITE_HEADERS, push::Shards, push::push, report::Row,
    servers::Server, servers::chrono_month, servers::free_port, servers::start_osprey,
    servers::start_prometheus, servers::wait_ready,
};

pub(crate) async fn run_osprey(
    args: &Args,
    http: &Http,
    workload: &'static str,
    path: &str,
    headers: &[(&'static str, &'static str)],
    payloads: &Payloads,
    rows: u64,
) -> anyhow::Result<Row> {
    let dir = args.work_dir.join(format!("osprey-{workload}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (server, port, otlp_port) = start_osprey(args, &dir)?;
    wait_ready(&format!("http://127.0.0.1:{port}/readyz"), "osprey").await?;
    let target_port = if path.starts_with("/v1/") {
        otlp_port
    } else {
        port
    };
    let seconds = push(
        http,
        &format!("http://127.0.0.1:{target_port}{path}"),
        headers,
        payloads,
        args.concurrency,
    )
    .await?;
    let (status, body) = http
        .post(
            &format!("http://127.0.0.1:{port}/api/v1/admin/flush"),
            &[],
            Bytes::new(),
        )
        .await?;
    if status != 200 {
        bail!("flush failed: {}", String::from_utf8_lossy(&body));
    }
    // The steady state, as the peers get theirs (force_merge, OPTIMIZE FINAL).
    let (status, body) = http
        .post(
            &format!("http://127.0.0.1:{port}/api/v1/admin/compact?full=true"),
            &[],
            Bytes::new(),
        )
        .await?;
    if status != 200 {
        bail!("compaction failed: {}", String::from_utf8_lossy(&body));
    }
    let rss = peak_rss(server.pid());
    server.stop();
    // Files replaced by compaction wait out a grace period for readers; a restart
    // removes them (they are not in the manifest). Measure after one.
    let (server, port, _) = start_osprey(args, &dir)?;
    wait_ready(&format!("http://127.0.0.1:{port}/readyz"), "osprey").await?;
    server.stop();
    let bytes = dir_bytes(&dir);
    Ok(Row {
        workload,
        system: "Osprey".into(),
        rows,
        seconds,
        bytes,
        note: "whole data dir after flush, full compaction and restart".into(),
        peak_rss: rss,
    })
}

pub(crate) async fn run_prometheus(
    args: &Args,
    http: &Http,
    payloads: &Shards,
    rows: u64,
) -> anyhow::Result<Vec<Row>> {
    let dir = args.work_dir.join("prometheus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data"))?;
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n")?;
    let port = free_port()?;
    let server = start_prometheus(
        &dir,
        port,
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-admin-api",
        ],
    )
    .await?;
    let seconds = push(
        http,
        &format!("http://127.0.0.1:{port}/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &Payloads::Shards(Arc::clone(payloads)),
        args.concurrency,
    )
    .await?;
    let (status, body) = http
        .post(
            &format!("http://127.0.0.1:{port}/api/v1/admin/tsdb/snapshot"),
            &[],
            Bytes::new(),
        )
        .await?;
    if status != 200 {
        bail!(
            "prometheus snapshot failed: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let name = v["data"]["name"].as_str().unwrap_or_default().to_string();
    let snapshot = dir_bytes(&dir.join("data/snapshots").join(&name));
    let total = dir_bytes(&dir.join("data")) - dir_bytes(&dir.join("data/snapshots"));
    let rss = peak_rss(server.pid());
    server.stop();
    Ok(vec![
        Row {
            workload: "metrics",
            system: "Prometheus 2.42 (blocks)".into(),
            rows,
            seconds,
            bytes: snapshot,
            note: "head persisted with the snapshot API".into(),
            peak_rss: rss,
        },
        Row {
            workload: "metrics",
            system: "Prometheus 2.42 (WAL+head)".into(),
            rows,
            seconds,
            bytes: total,
            note: "data dir without the snapshot".into(),
            peak_rss: rss,
        },
    ])
}

pub(crate) async fn run_victoria(
    args: &Args,
    http: &Http,
    payloads: &Shards,
    rows: u64,
) -> anyhow::Result<Row> {
    let dir = args.work_dir.join("victoria-metrics");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let child = Command::new("victoria-metrics")
        .arg(format!("-storageDataPath={}", dir.display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .args(["-retentionPeriod=10y", "-loggerLevel=ERROR"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start victoria-metrics (apt-get install victoria-metrics)")?;
    let server = Server {
        child,
        name: "victoria-metrics",
    };
    wait_ready(
        &format!("http://127.0.0.1:{port}/health"),
        "victoria-metrics",
    )
    .await?;
    let seconds = push(
        http,
        &format!("http://127.0.0.1:{port}/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        &Payloads::Shards(Arc::clone(payloads)),
        args.concurrency,
    )
    .await?;
    let _ = tokio::process::Command::new("curl")
        .args([
            "-sf",
            &format!("http://127.0.0.1:{port}/internal/force_flush"),
        ])
        .status()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Check that every sample is stored before believing the size.
    let q = "sum(count_over_time(%7B__name__%3D~%22.%2B%22%7D%5B1d%5D))";
    let (_, body) = http
        .get(&format!("http://127.0.0.1:{port}/api/v1/query?query={q}"))
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let stored: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0.0);
    if stored as u64 != rows {
        eprintln!("warning: VictoriaMetrics holds {stored} of {rows} samples");
    }
    // Give VictoriaMetrics its best case: merge all parts of this month, wait until the
    // directory stops changing, then stop cleanly (which writes in-memory parts) and
    // measure.
    let month = chrono_month();
    let _ = http
        .get(&format!(
            "http://127.0.0.1:{port}/internal/force_merge?partition_prefix={month}"
        ))
        .await;
    let mut last = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = dir_bytes(&dir);
        if now == last {
            break;
        }
        last = now;
    }
    let rss = peak_rss(server.pid());
    server.stop();
    // cache/ holds rebuildable caches VictoriaMetrics persists on stop: not data.
    let bytes = dir_bytes(&dir) - dir_bytes(&dir.join("cache"));
    Ok(Row {
        workload: "metrics",
        system: "VictoriaMetrics 1.79".into(),
        rows,
        seconds,
        bytes,
        note: "data/ + indexdb/ after force_merge and a clean stop".into(),
        peak_rss: rss,
    })
}

/// Runs one of this crate's ClickHouse (chdb) scripts with `--python`; its stdout is
/// one JSON object.
pub(crate) async fn clickhouse_script(
    args: &Args,
    script: &str,
    script_args: &[&str],
) -> anyhow::Result<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = tokio::process::Command::new(&args.python)
        .arg(&path)
        .args(script_args)
        .output()
        .await
        .with_context(|| {
            format!(
                "cannot run {} (pip install chdb into it)",
                args.python.display()
            )
        })?;
    if !out.status.success() {
        bail!("{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub(crate) async fn run_clickhouse(
    args: &Args,
    kind: &'static str,
    ndjson: &Path,
    rows: u64,
) -> anyhow::Result<Row> {
    let dir = args.work_dir.join(format!("chdb-{kind}"));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.display().to_string();
    let file_arg = ndjson.display().to_string();
    let v = clickhouse_script(
        args,
        "clickhouse_load.py",
        &["--kind", kind, "--file", &file_arg, "--data-dir", &dir_arg],
    )
    .await?;
    let loaded = v["rows"].as_u64().unwrap_or(0);
    if loaded != rows {
        bail!("ClickHouse loaded {loaded} rows, expected {rows}");
    }
    Ok(Row {
        workload: kind,
        system: format!(
            "ClickHouse {} (chdb, MergeTree ZSTD)",
            v["version"].as_str().unwrap_or("?")
        ),
        rows,
        seconds: v["seconds"].as_f64().unwrap_or(0.0),
        bytes: v["bytes"].as_u64().unwrap_or(0),
        note: "NDJSON file load; bytes_on_disk of active parts after OPTIMIZE FINAL".into(),
        peak_rss: v["peak_rss"].as_u64(),
    })
}
