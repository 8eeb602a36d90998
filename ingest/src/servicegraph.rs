//! Service-graph series derived from spans at ingest (DESIGN §5), under the names the
//! OpenTelemetry Collector's servicegraph connector exports to Prometheus:
//!
//! - `traces_service_graph_request_total{client, server, connection_type}`
//! - `traces_service_graph_request_failed_total{…}` (either side has an error status)
//! - `traces_service_graph_request_server_seconds_bucket/_sum/_count{…, le}` and
//!   `traces_service_graph_request_client_seconds_…` (the two sides' durations)
//!
//! An edge is a CLIENT (or PRODUCER) span of one service whose child SERVER (or
//! CONSUMER) span belongs to another service; `connection_type` is `messaging_system`
//! for producer/consumer pairs and empty otherwise. The two halves usually arrive in
//! different requests, from different services: each half waits in a bounded store
//! (at most [`MAX_PENDING`] halves, each for at most [`WAIT`]) for the other. A half
//! whose peer does not arrive in time is dropped and counted ([`ServiceGraph::dropped`]).
//! Written with the span metrics (`spanmetrics.rs`), every `spanmetrics.interval`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use osprey_storage::schema::{SampleRow, SpanRow};

/// How long a half waits for its peer.
pub const WAIT: Duration = Duration::from_secs(30);
/// Most halves waiting at once; the oldest are dropped beyond it.
pub const MAX_PENDING: usize = 100_000;
/// Bucket bounds (seconds) of the connector's default latency histograms.
pub const BUCKETS_S: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];
/// An edge not seen for this long stops being written.
pub const EXPIRY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone)]
struct Half {
    side: Side,
    service: String,
    seconds: f64,
    failed: bool,
    messaging: bool,
    weight: f64,
}

/// (tenant, trace id, the client span's id).
type PendingKey = (String, String, String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EdgeKey {
    tenant: String,
    client: String,
    server: String,
    connection_type: &'static str,
}

#[derive(Debug)]
struct Histogram {
    sum: f64,
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [f64; BUCKETS_S.len() + 1],
}

impl Histogram {
    fn new() -> Self {
        Self {
            sum: 0.0,
            buckets: [0.0; BUCKETS_S.len() + 1],
        }
    }

    fn observe(&mut self, seconds: f64, w: f64) {
        self.sum += seconds * w;
        let i = BUCKETS_S
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS_S.len());
        self.buckets[i] += w;
    }
}

#[derive(Debug)]
struct Edge {
    total: f64,
    failed: f64,
    client: Histogram,
    server: Histogram,
    updated: Instant,
}

#[derive(Default)]
struct Pending {
    halves: HashMap<PendingKey, (Instant, Half)>,
    /// Arrival order, for expiry and the size bound (entries may be stale).
    order: VecDeque<(Instant, PendingKey)>,
}

/// Edges between services, paired from client and server spans.
#[derive(Default)]
pub struct ServiceGraph {
    pending: Mutex<Pending>,
    edges: Mutex<HashMap<EdgeKey, Edge>>,
    dropped: prometheus_client::metrics::counter::Counter,
}

fn half_of(r: &SpanRow, weight: f64) -> Option<(Side, Half)> {
    let (side, messaging) = match r.kind.as_str() {
        "SPAN_KIND_CLIENT" => (Side::Client, false),
        "SPAN_KIND_PRODUCER" => (Side::Client, true),
        "SPAN_KIND_SERVER" => (Side::Server, false),
        "SPAN_KIND_CONSUMER" => (Side::Server, true),
        _ => return None,
    };
    Some((
        side,
        Half {
            side,
            service: r.service.clone(),
            seconds: (r.end_time_ns - r.start_time_ns).max(0) as f64 / 1e9,
            failed: r.status_code == "STATUS_CODE_ERROR",
            messaging,
            weight,
        },
    ))
}

impl ServiceGraph {
    /// Halves dropped without their peer (expired, or beyond the store's bound).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// The counter of [`ServiceGraph::dropped`], for the server's `/metrics`.
    pub fn dropped_counter(&self) -> prometheus_client::metrics::counter::Counter {
        self.dropped.clone()
    }

