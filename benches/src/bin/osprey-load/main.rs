//! `osprey-load`: the end-to-end load generator. It builds a deterministic workload,
//! pushes it over the real protocols into a fresh Osprey server (and, with `--peers`,
//! into Prometheus, VictoriaMetrics and ClickHouse on the same data), then prints
//! rows/s, bytes on disk per row and peak RSS side by side, with the ratios.
//!
//! Payloads are encoded before the clock starts, so every system is timed on ingest
//! alone, with the same requests, at the same concurrency.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use osprey_benches::http::Http;

mod logs_load;
mod metrics_load;
mod peers;
mod push;
mod report;
mod servers;
mod traces_load;

use logs_load::{logs_workload, search_comparison};
use metrics_load::metrics_workload;
use report::print_table;
use traces_load::{trace_comparison, traces_workload};

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
