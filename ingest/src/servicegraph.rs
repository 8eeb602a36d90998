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
//! (at most [`MAX_PENDING`] halves, each for at most `spanmetrics.graph_wait`, 30 s)
//! for the other. A half whose peer does not arrive in time is dropped and counted
//! ([`ServiceGraph::dropped`]), except that virtual nodes stand in for services that
//! send no spans, as in the connector and Tempo (`connection_type="virtual_node"`):
//! - a client span left unpaired, with a `peer.service`, `db.name` or `db.system`
//!   attribute, is an edge to a node named by the first of them;
//! - a server span without a parent (a root) is an edge from the node `user`.
//!
//! Only the side that was seen records its latency.
//! Written with the span metrics (`spanmetrics.rs`), every `spanmetrics.interval`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use osprey_storage::schema::SampleRow;

use crate::span_columns::SpanColumns;

/// The hasher of the maps on the ingest path: ids and names come from clients, so
/// seeded per process (`quality`), yet far cheaper than SipHash on 40-byte keys.
pub(crate) type FastHash = foldhash::quality::RandomState;

/// How long a half waits for its peer, by default.
pub const WAIT: Duration = Duration::from_secs(30);
/// Client-span attributes that name an uninstrumented peer, in order.
pub const PEER_ATTRIBUTES: [&str; 3] = ["peer.service", "db.name", "db.system"];
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
    /// A client span's uninstrumented peer, from [`PEER_ATTRIBUTES`].
    peer: Option<String>,
}

/// A pair (or a half standing for one) seen: (tenant, client half, server half).
type Seen = (Arc<str>, Option<Half>, Option<Half>);

/// (tenant, trace id, the client span's id), as numbers: a half waits under it, and
/// making it cost no allocation keeps pairing cheap on the span ingest path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PendingKey {
    tenant: u64,
    trace: u128,
    span: u128,
}

impl PendingKey {
    fn new(tenant: u64, trace_id: &str, span_id: &str) -> Self {
        Self {
            tenant,
            trace: id_number(trace_id),
            span: id_number(span_id),
        }
    }
}

/// An id as a number: its value when it is at most 32 hex digits (what OTLP ids become
/// in a span row), else a 128-bit hash of it (ids from other sources).
fn id_number(id: &str) -> u128 {
    if id.len() <= 32
        && let Ok(n) = u128::from_str_radix(id, 16)
    {
        return n;
    }
    let half = |seed: u8| {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(seed, id), &mut h);
        u128::from(std::hash::Hasher::finish(&h))
    };
    // Not hex: the top bit set keeps it apart from every parsed id of ≤ 31 digits.
    (half(1) << 64 | half(2)) | 1 << 127
}

/// A tenant's name as a number, for [`PendingKey`].
fn tenant_number(tenant: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(tenant, &mut h);
    std::hash::Hasher::finish(&h)
}

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
    count: f64,
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [f64; BUCKETS_S.len() + 1],
}

impl Histogram {
    fn new() -> Self {
        Self {
            sum: 0.0,
            count: 0.0,
            buckets: [0.0; BUCKETS_S.len() + 1],
        }
    }