    /// Pairs acknowledged spans into edges.
    pub fn observe(&self, tenant: &str, rows: &[SpanRow], weights: &[f64]) {
        let now = Instant::now();
        let mut paired = Vec::new();
        {
            let Ok(mut p) = self.pending.lock() else {
                return;
            };
            self.expire(&mut p, now);
            for (i, r) in rows.iter().enumerate() {
                let w = weights.get(i).copied().unwrap_or(1.0);
                let Some((side, half)) = half_of(r, w) else {
                    continue;
                };
                let key = match side {
                    Side::Client => (tenant.to_string(), r.trace_id.clone(), r.span_id.clone()),
                    Side::Server if !r.parent_span_id.is_empty() => (
                        tenant.to_string(),
                        r.trace_id.clone(),
                        r.parent_span_id.clone(),
                    ),
                    Side::Server => continue,
                };
                match p.halves.remove(&key) {
                    Some((_, other)) if other.side != side => {
                        let (client, server) = if side == Side::Client {
                            (half, other)
                        } else {
                            (other, half)
                        };
                        paired.push((client, server));
                    }
                    // A second half of the same side (a retried export): keep the newest.
                    _ => {
                        p.order.push_back((now, key.clone()));
                        p.halves.insert(key, (now, half));
                    }
                }
            }
            while p.halves.len() > MAX_PENDING {
                let Some((t, key)) = p.order.pop_front() else {
                    break;
                };
                if p.halves.get(&key).is_some_and(|(at, _)| *at == t) {
                    p.halves.remove(&key);
                    self.dropped.inc();
                }
            }
        }
        if paired.is_empty() {
            return;
        }
        let Ok(mut edges) = self.edges.lock() else {
            return;
        };
        for (client, server) in paired {
            if client.service == server.service {
                continue; // a call inside one service is not an edge of the graph
            }
            let w = client.weight.max(server.weight);
            let e = edges
                .entry(EdgeKey {
                    tenant: tenant.to_string(),
                    client: client.service.clone(),
                    server: server.service.clone(),
                    connection_type: if client.messaging && server.messaging {
                        "messaging_system"
                    } else {
                        ""
                    },
                })
                .or_insert_with(|| Edge {
                    total: 0.0,
                    failed: 0.0,
                    client: Histogram::new(),
                    server: Histogram::new(),
                    updated: now,
                });
            e.total += w;
            if client.failed || server.failed {
                e.failed += w;
            }
            e.client.observe(client.seconds, w);
            e.server.observe(server.seconds, w);
            e.updated = now;
        }
    }

    fn expire(&self, p: &mut Pending, now: Instant) {
        while let Some((t, _)) = p.order.front() {
            if now.duration_since(*t) < WAIT {
                break;
            }
            let Some((t, key)) = p.order.pop_front() else {
                break;
            };
            if p.halves.get(&key).is_some_and(|(at, _)| *at == t) {
                p.halves.remove(&key);
                self.dropped.inc();
            }
        }
    }

