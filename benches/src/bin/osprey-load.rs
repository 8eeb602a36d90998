//! `osprey-load`: the end-to-end load generator. It builds a deterministic workload,
//! pushes it over the real protocols into a fresh Osprey server (and, with `--peers`,
//! into Prometheus, VictoriaMetrics and ClickHouse on the same data), then prints
//! rows/s, bytes on disk per row and peak RSS side by side, with the ratios.
//!
//! Payloads are encoded before the clock starts, so every system is timed on ingest
//! alone, with the same requests, at the same concurrency.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use osprey_benches::http::Http;
use osprey_benches::proc::{dir_bytes, peak_rss};
use osprey_benches::{logs, metrics, traces};
use prost::Message;

#[derive(Parser)]
#[command(about = "Osprey end-to-end load generator and side-by-side comparison")]
struct Args {
    /// The osprey binary to benchmark (build it with --release).
    #[arg(long, default_value = "target/release/osprey")]
    osprey: PathBuf,
    /// metrics, logs, traces or all.
    #[arg(long, default_value = "all")]
    workload: String,
    /// Scale of the workloads (1.0 = 10k series × 2 h, 1M lines, 100k traces).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Also run Prometheus, VictoriaMetrics and ClickHouse (chdb) on the same data.
    #[arg(long)]
    peers: bool,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Python with chdb installed (for the ClickHouse runs).
    #[arg(long, default_value = ".venv-bench/bin/python")]
    python: PathBuf,
    /// Where data directories go (removed afterwards unless --keep).
    #[arg(long, default_value = "/tmp/osprey-load")]
    work_dir: PathBuf,
    #[arg(long)]
    keep: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Only the trace lookups and searches, on the data a `--keep --peers` run of the
    /// traces workload left in `--work-dir` (for iterating on search speed).
    #[arg(long)]
    trace_queries_only: bool,
    /// Only the log searches, on the data a `--keep` run of the logs workload left in
    /// `--work-dir`, with the term it printed (for iterating on search speed).
    #[arg(long, value_name = "TERM")]
    search_only: Option<String>,
}