    fn observe(&mut self, seconds: f64, w: f64) {
        self.sum += seconds * w;
        self.count += w;
        let i = BUCKETS_S
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS_S.len());
        self.buckets[i] += w;
    }

    fn merge(&mut self, other: &Histogram) {
        self.sum += other.sum;
        self.count += other.count;
        for (b, o) in self.buckets.iter_mut().zip(other.buckets) {
            *b += o;
        }
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

impl Edge {
    fn new(now: Instant) -> Self {
        Self {
            total: 0.0,
            failed: 0.0,
            client: Histogram::new(),
            server: Histogram::new(),
            updated: now,
        }
    }

    /// Counts one call: a pair, or a half standing for one (weighted by the larger
    /// weight of the two).
    fn add_pair(&mut self, client: Option<&Half>, server: Option<&Half>) {
        let w = client
            .map_or(0.0, |h| h.weight)
            .max(server.map_or(0.0, |h| h.weight));
        self.total += w;
        if client.is_some_and(|h| h.failed) || server.is_some_and(|h| h.failed) {
            self.failed += w;
        }
        if let Some(c) = client {
            self.client.observe(c.seconds, w);
        }
        if let Some(s) = server {
            self.server.observe(s.seconds, w);
        }
    }

    fn merge(&mut self, other: &Edge, now: Instant) {
        self.total += other.total;
        self.failed += other.failed;
        self.client.merge(&other.client);
        self.server.merge(&other.server);
        self.updated = now;
    }
}

#[derive(Default)]
struct Pending {
    halves: HashMap<PendingKey, (Instant, Arc<str>, Half), FastHash>,
    /// Arrival order, for expiry and the size bound (entries may be stale).
    order: VecDeque<(Instant, PendingKey)>,
}

/// Edges between services, paired from client and server spans.
pub struct ServiceGraph {
    wait: Duration,
    pending: Mutex<Pending>,
    edges: Mutex<HashMap<EdgeKey, Edge>>,
    dropped: prometheus_client::metrics::counter::Counter,
}

fn half_of(spans: &SpanColumns<'_>, i: usize, weight: f64) -> Option<(Side, Half)> {
    let (side, messaging) = match spans.kind(i) {
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
            service: spans.service(i).to_string(),
            seconds: spans.duration_ns(i) as f64 / 1e9,
            failed: spans.status(i) == "STATUS_CODE_ERROR",
            messaging,
            weight,
            peer: (side == Side::Client)
                .then(|| {
                    PEER_ATTRIBUTES
                        .iter()
                        .find_map(|k| spans.non_empty_attribute(i, k))
                        .map(str::to_string)
                })
                .flatten(),
        },
    ))
}

const VIRTUAL: &str = "virtual_node";

impl Default for ServiceGraph {
    fn default() -> Self {
        Self::new(WAIT)
    }
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

    pub fn new(wait: Duration) -> Self {
        Self {
            wait,
            pending: Mutex::new(Pending::default()),
            edges: Mutex::new(HashMap::new()),
            dropped: Default::default(),
        }
    }

    /// Pairs acknowledged spans into edges; `weights[i]` is span `i`'s adjusted count.
    pub(crate) fn observe(&self, tenant: &str, spans: &SpanColumns<'_>, weights: &[f64]) {
        let now = Instant::now();
        let mut edges_seen: Vec<Seen> = Vec::new();
        let tenant_name: Arc<str> = Arc::from(tenant);
        {
            let Ok(mut p) = self.pending.lock() else {
                return;
            };
            edges_seen.extend(self.expire(&mut p, now));
            let tenant_key = tenant_number(tenant);
            for i in 0..spans.len() {
                let w = weights.get(i).copied().unwrap_or(1.0);
                let Some((side, half)) = half_of(spans, i, w) else {
                    continue;
                };
                let trace = spans.trace_id(i);
                let key = match side {
                    Side::Client => PendingKey::new(tenant_key, trace, spans.span_id(i)),
                    Side::Server if !spans.parent_span_id(i).is_empty() => {
                        PendingKey::new(tenant_key, trace, spans.parent_span_id(i))
                    }
                    Side::Server => {
                        // A root server span: called by something that sends no spans.
                        edges_seen.push((tenant_name.clone(), None, Some(half)));
                        continue;
                    }
                };
                match p.halves.remove(&key) {
                    Some((_, _, other)) if other.side != side => {
                        let (client, server) = if side == Side::Client {
                            (half, other)
                        } else {
                            (other, half)
                        };
                        edges_seen.push((tenant_name.clone(), Some(client), Some(server)));
                    }
                    // A second half of the same side (a retried export): keep the newest.
                    _ => {
                        p.order.push_back((now, key));
                        p.halves.insert(key, (now, tenant_name.clone(), half));
                    }
                }
            }
            while p.halves.len() > MAX_PENDING {
                let Some((t, key)) = p.order.pop_front() else {
                    break;
                };
                if p.halves.get(&key).is_some_and(|(at, _, _)| *at == t) {
                    p.halves.remove(&key);
                    self.dropped.inc();
                }
            }
        }
        self.record(edges_seen, now);
    }

