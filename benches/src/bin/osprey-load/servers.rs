//! Starting the systems under test (Osprey, Prometheus) on free ports and waiting for them.

use anyhow::{Context, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Args;

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) name: &'static str,
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
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
    pub(crate) fn stop(mut self) {
        self.stop_in_place();
    }

    pub(crate) fn stop_in_place(&mut self) {
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

pub(crate) async fn wait_ready(url: &str, what: &str) -> anyhow::Result<()> {
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

pub(crate) fn start_osprey(args: &Args, dir: &Path) -> anyhow::Result<(Server, u16, u16)> {
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

/// Starts Debian's prometheus on `dir` (its `prometheus.yml` and `data/`) and waits
/// until it is ready.
pub(crate) async fn start_prometheus(
    dir: &Path,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<Server> {
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

/// `YYYY_MM` of now (VictoriaMetrics' partition names).
pub(crate) fn chrono_month() -> String {
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

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