/// One system's result on one workload.
struct Row {
    workload: &'static str,
    system: String,
    rows: u64,
    seconds: f64,
    bytes: u64,
    note: String,
    peak_rss: Option<u64>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
    fn per_row(&self) -> f64 {
        self.bytes as f64 / self.rows.max(1) as f64
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Server {
    child: Child,
    name: &'static str,
}

impl Drop for Server {
    /// A run that fails half-way must not leave servers behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn stop(mut self) {
        self.stop_in_place();
    }

    fn stop_in_place(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop in time; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(url: &str, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = tokio::process::Command::new("curl")
            .args(["-sf", "-o", "/dev/null", url])
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what} did not become ready at {url}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Payloads split into shards; one connection sends each shard in order, so every
/// series' samples arrive in time order (as Prometheus' sharded remote_write does).
type Shards = Arc<Vec<Vec<Bytes>>>;

/// What a run sends: shards held in memory, or requests streamed from a file of
/// length-prefixed frames (the traces workload at the 20M spans is several GB
/// of requests, which do not fit in memory beside ClickHouse).
enum Payloads {
    Shards(Shards),
    File(PathBuf),
}

fn shard(payloads: Vec<Bytes>, shards: usize) -> Shards {
    let mut out = vec![Vec::new(); shards.max(1)];
    for (i, p) in payloads.into_iter().enumerate() {
        out[i % shards.max(1)].push(p);
    }
    Arc::new(out)
}

/// Posts one request; fails on any non-2xx but 429/503, which are retried after a
/// pause like real senders do.
async fn post_retrying(
    http: &Http,
    url: &str,
    headers: &[(&'static str, &'static str)],
    body: Bytes,
) -> anyhow::Result<()> {
    let mut attempts = 0;
    loop {
        let (status, resp) = http.post(url, headers, body.clone()).await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        if (status == 429 || status == 503) && attempts < 600 {
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        bail!(
            "{url}: HTTP {status}: {}",
            String::from_utf8_lossy(&resp[..resp.len().min(300)])
        );
    }
}

/// Sends every shard on its own connection, or the frames of a file on `concurrency`
/// connections (in file order, each to the next free connection).
async fn push(
    http: &Http,
    url: &str,
    headers: &[(&'static str, &'static str)],
    payloads: &Payloads,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    match payloads {
        Payloads::Shards(shards) => {
            for i in 0..shards.len() {
                let (http, url, shards) = (http.clone(), url.to_string(), Arc::clone(shards));
                let headers = headers.to_vec();
                tasks.push(tokio::spawn(async move {
                    for body in &shards[i] {
                        post_retrying(&http, &url, &headers, body.clone()).await?;
                    }
                    Ok::<(), anyhow::Error>(())
                }));
            }
        }
        Payloads::File(path) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(concurrency.max(1) * 4);
            let path = path.clone();
            let reader = tokio::task::spawn_blocking(move || {
                read_frames(&path, |frame| {
                    tx.blocking_send(frame)
                        .map_err(|_| anyhow::anyhow!("senders stopped"))
                })
            });
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            for _ in 0..concurrency.max(1) {
                let (http, url, rx) = (http.clone(), url.to_string(), Arc::clone(&rx));
                let headers = headers.to_vec();
                tasks.push(tokio::spawn(async move {
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(body) = next else { break };
                        post_retrying(&http, &url, &headers, body).await?;
                    }
                    Ok::<(), anyhow::Error>(())
                }));
            }
            tasks.push(tokio::spawn(async move { reader.await? }));
        }
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Appends one length-prefixed frame.
fn write_frame(out: &mut impl std::io::Write, frame: &[u8]) -> std::io::Result<()> {
    out.write_all(&(frame.len() as u32).to_le_bytes())?;
    out.write_all(frame)
}

/// Calls `each` on every frame of a file [`write_frame`] wrote, in order.
fn read_frames(
    path: &Path,
    mut each: impl FnMut(Bytes) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Read;
    let mut file = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    let mut len = [0u8; 4];
    loop {
        match file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mut frame = vec![0u8; u32::from_le_bytes(len) as usize];
        file.read_exact(&mut frame)?;
        each(Bytes::from(frame))?;
    }
}

fn start_osprey(args: &Args, dir: &Path) -> anyhow::Result<(Server, u16, u16)> {
    let (http, grpc, otlp) = (free_port()?, free_port()?, free_port()?);
    let child = Command::new(&args.osprey)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .args(["--otlp-grpc-addr", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http-addr", &format!("127.0.0.1:{otlp}")])
        .env("OSPREY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", args.osprey.display()))?;
    Ok((
        Server {
            child,
            name: "osprey",
        },
        http,
        otlp,
    ))
}

async fn run_osprey(
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

/// Starts Debian's prometheus on `dir` (its `prometheus.yml` and `data/`) and waits
/// until it is ready.
async fn start_prometheus(dir: &Path, port: u16, extra: &[&str]) -> anyhow::Result<Server> {
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start prometheus (apt-get install prometheus)")?;
    let server = Server {
        child,
        name: "prometheus",
    };
    wait_ready(&format!("http://127.0.0.1:{port}/-/ready"), "prometheus").await?;
    Ok(server)
}

async fn run_prometheus(
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

async fn run_victoria(
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
async fn clickhouse_script(
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

async fn run_clickhouse(
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

const REMOTE_WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];
const OTLP_HEADERS: [(&str, &str); 1] = [("Content-Type", "application/x-protobuf")];
const NDJSON_HEADERS: [(&str, &str); 1] = [("Content-Type", "application/x-ndjson")];

/// `YYYY_MM` of now (VictoriaMetrics' partition names).
fn chrono_month() -> String {
    let days = now_ms() / 86_400_000;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}_{month:02}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn metrics_workload(args: &Args, http: &Http, rows_out: &mut Vec<Row>) -> anyhow::Result<()> {
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
async fn query_comparison(args: &Args, http: &Http, end_ms: i64) -> anyhow::Result<()> {
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

async fn logs_workload(args: &Args, http: &Http, rows_out: &mut Vec<Row>) -> anyhow::Result<()> {
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

const PHRASE: &str = "connection reset by peer";
const RUNS: usize = 5;

fn url_escape(s: &str) -> String {
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

/// Median ms of `RUNS` GETs of `url` (after one warm-up), and the response of the last.
async fn time_get(http: &Http, url: &str) -> anyhow::Result<(f64, serde_json::Value)> {
    let mut times = Vec::new();
    let mut last = serde_json::Value::Null;
    for i in 0..=RUNS {
        let t = std::time::Instant::now();
        let (status, body) = http.get(url).await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != 200 {
            bail!("{url}: {status} {}", String::from_utf8_lossy(&body));
        }
        last = serde_json::from_slice(&body)?;
        if i > 0 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], last))
}

/// The logs issue's search targets: the same searches on Osprey (its API, index on disk,
/// after a restart) and on ClickHouse (the table with its tokenbf index).
async fn search_comparison(args: &Args, http: &Http, token: &str) -> anyhow::Result<()> {
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

async fn traces_workload(args: &Args, http: &Http, rows_out: &mut Vec<Row>) -> anyhow::Result<()> {
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
async fn trace_comparison(args: &Args, http: &Http, trace_id: &str) -> anyhow::Result<()> {
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
    Ok(())
}

struct Search {
    service: &'static str,
    tag: &'static str,
    value: &'static str,
    min_ms: u64,
}

const SEARCHES: &[Search] = &[
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

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn print_table(rows: &[Row]) {
    println!(
        "| workload | system | rows | rows/s | bytes on disk | bytes/row | peak RSS | measured |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {:.2} | {} | {} |",
            r.workload,
            r.system,
            r.rows,
            r.rate(),
            mib(r.bytes),
            r.per_row(),
            r.peak_rss.map_or("?".into(), mib),
            r.note
        );
    }
    println!();
    let osprey = |w: &str| {
        rows.iter()
            .find(|r| r.workload == w && r.system.starts_with("Osprey"))
    };
    let peer = |w: &str, p: &str| {
        rows.iter()
            .find(|r| r.workload == w && r.system.starts_with(p))
    };
    let ratio = |label: &str, a: Option<&Row>, b: Option<&Row>, f: &dyn Fn(&Row) -> f64| {
        if let (Some(a), Some(b)) = (a, b) {
            println!(
                "{label}: {:.2} (Osprey {:.2} vs {:.2})",
                f(a) / f(b),
                f(a),
                f(b)
            );
        }
    };
    ratio(
        "metrics bytes/sample vs VictoriaMetrics (target ≤ 1)",
        osprey("metrics"),
        peer("metrics", "Victoria"),
        &Row::per_row,
    );
    ratio(
        "metrics samples/s vs VictoriaMetrics (target ≥ 1)",
        osprey("metrics"),
        peer("metrics", "Victoria"),
        &Row::rate,
    );
    ratio(
        "logs bytes/line vs ClickHouse (target ≤ 1)",
        osprey("logs"),
        peer("logs", "ClickHouse"),
        &Row::per_row,
    );
    ratio(
        "logs lines/s vs ClickHouse (target ≥ 2)",
        osprey("logs"),
        peer("logs", "ClickHouse"),
        &Row::rate,
    );
    ratio(
        "logs lines/s through POST /api/v1/logs (NDJSON) vs ClickHouse's NDJSON load (target ≥ 2)",
        osprey("logs-ndjson"),
        peer("logs", "ClickHouse"),
        &Row::rate,
    );
    ratio(
        "spans bytes/span vs ClickHouse (target ≤ 1)",
        osprey("traces"),
        peer("spans", "ClickHouse"),
        &Row::per_row,
    );
    ratio(
        "spans/s vs ClickHouse (target ≥ 1)",
        osprey("traces"),
        peer("spans", "ClickHouse"),
        &Row::rate,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work_dir)?;
    let http = Http::default();
    let mut rows = Vec::new();
    if let Some(token) = &args.search_only {
        return search_comparison(&args, &http, token).await;
    }
    if args.trace_queries_only {
        let id = std::fs::read_to_string(args.work_dir.join("probe-trace-id"))
            .context("no probe-trace-id: run the traces workload with --keep --peers first")?;
        return trace_comparison(&args, &http, id.trim()).await;
    }
    let all = args.workload == "all";
    if all || args.workload == "metrics" {
        metrics_workload(&args, &http, &mut rows).await?;
    }
    if all || args.workload == "logs" {
        logs_workload(&args, &http, &mut rows).await?;
    }
    if all || args.workload == "traces" {
        traces_workload(&args, &http, &mut rows).await?;
    }
    print_table(&rows);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&args.work_dir);
    }
    Ok(())
}