    /// Adds edges: a pair, a client with a virtual server, or a virtual `user` client.
    /// A request's pairs are summed per edge under borrowed names first, so the shared
    /// map is entered (and its key's names copied) once per edge, not once per pair.
    fn record(&self, seen: Vec<Seen>, now: Instant) {
        if seen.is_empty() {
            return;
        }
        type Names<'a> = (&'a str, &'a str, &'a str, &'static str);
        let mut sums: HashMap<Names<'_>, Edge, FastHash> = HashMap::default();
        for (tenant, client, server) in &seen {
            let (client_name, server_name, connection_type) = match (client, server) {
                (Some(c), Some(s)) => (
                    c.service.as_str(),
                    s.service.as_str(),
                    if c.messaging && s.messaging {
                        "messaging_system"
                    } else {
                        ""
                    },
                ),
                (Some(c), None) => match &c.peer {
                    Some(peer) => (c.service.as_str(), peer.as_str(), VIRTUAL),
                    None => continue,
                },
                (None, Some(s)) => ("user", s.service.as_str(), VIRTUAL),
                (None, None) => continue,
            };
            if client_name == server_name {
                continue; // a call inside one service is not an edge of the graph
            }
            let e = sums
                .entry((&**tenant, client_name, server_name, connection_type))
                .or_insert_with(|| Edge::new(now));
            e.add_pair(client.as_ref(), server.as_ref());
        }
        let Ok(mut edges) = self.edges.lock() else {
            return;
        };
        for ((tenant, client, server, connection_type), sum) in sums {
            edges
                .entry(EdgeKey {
                    tenant: tenant.to_string(),
                    client: client.to_string(),
                    server: server.to_string(),
                    connection_type,
                })
                .or_insert_with(|| Edge::new(now))
                .merge(&sum, now);
        }
    }

    /// Removes halves that waited too long: client halves naming a peer come back as
    /// virtual edges, the rest are counted as dropped.
    fn expire(&self, p: &mut Pending, now: Instant) -> Vec<Seen> {
        let mut out = Vec::new();
        while let Some((t, _)) = p.order.front() {
            if now.duration_since(*t) < self.wait {
                break;
            }
            let Some((t, key)) = p.order.pop_front() else {
                break;
            };
            if p.halves.get(&key).is_some_and(|(at, _, _)| *at == t)
                && let Some((_, tenant, half)) = p.halves.remove(&key)
            {
                if half.side == Side::Client && half.peer.is_some() {
                    out.push((tenant, Some(half), None));
                } else {
                    self.dropped.inc();
                }
            }
        }
        out
    }

    /// Expires waiting halves now (written edges include virtual ones without new spans).
    fn tick(&self) {
        let now = Instant::now();
        let expired = match self.pending.lock() {
            Ok(mut p) => self.expire(&mut p, now),
            Err(_) => return,
        };
        self.record(expired, now);
    }

