//! Operational endpoints and self-observability: `/healthz`, `/readyz`, `/metrics`, and
//! the per-endpoint request metrics middleware that every HTTP listener uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Requests, errors and latency by endpoint (the route pattern, not the raw path).
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "osprey_http_requests",
            "HTTP requests by endpoint, method and status code",
            self.requests.clone(),
        );
        r.register(
            "osprey_http_errors",
            "HTTP requests answered with a 4xx or 5xx status, by endpoint",
            self.errors.clone(),
        );
        r.register(
            "osprey_http_request_duration_seconds",
            "HTTP request latency by endpoint",
            self.duration.clone(),
        );
    }
}

/// Middleware: counts and times every request by its matched route.
pub async fn track(
    State(m): State<HttpMetrics>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let endpoint = matched.map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    m.requests
        .get_or_create(&vec![
            ("endpoint", endpoint.clone()),
            ("method", method),
            ("code", status.as_u16().to_string()),
        ])
        .inc();
    if status.is_client_error() || status.is_server_error() {
        m.errors
            .get_or_create(&vec![("endpoint", endpoint.clone())])
            .inc();
    }
    m.duration
        .get_or_create(&vec![("endpoint", endpoint)])
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// What the ops endpoints look at.
#[derive(Clone)]
pub struct OpsState {
    pub storage: osprey_storage::Storage,
    pub registry: Arc<Registry>,
    /// Set when shutdown begins: `/readyz` turns 503 so load balancers drain us.
    pub shutting_down: Arc<AtomicBool>,
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(s): State<OpsState>) -> Response {
    if s.shutting_down.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if !s.storage.is_healthy() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage failed; see logs\n",
        )
            .into_response()
    } else if let Err(e) = s.storage.lease_check() {
        // A cluster ingester waiting out an earlier process's lease, or past its own.
        (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
    } else if s.storage.is_disk_full() {
        // Still ready: queries are served; writes are refused (507) until space returns.
        (
            StatusCode::OK,
            "ready; writes refused: the disk is full (osprey_storage_disk_full)\n",
        )
            .into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

pub async fn metrics(State(s): State<OpsState>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &s.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
