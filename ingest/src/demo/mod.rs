//! `osprey demo`: realistic telemetry of a small microservice shop, sent to a running
//! server over OTLP/gRPC like any instrumented application would.
//!
//! Ten services call each other in a fixed topology; each simulated request becomes a
//! trace with fan-out, log-normal latencies and per-service error rates, log lines
//! (JSON and plain text) correlated by trace id, cumulative RED metrics
//! (`http.server.request.duration` histogram, `http.server.requests` counter) and host
//! USE gauges/counters (CPU, load, memory, disk, filesystem, network and its errors)
//! for three hosts.

mod model;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use rand::SeedableRng;
use rand::rngs::SmallRng;

pub use model::Shop;

/// What to generate and where to send it.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// OTLP gRPC endpoint, e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    /// Stop after this long; `None` runs until interrupted.
    pub duration: Option<Duration>,
    /// Simulated user requests (traces) per second.
    pub rate: u32,
    /// Seed of the generator: the same seed gives the same telemetry shape.
    pub seed: u64,
    /// Tenant (`X-Scope-OrgID`).
    pub tenant: Option<String>,
    /// API token, sent as `authorization: Bearer` metadata.
    pub token: Option<String>,
    /// How an `https://` endpoint is verified.
    pub tls: osprey_tls::ClientOptions,
}

/// Totals sent, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoStats {
    pub traces: u64,
    pub spans: u64,
    pub logs: u64,
    pub metric_points: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: tonic::transport::Error,
    },
    #[error("export failed: {0}")]
    Export(#[from] tonic::Status),
    #[error("invalid tenant: {0}")]
    Tenant(String),
    #[error("invalid token: it cannot be sent as gRPC metadata")]
    Token,
    #[error("TLS: {0}")]
    Tls(String),
}

/// `msg` with the tenant and token metadata of `opts`.
fn request<T>(msg: T, opts: &DemoOptions) -> Result<tonic::Request<T>, DemoError> {
    let mut req = tonic::Request::new(msg);
    if let Some(t) = &opts.tenant {
        let v = t.parse().map_err(|_| DemoError::Tenant(t.clone()))?;
        req.metadata_mut().insert("x-scope-orgid", v);
    }
    if let Some(t) = &opts.token {
        let v = format!("Bearer {t}")
            .parse()
            .map_err(|_| DemoError::Token)?;
        req.metadata_mut().insert("authorization", v);
    }
    Ok(req)
}

/// Runs the generator until the duration ends (or forever), one batch a second.
pub async fn run(opts: DemoOptions) -> Result<DemoStats, DemoError> {
    let connect = |e: tonic::transport::Error| DemoError::Connect {
        endpoint: opts.endpoint.clone(),
        source: e,
    };
    let endpoint =
        tonic::transport::Endpoint::from_shared(opts.endpoint.clone()).map_err(connect)?;
    let channel = if opts.endpoint.starts_with("https://") {
        let https = osprey_tls::https_connector(&opts.tls, true)
            .map_err(|e| DemoError::Tls(e.to_string()))?;
        endpoint.connect_with_connector(https).await
    } else {
        endpoint.connect().await
    }
    .map_err(connect)?;
    let mut traces = TraceServiceClient::new(channel.clone());
    let mut logs = LogsServiceClient::new(channel.clone());
    let mut metrics = MetricsServiceClient::new(channel);
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let mut shop = Shop::new();
    let mut stats = DemoStats::default();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seconds = 0u64;
    loop {
        tick.tick().await;
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let now = model::now_nanos();
        let batch = shop.simulate(&mut rng, opts.rate, now);
        stats.traces += batch.traces;
        stats.spans += batch.spans;
        stats.logs += batch.logs;
        traces.export(request(batch.trace_request, &opts)?).await?;
        logs.export(request(batch.log_request, &opts)?).await?;
        // Metrics every 5 s, like a periodic reader.
        if seconds.is_multiple_of(5) {
            let (req, points) = shop.metrics_request(&mut rng, now);
            stats.metric_points += points;
            metrics.export(request(req, &opts)?).await?;
        }
        seconds += 1;
    }
    Ok(stats)
}
