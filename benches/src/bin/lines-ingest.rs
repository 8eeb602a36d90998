//! `lines-ingest`: the CPU of `POST /api/v1/logs` in one thread, without HTTP, WAL or
//! flushes: the logs workload's requests as an application writes them to stdout (one
//! JSON event per line, 1,000 lines a request) turned into rows and into the stored
//! columns, as the handler does. It prints nanoseconds per line per stage, the best of
//! several passes (on a shared machine the best pass is the least disturbed one; the
//! end-to-end `osprey-load` rates are too noisy to see a 10 % change).

use std::time::{Duration, Instant};

use clap::Parser;
use osprey_benches::logs::{LogsWorkload, to_events};

/// The server's allocator (`src/main.rs`), so allocation costs what it costs there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Lines in the corpus.
    #[arg(long, default_value_t = 100_000)]
    lines: usize,
    /// Passes over the corpus; the best is reported.
    #[arg(long, default_value_t = 7)]
    passes: usize,
}

#[derive(Default, Clone, Copy)]
struct Stages {
    parse: Duration,
    columns: Duration,
    drop: Duration,
}

impl Stages {
    fn total(&self) -> Duration {
        self.parse + self.columns + self.drop
    }
}

const DAY_NS: i64 = 86_400_000_000_000;

fn pass(requests: &[Vec<u8>], now: i64) -> anyhow::Result<(Stages, usize)> {
    let mut s = Stages::default();
    let mut lines = 0;
    for body in requests {
        let t = Instant::now();
        let (rows, _) = osprey_ingest::lines::to_rows(body, "unknown", now, 7 * DAY_NS, 65_536);
        s.parse += t.elapsed();
        let t = Instant::now();
        let batch = osprey_storage::schema::logs_batch(&rows)?;
        s.columns += t.elapsed();
        lines += batch.num_rows();
        let t = Instant::now();
        drop((rows, batch));
        s.drop += t.elapsed();
    }
    Ok((s, lines))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos(),
    )?;
    let mut w = LogsWorkload::new(42, args.lines, now - 2 * 3_600_000_000_000, now);
    let mut requests = Vec::new();
    loop {
        let batch = w.next_batch(1000);
        if batch.is_empty() {
            break;
        }
        let mut body = Vec::new();
        to_events(&batch, &mut body);
        requests.push(body);
    }
    let bytes: usize = requests.iter().map(Vec::len).sum();
    let mut best: Option<(Stages, usize)> = None;
    for _ in 0..args.passes {
        let (s, n) = pass(&requests, now)?;
        if best.is_none_or(|(b, _)| s.total() < b.total()) {
            best = Some((s, n));
        }
    }
    let Some((s, n)) = best else {
        anyhow::bail!("no pass ran (--passes 0)");
    };
    let per = |d: Duration| d.as_nanos() as f64 / n.max(1) as f64;
    println!(
        "{n} lines, {} B/line; ns per line, best of {} passes:",
        bytes / n.max(1),
        args.passes
    );
    println!(
        "  parse {:.0}  columns {:.0}  drop {:.0}  total {:.0}",
        per(s.parse),
        per(s.columns),
        per(s.drop),
        per(s.total())
    );
    Ok(())
}
