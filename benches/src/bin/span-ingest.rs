//! `span-ingest`: the CPU of the span ingest path in one thread, without HTTP, WAL or
//! flushes: OTLP protobuf requests of the traces workload decoded, converted to the
//! stored columns and counted by span metrics and the service graph, as
//! `Pipeline::traces_here` does. It prints nanoseconds per span per stage, the best of
//! several passes, for the prost path and for the wire path of OTLP/HTTP protobuf: on a shared machine the best pass is the least disturbed one, and
//! the end-to-end `osprey-load` rates are too noisy to see a 10 % change.

use std::time::{Duration, Instant};

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_benches::traces::{TracesWorkload, to_otlp};
use osprey_config::SpanMetricsConfig;
use osprey_ingest::otlp::{traces, traces_wire};
use osprey_ingest::spanmetrics::SpanMetrics;
use osprey_ingest::window::Window;
use prost::Message;

#[derive(Parser)]
struct Args {
    /// Traces in the corpus (the traces workload has ~22 spans per trace).
    #[arg(long, default_value_t = 10_000)]
    traces: usize,
    /// Passes over the corpus; the best is reported.
    #[arg(long, default_value_t = 7)]
    passes: usize,
}

#[derive(Default, Clone, Copy)]
struct Stages {
    decode: Duration,
    convert: Duration,
    observe: Duration,
    drop: Duration,
}

impl Stages {
    fn total(&self) -> Duration {
        self.decode + self.convert + self.observe + self.drop
    }
}

fn pass(requests: &[Vec<u8>], window: &Window) -> anyhow::Result<(Stages, usize)> {
    let metrics = SpanMetrics::new(SpanMetricsConfig::default());
    let mut s = Stages::default();
    let mut spans = 0;
    for raw in requests {
        let t = Instant::now();
        let req = ExportTraceServiceRequest::decode(raw.as_slice())?;
        s.decode += t.elapsed();
        let t = Instant::now();
        let (rows, weights, _, _) = traces::convert(&req, window);
        let batch = osprey_storage::schema::spans_batch(&rows)?;
        s.convert += t.elapsed();
        let t = Instant::now();
        metrics.observe("bench", &batch, &weights);
        s.observe += t.elapsed();
        spans += batch.num_rows();
        let t = Instant::now();
        drop((req, rows, batch));
        s.drop += t.elapsed();
    }
    Ok((s, spans))
}

/// [`pass`] the way a single node reads OTLP/HTTP protobuf: from the wire
/// (`traces_wire.rs`), with no decoded request and no rows.
fn pass_wire(requests: &[Vec<u8>], window: &Window) -> anyhow::Result<(Stages, usize)> {
    let metrics = SpanMetrics::new(SpanMetricsConfig::default());
    let mut s = Stages::default();
    let mut spans = 0;
    for raw in requests {
        let t = Instant::now();
        let ix = traces_wire::index(raw).ok_or_else(|| anyhow::anyhow!("not read"))?;
        s.decode += t.elapsed();
        let t = Instant::now();
        let c = traces_wire::convert(&ix, window, |_, _, _| None);
        let batch = c.spans.finish()?;
        s.convert += t.elapsed();
        let t = Instant::now();
        metrics.observe("bench", &batch, &c.weights);
        s.observe += t.elapsed();
        spans += batch.num_rows();
        let t = Instant::now();
        drop((ix, batch));
        s.drop += t.elapsed();
    }
    Ok((s, spans))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as i64;
    let mut w = TracesWorkload::new(1, args.traces, now - 2 * 3_600_000_000_000, now);
    let mut requests = Vec::new();
    loop {
        let batch = w.next_batch(50);
        if batch.is_empty() {
            break;
        }
        requests.push(to_otlp(&batch).encode_to_vec());
    }
    let window = Window::new(now, Duration::from_secs(30 * 86_400));
    type Pass = fn(&[Vec<u8>], &Window) -> anyhow::Result<(Stages, usize)>;
    let paths: [(&str, Pass); 2] = [("prost + rows", pass), ("wire", pass_wire)];
    for (what, run) in paths {
        let mut best: Option<(Stages, usize)> = None;
        for _ in 0..args.passes {
            let (s, n) = run(&requests, &window)?;
            if best.is_none_or(|(b, _)| s.total() < b.total()) {
                best = Some((s, n));
            }
        }
        let Some((s, n)) = best else {
            anyhow::bail!("no pass ran");
        };
        let per = |d: Duration| d.as_nanos() as f64 / n.max(1) as f64;
        println!(
            "{what}: {n} spans, best of {} passes, ns/span: decode {:.0}  convert+batch {:.0}  observe {:.0}  drop {:.0}  total {:.0}",
            args.passes,
            per(s.decode),
            per(s.convert),
            per(s.observe),
            per(s.drop),
            per(s.total())
        );
    }
    Ok(())
}
