//! Osprey's ingest: protocol listeners and decoders (OTLP gRPC/HTTP, Prometheus
//! remote_write), validation, and normalisation of everything into the storage model's
//! record batches. Also the `demo` telemetry generator, which speaks the same protocols
//! as a client.
//!
//! Nothing here reads query code; the only ways out are `osprey_storage::Storage::append`
//! and, for remote_write's samples by series id, `Storage::append_samples`; both
//! acknowledge after the WAL fsync. In a cluster, `cluster/` sends spans and metric
//! points to the ingesters that own them first.

pub mod admission;
mod body;
pub mod capture;
pub mod cluster;
pub mod demo;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod lines;
pub mod loki;
mod metrics;
pub mod otlp;
pub mod remote_write;
pub mod samplegate;
pub mod scrape;
pub mod servicegraph;
pub mod shapes;
mod span_columns;
pub mod spanmetrics;
pub mod window;
mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use osprey_auth::Scope;
use osprey_storage::Storage;

pub use error::IngestError;
pub use metrics::IngestMetrics;

/// What every ingest handler needs.
#[derive(Clone)]
pub struct IngestState {
    pub storage: Storage,
    /// Largest body accepted, before and after decompression.
    pub max_body: u64,
    pub metrics: IngestMetrics,
    /// RED counters of the spans acknowledged (written as metrics by `SpanMetrics::run`).
    pub spanmetrics: std::sync::Arc<spanmetrics::SpanMetrics>,
    /// Out-of-order window and duplicate checks for every metric sample written.
    pub samples: std::sync::Arc<samplegate::SampleGate>,
    /// Scrape targets' last results (`GET /api/v1/targets`).
    pub targets: std::sync::Arc<scrape::TargetBoard>,
    /// Which requests are read and decoded now (`admission.rs`).
    pub admission: admission::Admission,
    /// Each tenant's rates and shapes (`[limits]`, `[overrides.<tenant>]`).
    pub limiter: std::sync::Arc<osprey_auth::Limiter>,
    /// Spans per recent trace (`limits.max_spans_per_trace`).
    pub trace_spans: std::sync::Arc<shapes::TraceSpans>,
    /// A cluster's ingester: spans and metric points go to their owners
    /// (`cluster/`); `None` on a single node and for a part this node owns.
    pub forward: Option<std::sync::Arc<cluster::Forwarder>>,
    /// The batch id of the forwarded part being stored (its WAL record carries it).
    pub batch: Option<u128>,
}

impl IngestState {
    pub fn new(storage: Storage, max_body: u64) -> Self {
        Self::with_spanmetrics(
            storage,
            max_body,
            osprey_config::SpanMetricsConfig::default(),
        )
    }

    pub fn with_spanmetrics(
        storage: Storage,
        max_body: u64,
        spanmetrics: osprey_config::SpanMetricsConfig,
    ) -> Self {
        let inflight = osprey_config::ServerConfig::default()
            .ingest_inflight_limit
            .as_u64();
        Self::with_limits(storage, max_body, inflight, spanmetrics)
    }

    /// The state with every limit given: `max_body` per request, `inflight_limit` for
    /// the requests being decoded together.
    pub fn with_limits(
        storage: Storage,
        max_body: u64,
        inflight_limit: u64,
        spanmetrics: osprey_config::SpanMetricsConfig,
    ) -> Self {
        let window = storage.config().metrics_out_of_order_window;
        let retention = storage.retention(osprey_storage::Signal::Metrics);
        Self {
            admission: admission::Admission::new(storage.clone(), inflight_limit, max_body),
            storage,
            samples: std::sync::Arc::new(samplegate::SampleGate::new(window, retention)),
            targets: std::sync::Arc::default(),
            max_body,
            metrics: IngestMetrics::default(),
            spanmetrics: std::sync::Arc::new(spanmetrics::SpanMetrics::new(spanmetrics)),
            limiter: std::sync::Arc::default(),
            trace_spans: std::sync::Arc::default(),
            forward: None,
            batch: None,
        }
    }
}

/// A write endpoint: POST, and any other method answered 405 with `Allow: POST` and a
/// message saying so.
fn post_only<H, T>(handler: H) -> MethodRouter<IngestState>
where
    H: Handler<T, IngestState>,
    T: 'static,
{
    post(handler).fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let msg = format!(
        "method {method} is not allowed on {}: it takes POST",
        uri.path()
    );
    let body = serde_json::json!({"status": "error", "error": msg});
    let mut resp = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// The OTLP/HTTP paths (served on the OTLP HTTP port and again on the API port).
pub fn otlp_http_router(st: IngestState) -> Router {
    let limit = usize::try_from(st.max_body).unwrap_or(usize::MAX);
    let admit = axum::middleware::from_fn_with_state(st.admission.clone(), admission::otlp_http);
    Router::new()
        .route("/v1/traces", post_only(otlp::http::traces))
        .route("/v1/logs", post_only(otlp::http::logs))
        .route("/v1/metrics", post_only(otlp::http::metrics))
        .route_layer(admit)
        .route_layer(osprey_auth::require(Scope::Ingest))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(st)
}

/// Ingest endpoints of the API port: OTLP/HTTP, Prometheus remote_write, log lines and
/// Loki push.
pub fn api_router(st: IngestState) -> Router {
    let limit = usize::try_from(st.max_body).unwrap_or(usize::MAX);
    let admit = axum::middleware::from_fn_with_state(st.admission.clone(), admission::http);
    Router::new()
        .route("/api/v1/write", post_only(remote_write::write))
        .route("/api/v1/logs", post_only(lines::handler))
        .route("/loki/api/v1/push", post_only(loki::push))
        .route_layer(admit)
        .route_layer(osprey_auth::require(Scope::Ingest))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(st.clone())
        .merge(
            Router::new()
                .route("/api/v1/targets", axum::routing::get(targets_handler))
                .route_layer(osprey_auth::require(Scope::Query))
                .with_state(st.clone()),
        )
        .merge(otlp_http_router(st))
}

/// `GET /api/v1/targets`: the scrape targets of the asking tenant and their last
/// scrape, Prometheus' shape.
async fn targets_handler(
    axum::extract::State(st): axum::extract::State<IngestState>,
    ctx: osprey_auth::RequestContext,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "success",
        "data": st.targets.to_json(ctx.tenant(), q.get("state").map(String::as_str)),
    }))
}

pub use otlp::grpc::routes as otlp_grpc_routes;