    /// Every live edge's samples at `ts_ns`, added to `out` per tenant.
    pub fn samples(&self, ts_ns: i64, out: &mut HashMap<String, Vec<SampleRow>>) {
        let Ok(mut edges) = self.edges.lock() else {
            return;
        };
        edges.retain(|_, e| e.updated.elapsed() < EXPIRY);
        for (k, e) in edges.iter() {
            let rows = out.entry(k.tenant.clone()).or_default();
            // An empty label value is no label in Prometheus' model: connection_type
            // is only written when it says something.
            let mut labels = vec![("client".to_string(), k.client.clone())];
            if !k.connection_type.is_empty() {
                labels.push(("connection_type".to_string(), k.connection_type.to_string()));
            }
            labels.push(("server".to_string(), k.server.clone()));
            let sample = |metric: &str, labels: Vec<(String, String)>, value: f64| SampleRow {
                metric: metric.to_string(),
                labels,
                timestamp_ns: ts_ns,
                value,
            };
            rows.push(sample(
                "traces_service_graph_request_total",
                labels.clone(),
                e.total,
            ));
            rows.push(sample(
                "traces_service_graph_request_failed_total",
                labels.clone(),
                e.failed,
            ));
            for (side, h) in [("server", &e.server), ("client", &e.client)] {
                let base = format!("traces_service_graph_request_{side}_seconds");
                let mut cumulative = 0.0;
                for (i, n) in h.buckets.iter().enumerate() {
                    cumulative += n;
                    let le = BUCKETS_S
                        .get(i)
                        .map_or_else(|| "+Inf".to_string(), |b| format!("{b}"));
                    let mut l = labels.clone();
                    l.push(("le".to_string(), le));
                    rows.push(sample(&format!("{base}_bucket"), l, cumulative));
                }
                rows.push(sample(&format!("{base}_sum"), labels.clone(), h.sum));
                rows.push(sample(&format!("{base}_count"), labels.clone(), e.total));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(service: &str, kind: &str, id: &str, parent: &str, ms: i64, status: &str) -> SpanRow {
        SpanRow {
            service: service.into(),
            start_time_ns: 0,
            end_time_ns: ms * 1_000_000,
            trace_id: "ab".repeat(16),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: "op".into(),
            kind: kind.into(),
            status_code: status.into(),
            status_message: String::new(),
            attributes: Vec::new(),
            resource: Vec::new(),
            events: "[]".into(),
            links: "[]".into(),
            scope: String::new(),
        }
    }

    fn value(out: &HashMap<String, Vec<SampleRow>>, metric: &str, le: Option<&str>) -> f64 {
        out["t"]
            .iter()
            .filter(|r| r.metric == metric)
            .find(|r| le.is_none_or(|le| r.labels.iter().any(|(k, v)| k == "le" && v == le)))
            .map(|r| r.value)
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn pairs_halves_across_requests_in_any_order() {
        let g = ServiceGraph::default();
        const OK: &str = "STATUS_CODE_UNSET";
        // Server half first, client half in a later request.
        g.observe(
            "t",
            &[span("cart", "SPAN_KIND_SERVER", "s1", "c1", 30, OK)],
            &[1.0],
        );
        g.observe(
            "t",
            &[span("web", "SPAN_KIND_CLIENT", "c1", "r", 40, OK)],
            &[1.0],
        );
        // Client first, failing server.
        g.observe(
            "t",
            &[
                span("web", "SPAN_KIND_CLIENT", "c2", "r", 3, OK),
                span(
                    "cart",
                    "SPAN_KIND_SERVER",
                    "s2",
                    "c2",
                    1,
                    "STATUS_CODE_ERROR",
                ),
                // Same service: not an edge. Internal spans: ignored.
                span("web", "SPAN_KIND_CLIENT", "c3", "r", 1, OK),
                span("web", "SPAN_KIND_SERVER", "s3", "c3", 1, OK),
                span("web", "SPAN_KIND_INTERNAL", "i1", "c3", 1, OK),
            ],
            &[1.0; 5],
        );
        let mut out = HashMap::new();
        g.samples(7, &mut out);
        assert_eq!(value(&out, "traces_service_graph_request_total", None), 2.0);
        assert_eq!(
            value(&out, "traces_service_graph_request_failed_total", None),
            1.0
        );
        let server = "traces_service_graph_request_server_seconds_bucket";
        assert_eq!(value(&out, server, Some("0.002")), 1.0);
        assert_eq!(value(&out, server, Some("0.05")), 2.0);
        let client = "traces_service_graph_request_client_seconds_bucket";
        assert_eq!(value(&out, client, Some("0.004")), 1.0);
        assert_eq!(value(&out, client, Some("+Inf")), 2.0);
        assert!(
            (value(
                &out,
                "traces_service_graph_request_client_seconds_sum",
                None
            ) - 0.043)
                .abs()
                < 1e-12
        );
        assert_eq!(
            out["t"]
                .iter()
                .filter(|r| r.metric == "traces_service_graph_request_total")
                .count(),
            1
        );
        assert_eq!(g.dropped(), 0);
    }

    #[test]
    fn the_pending_store_is_bounded() {
        let g = ServiceGraph::default();
        let rows: Vec<SpanRow> = (0..MAX_PENDING + 10)
            .map(|i| {
                span(
                    "web",
                    "SPAN_KIND_CLIENT",
                    &format!("{i:016x}"),
                    "r",
                    1,
                    "STATUS_CODE_UNSET",
                )
            })
            .collect();
        let weights = vec![1.0; rows.len()];
        g.observe("t", &rows, &weights);
        assert_eq!(g.dropped(), 10);
        assert_eq!(g.pending.lock().unwrap().halves.len(), MAX_PENDING);
    }
}
