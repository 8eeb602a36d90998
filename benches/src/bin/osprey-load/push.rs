//! Pushing pre-encoded payloads over HTTP at a fixed concurrency, and payload files.

use anyhow::{Context, bail};
use bytes::Bytes;
use osprey_benches::http::Http;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Payloads split into shards; one connection sends each shard in order, so every
/// series' samples arrive in time order (as Prometheus' sharded remote_write does).
pub(crate) type Shards = Arc<Vec<Vec<Bytes>>>;

/// What a run sends: shards held in memory, or requests streamed from a file of
/// length-prefixed frames (the traces workload at the 20M spans is several GB
/// of requests, which do not fit in memory beside ClickHouse).
pub(crate) enum Payloads {
    Shards(Shards),
    File(PathBuf),
}

pub(crate) fn shard(payloads: Vec<Bytes>, shards: usize) -> Shards {
    let mut out = vec![Vec::new(); shards.max(1)];
    for (i, p) in payloads.into_iter().enumerate() {
        out[i % shards.max(1)].push(p);
    }
    Arc::new(out)
}

/// Posts one request; fails on any non-2xx but 429/503, which are retried after a
/// pause like real senders do.
pub(crate) async fn post_retrying(
    http: &Http,
    url: &str,
    headers: &[(&'static str, &'static str)],
    body: Bytes,
) -> anyhow::Result<()> {
    let mut attempts = 0;
    let mut dropped = 0;
    loop {
        // A connection the server closed (its slow-client guard, under a machine
        // saturated by this very load) lost a request it never acknowledged: sent again.
        let (status, resp) = match http.post(url, headers, body.clone()).await {
            Ok(r) => r,
            Err(e) if dropped < 5 => {
                dropped += 1;
                eprintln!("{url}: {e:#}; sending again");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
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
pub(crate) async fn push(
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
pub(crate) fn write_frame(out: &mut impl std::io::Write, frame: &[u8]) -> std::io::Result<()> {
    out.write_all(&(frame.len() as u32).to_le_bytes())?;
    out.write_all(frame)
}

/// Calls `each` on every frame of a file [`write_frame`] wrote, in order.
pub(crate) fn read_frames(
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

pub(crate) const REMOTE_WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

pub(crate) const OTLP_HEADERS: [(&str, &str); 1] = [("Content-Type", "application/x-protobuf")];

pub(crate) const NDJSON_HEADERS: [(&str, &str); 1] = [("Content-Type", "application/x-ndjson")];
