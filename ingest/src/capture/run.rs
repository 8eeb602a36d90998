//! `osprey run --service NAME -- CMD ARGS…` and `CMD | osprey pipe --service NAME`.
//!
//! `run` starts the program with its stdout and stderr piped, copies every line to the
//! terminal as it comes (stdout to stdout, stderr to stderr), ships it, forwards
//! SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the program, and exits with
//! the program's exit code (128 + the signal when a signal ended it). `pipe` does the
//! same for its standard input. At the end, lines still buffered get up to
//! `flush_timeout` to reach the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::Duration;

use super::{ShipStats, Shipper, ShipperConfig, Stream};

/// Longest line read at once; longer lines are split (the server cuts events at 64 KiB).
const MAX_LINE: u64 = 1 << 20;

/// Copies lines from `input` to `output` and the shipper until end of input (on a
/// thread of its own: reading and the terminal block, shipping never does).
fn pump(input: impl Read, mut output: impl Write, shipper: &Shipper, stream: Stream) {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // The terminal gets the bytes as they were; a closed terminal does not stop us.
        let _ = output.write_all(&line);
        let _ = output.flush();
        if line.ends_with(b"\n") {
            line.pop();
        }
        if line.ends_with(b"\r") {
            line.pop();
        }
        shipper.push(stream, line.clone());
    }
}

fn spawn_pump(
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
    shipper: Shipper,
    stream: Stream,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || pump(input, output, &shipper, stream))
}

/// Ships what is left, waiting at most `timeout`; reports drops on stderr.
pub(crate) async fn finish(
    shipper: Shipper,
    task: tokio::task::JoinHandle<ShipStats>,
    timeout: Duration,
) -> ShipStats {
    shipper.close();
    let stats = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(s)) => s,
        _ => ShipStats {
            unsent: 1,
            ..Default::default()
        },
    };
    if stats.dropped > 0 || stats.unsent > 0 {
        eprintln!(
            "osprey: {} lines dropped (buffer full) and {} not shipped (server unreachable at exit)",
            stats.dropped, stats.unsent
        );
    }
    stats
}

/// `osprey pipe`: ships standard input; returns the exit code.
pub async fn pipe(cfg: ShipperConfig, flush_timeout: Duration) -> i32 {
    let (shipper, task) = Shipper::start(cfg);
    let t = spawn_pump(
        std::io::stdin(),
        std::io::stdout(),
        shipper.clone(),
        Stream::Stdout,
    );
    let _ = tokio::task::spawn_blocking(move || t.join()).await;
    finish(shipper, task, flush_timeout).await;
    0
}

/// `osprey run`: runs `cmd` and ships its output; returns the exit code to exit with.
pub async fn run(
    cfg: ShipperConfig,
    cmd: &[String],
    flush_timeout: Duration,
) -> std::io::Result<i32> {
    let Some((program, args)) = cmd.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no command given: osprey run --service NAME -- CMD ARGS…",
        ));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run {program:?}: {e}")))?;
    let (shipper, task) = Shipper::start(cfg);
    let mut pumps = Vec::new();
    if let Some(o) = child.stdout.take() {
        pumps.push(spawn_pump(
            o,
            std::io::stdout(),
            shipper.clone(),
            Stream::Stdout,
        ));
    }
    if let Some(e) = child.stderr.take() {
        pumps.push(spawn_pump(
            e,
            std::io::stderr(),
            shipper.clone(),
            Stream::Stderr,
        ));
    }
    let forward = tokio::spawn(forward_signals(child.id()));
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait();
        // The pipes close when the program (and whatever inherited them) exits.
        for p in pumps {
            let _ = p.join();
        }
        status
    })
    .await
    .map_err(std::io::Error::other)??;
    forward.abort();
    finish(shipper, task, flush_timeout).await;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Passes the signals a supervisor or a terminal sends on to the program.
async fn forward_signals(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    use tokio::signal::unix::{SignalKind, signal};
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let (Ok(mut int), Ok(mut term), Ok(mut hup), Ok(mut quit), Ok(mut usr1), Ok(mut usr2)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::quit()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) else {
        return;
    };
    loop {
        let sig = tokio::select! {
            _ = int.recv() => Signal::INT,
            _ = term.recv() => Signal::TERM,
            _ = hup.recv() => Signal::HUP,
            _ = quit.recv() => Signal::QUIT,
            _ = usr1.recv() => Signal::USR1,
            _ = usr2.recv() => Signal::USR2,
        };
        let _ = kill_process(pid, sig);
    }
}