    /// Every live edge's samples at `ts_ns`, added to `out` per tenant.
    pub fn samples(&self, ts_ns: i64, out: &mut HashMap<String, Vec<SampleRow>>) {
        self.tick();
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
                rows.push(sample(&format!("{base}_count"), labels.clone(), h.count));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_storage::schema::{SpanRow, spans_batch};

    impl ServiceGraph {
        /// [`ServiceGraph::observe`] of rows, through the batch they are stored as.
        fn observe_rows(&self, tenant: &str, rows: &[SpanRow], weights: &[f64]) {
            let batch = spans_batch(rows).expect("a spans batch");
            let cols = SpanColumns::new(&batch).expect("the spans columns");
            self.observe(tenant, &cols, weights);
        }
    }

    #[test]
    fn ids_become_distinct_numbers() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(id_number(trace), 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(id_number("00f067aa0ba902b7"), 0x00f0_67aa_0ba9_02b7);
        // Not hex, or longer than 32 digits: hashed, apart from every parsed id.
        let other = id_number("not-an-id");
        assert_ne!(other, id_number("not-an-id2"));
        assert_eq!(other, id_number("not-an-id"));
        assert!(other >> 127 == 1 && id_number(&"f".repeat(33)) >> 127 == 1);
        assert_ne!(tenant_number("a"), tenant_number("b"));
    }

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
            ..Default::default()
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

    fn edge_total(
        out: &HashMap<String, Vec<SampleRow>>,
        client: &str,
        server: &str,
    ) -> Option<(f64, String)> {
        out.get("t")?
            .iter()
            .filter(|r| r.metric == "traces_service_graph_request_total")
            .find(|r| {
                r.labels.contains(&("client".into(), client.into()))
                    && r.labels.contains(&("server".into(), server.into()))
            })
            .map(|r| {
                let ct = r
                    .labels
                    .iter()
                    .find(|(k, _)| k == "connection_type")
                    .map_or(String::new(), |(_, v)| v.clone());
                (r.value, ct)
            })
    }

    #[test]
    fn virtual_nodes_for_uninstrumented_peers_and_users() {
        let g = ServiceGraph::new(Duration::from_millis(20));
        // A root server span: its caller sends no spans.
        g.observe_rows(
            "t",
            &[span(
                "web",
                "SPAN_KIND_SERVER",
                "01",
                "",
                5,
                "STATUS_CODE_ERROR",
            )],
            &[1.0],
        );
        // A client span to a database, and one to nothing named: both stay unpaired.
        let mut db = span(
            "web",
            "SPAN_KIND_CLIENT",
            "02",
            "01",
            3,
            "STATUS_CODE_UNSET",
        );
        db.attributes = vec![("db.system".into(), "postgresql".into())];
        let mut peer = span(
            "web",
            "SPAN_KIND_CLIENT",
            "03",
            "01",
            3,
            "STATUS_CODE_UNSET",
        );
        peer.attributes = vec![
            ("db.system".into(), "redis".into()),
            ("peer.service".into(), "cache".into()),
        ];
        let anonymous = span(
            "web",
            "SPAN_KIND_CLIENT",
            "04",
            "01",
            3,
            "STATUS_CODE_UNSET",
        );
        g.observe_rows("t", &[db, peer, anonymous], &[1.0, 1.0, 1.0]);
        std::thread::sleep(Duration::from_millis(30));
        let mut out = HashMap::new();
        g.samples(1, &mut out);
        assert_eq!(edge_total(&out, "user", "web"), Some((1.0, VIRTUAL.into())));
        assert_eq!(
            edge_total(&out, "web", "postgresql"),
            Some((1.0, VIRTUAL.into()))
        );
        // peer.service comes first among the peer attributes.
        assert_eq!(
            edge_total(&out, "web", "cache"),
            Some((1.0, VIRTUAL.into()))
        );
        assert_eq!(g.dropped(), 1, "the client span naming no peer is dropped");
        // Only the side that was seen has latencies.
        let count = |m: &str| {
            out["t"]
                .iter()
                .find(|r| r.metric == m && r.labels.contains(&("client".into(), "user".into())))
                .map(|r| r.value)
        };
        assert_eq!(
            count("traces_service_graph_request_server_seconds_count"),
            Some(1.0)
        );
        assert_eq!(
            count("traces_service_graph_request_client_seconds_count"),
            Some(0.0)
        );
        assert_eq!(
            count("traces_service_graph_request_failed_total"),
            Some(1.0)
        );
    }

    #[test]
    fn pairs_halves_across_requests_in_any_order() {
        let g = ServiceGraph::default();
        const OK: &str = "STATUS_CODE_UNSET";
        // Server half first, client half in a later request.
        g.observe_rows(
            "t",
            &[span("cart", "SPAN_KIND_SERVER", "s1", "c1", 30, OK)],
            &[1.0],
        );
        g.observe_rows(
            "t",
            &[span("web", "SPAN_KIND_CLIENT", "c1", "r", 40, OK)],
            &[1.0],
        );
        // Client first, failing server.
        g.observe_rows(
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
        g.observe_rows("t", &rows, &weights);
        assert_eq!(g.dropped(), 10);
        assert_eq!(g.pending.lock().unwrap().halves.len(), MAX_PENDING);
    }
}
