//! The simulated shop: topology, latencies, errors, and the OTLP messages they produce.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use rand::Rng;
use rand::rngs::SmallRng;

pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// One operation a service serves.
struct Op {
    service: &'static str,
    name: &'static str,
    /// HTTP route for the RED metrics (the RPC name for gRPC services).
    route: &'static str,
    method: &'static str,
    median_ms: f64,
    sigma: f64,
    error_rate: f64,
    calls: &'static [usize],
    /// Logs as JSON objects (else plain text lines).
    json_logs: bool,
}

const OPS: &[Op] = &[
    Op {
        service: "frontend",
        name: "GET /",
        route: "/",
        method: "GET",
        median_ms: 8.0,
        sigma: 0.5,
        error_rate: 0.002,
        calls: &[1, 2, 3, 9],
        json_logs: true,
    },
    Op {
        service: "cart",
        name: "CartService/GetCart",
        route: "CartService/GetCart",
        method: "POST",
        median_ms: 2.0,
        sigma: 0.6,
        error_rate: 0.003,
        calls: &[],
        json_logs: false,
    },
    Op {
        service: "catalog",
        name: "CatalogService/ListProducts",
        route: "CatalogService/ListProducts",
        method: "POST",
        median_ms: 4.0,
        sigma: 0.4,
        error_rate: 0.001,
        calls: &[],
        json_logs: true,
    },
    Op {
        service: "recommendation",
        name: "RecommendationService/List",
        route: "RecommendationService/List",
        method: "POST",
        median_ms: 6.0,
        sigma: 0.7,
        error_rate: 0.005,
        calls: &[2],
        json_logs: false,
    },
    Op {
        service: "frontend",
        name: "GET /product/{id}",
        route: "/product/{id}",
        method: "GET",
        median_ms: 6.0,
        sigma: 0.5,
        error_rate: 0.002,
        calls: &[5, 6, 3],
        json_logs: true,
    },
    Op {
        service: "catalog",
        name: "CatalogService/GetProduct",
        route: "CatalogService/GetProduct",
        method: "POST",
        median_ms: 1.5,
        sigma: 0.4,
        error_rate: 0.004,
        calls: &[],
        json_logs: true,
    },
    Op {
        service: "currency",
        name: "CurrencyService/Convert",
        route: "CurrencyService/Convert",
        method: "POST",
        median_ms: 0.8,
        sigma: 0.3,
        error_rate: 0.001,
        calls: &[],
        json_logs: false,
    },
    Op {
        service: "frontend",
        name: "POST /checkout",
        route: "/checkout",
        method: "POST",
        median_ms: 10.0,
        sigma: 0.4,
        error_rate: 0.002,
        calls: &[8],
        json_logs: true,
    },
    Op {
        service: "checkout",
        name: "CheckoutService/PlaceOrder",
        route: "CheckoutService/PlaceOrder",
        method: "POST",
        median_ms: 12.0,
        sigma: 0.5,
        error_rate: 0.01,
        calls: &[1, 6, 10, 11, 12],
        json_logs: true,
    },
    Op {
        service: "ad",
        name: "AdService/GetAds",
        route: "AdService/GetAds",
        method: "POST",
        median_ms: 3.0,
        sigma: 0.9,
        error_rate: 0.002,
        calls: &[],
        json_logs: false,
    },
    Op {
        service: "payment",
        name: "PaymentService/Charge",
        route: "PaymentService/Charge",
        method: "POST",
        median_ms: 35.0,
        sigma: 0.6,
        error_rate: 0.04,
        calls: &[],
        json_logs: true,
    },
    Op {
        service: "shipping",
        name: "ShippingService/ShipOrder",
        route: "ShippingService/ShipOrder",
        method: "POST",
        median_ms: 9.0,
        sigma: 0.5,
        error_rate: 0.01,
        calls: &[],
        json_logs: false,
    },
    Op {
        service: "email",
        name: "EmailService/SendOrderConfirmation",
        route: "EmailService/SendOrderConfirmation",
        method: "POST",
        median_ms: 20.0,
        sigma: 0.8,
        error_rate: 0.02,
        calls: &[],
        json_logs: false,
    },
];

/// Entry points with their weights.
const ROOTS: &[(usize, u32)] = &[(0, 50), (4, 30), (7, 20)];
const HOSTS: &[&str] = &["host-a", "host-b", "host-c"];
const BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const ERRORS: &[(&str, &str)] = &[
    ("payment", "card declined: insufficient_funds"),
    ("payment", "card declined: expired_card"),
    ("email", "smtp: 451 temporary failure, retry later"),
    ("shipping", "quote service timeout after 2s"),
    ("checkout", "order validation failed: empty cart"),
    ("cart", "redis: connection reset by peer"),
];

fn host_of(service: &str) -> &'static str {
    HOSTS[service.len() % HOSTS.len()]
}

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn service_resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.instance.id", &format!("{service}-1")),
            s("service.version", "1.4.2"),
            s("host.name", host_of(service)),
            s("deployment.environment", "demo"),
        ],
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "osprey-demo".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    })
}

fn normal(rng: &mut SmallRng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// RED state of one (service, route, status) series, cumulative since start.
#[derive(Default, Clone)]
struct Red {
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
}

/// What one simulated second produced.
pub struct SimBatch {
    pub trace_request: ExportTraceServiceRequest,
    pub log_request: ExportLogsServiceRequest,
    pub traces: u64,
    pub spans: u64,
    pub logs: u64,
}

/// The simulated shop and its cumulative metric state.
pub struct Shop {
    start_ns: u64,
    red: BTreeMap<(&'static str, &'static str, &'static str, u16), Red>,
    /// Cumulative host counters: (host, counter) → value.
    counters: BTreeMap<(&'static str, &'static str), u64>,
    cpu: BTreeMap<&'static str, f64>,
}

impl Default for Shop {
    fn default() -> Self {
        Self::new()
    }
}

struct Ctx<'a> {
    rng: &'a mut SmallRng,
    trace_id: Vec<u8>,
    spans: BTreeMap<&'static str, Vec<Span>>,
    logs: BTreeMap<&'static str, Vec<LogRecord>>,
}

impl Shop {
    pub fn new() -> Self {
        Self {
            start_ns: now_nanos(),
            red: BTreeMap::new(),
            counters: BTreeMap::new(),
            cpu: BTreeMap::new(),
        }
    }

    /// Simulates `rate` user requests ending around `now`.
    pub fn simulate(&mut self, rng: &mut SmallRng, rate: u32, now: u64) -> SimBatch {
        let mut spans: BTreeMap<&'static str, Vec<Span>> = BTreeMap::new();
        let mut logs: BTreeMap<&'static str, Vec<LogRecord>> = BTreeMap::new();
        for _ in 0..rate {
            let total: u32 = ROOTS.iter().map(|(_, w)| w).sum();
            let mut pick = rng.random_range(0..total);
            let mut root = ROOTS[0].0;
            for (op, w) in ROOTS {
                if pick < *w {
                    root = *op;
                    break;
                }
                pick -= w;
            }
            let start = now - rng.random_range(0..1_000_000_000u64);
            let mut trace_id = vec![0u8; 16];
            rng.fill(&mut trace_id[..]);
            let mut ctx = Ctx {
                rng,
                trace_id,
                spans: std::mem::take(&mut spans),
                logs: std::mem::take(&mut logs),
            };
            self.serve(&mut ctx, root, start, Vec::new());
            spans = ctx.spans;
            logs = ctx.logs;
        }
        let n_spans = spans.values().map(Vec::len).sum::<usize>() as u64;
        let n_logs = logs.values().map(Vec::len).sum::<usize>() as u64;
        SimBatch {
            trace_request: ExportTraceServiceRequest {
                resource_spans: spans
                    .into_iter()
                    .map(|(svc, spans)| ResourceSpans {
                        resource: Some(service_resource(svc)),
                        scope_spans: vec![ScopeSpans {
                            scope: scope(),
                            spans,
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    })
                    .collect(),
            },
            log_request: ExportLogsServiceRequest {
                resource_logs: logs
                    .into_iter()
                    .map(|(svc, log_records)| ResourceLogs {
                        resource: Some(service_resource(svc)),
                        scope_logs: vec![ScopeLogs {
                            scope: scope(),
                            log_records,
                            schema_url: String::new(),
                        }],
                        schema_url: String::new(),
                    })
                    .collect(),
            },
            traces: u64::from(rate),
            spans: n_spans,
            logs: n_logs,
        }
    }

    /// Serves `op` starting at `start`; returns (end, failed).
    fn serve(
        &mut self,
        ctx: &mut Ctx<'_>,
        op_idx: usize,
        start: u64,
        parent: Vec<u8>,
    ) -> (u64, bool) {
        let op = &OPS[op_idx];
        let mut span_id = vec![0u8; 8];
        ctx.rng.fill(&mut span_id[..]);
        let own_ms = op.median_ms * (op.sigma * normal(ctx.rng)).exp();
        let own_ns = (own_ms * 1e6) as u64;
        let mut t = start + own_ns / 3;
        let mut child_failed = false;
        for &callee in op.calls {
            let mut client_id = vec![0u8; 8];
            ctx.rng.fill(&mut client_id[..]);
            let net = ctx.rng.random_range(100_000..600_000u64);
            let (end, failed) = self.serve(ctx, callee, t + net / 2, client_id.clone());
            let client_end = end + net / 2;
            let target = &OPS[callee];
            ctx.spans.entry(op.service).or_default().push(Span {
                trace_id: ctx.trace_id.clone(),
                span_id: client_id,
                parent_span_id: span_id.clone(),
                name: target.name.into(),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: t,
                end_time_unix_nano: client_end,
                attributes: vec![
                    s("rpc.system", "grpc"),
                    s("server.address", target.service),
                    s("peer.service", target.service),
                ],
                status: failed.then(|| Status {
                    code: StatusCode::Error as i32,
                    message: format!("{} failed", target.service),
                }),
                ..Default::default()
            });
            child_failed |= failed;
            t = client_end;
        }
        let end = t + own_ns - own_ns / 3;
        let own_error = ctx.rng.random_bool(op.error_rate);
        let failed = own_error || (child_failed && op.service != "email");
        let status_code: u16 = if failed { 500 } else { 200 };
        let duration_s = (end - start) as f64 / 1e9;
        let mut attrs = vec![
            s("http.request.method", op.method),
            s("http.route", op.route),
        ];
        attrs.push(i("http.response.status_code", i64::from(status_code)));
        if op.service == "checkout" || op.service == "payment" {
            attrs.push(s(
                "user.tier",
                if ctx.rng.random_bool(0.2) {
                    "gold"
                } else {
                    "standard"
                },
            ));
        }
        ctx.spans.entry(op.service).or_default().push(Span {
            trace_id: ctx.trace_id.clone(),
            span_id: span_id.clone(),
            parent_span_id: parent,
            name: op.name.into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attrs,
            status: Some(Status {
                code: if failed {
                    StatusCode::Error as i32
                } else {
                    StatusCode::Unset as i32
                },
                message: String::new(),
            }),
            ..Default::default()
        });
        // RED state.
        let red = self
            .red
            .entry((op.service, op.route, op.method, status_code))
            .or_insert_with(|| Red {
                buckets: vec![0; BOUNDS.len() + 1],
                ..Default::default()
            });
        red.count += 1;
        red.sum += duration_s;
        let b = BOUNDS
            .iter()
            .position(|b| duration_s <= *b)
            .unwrap_or(BOUNDS.len());
        red.buckets[b] += 1;
        // Logs.
        let ms = duration_s * 1e3;
        let (sev_num, sev, body) = if own_error {
            let msg = ERRORS
                .iter()
                .filter(|(svc, _)| *svc == op.service)
                .map(|(_, m)| *m)
                .next()
                .unwrap_or("internal error: unexpected EOF");
            (17, "ERROR", format!("{} failed: {msg}", op.name))
        } else if failed {
            (
                13,
                "WARN",
                format!("{} degraded: downstream call failed", op.name),
            )
        } else if ms > op.median_ms * 4.0 {
            (
                13,
                "WARN",
                format!("slow request {} took {ms:.1}ms", op.route),
            )
        } else {
            (
                9,
                "INFO",
                format!("handled {} {} in {ms:.1}ms", op.method, op.route),
            )
        };
        let body = if op.json_logs {
            serde_json::json!({
                "level": sev.to_ascii_lowercase(),
                "msg": body,
                "route": op.route,
                "status": status_code,
                "duration_ms": (ms * 10.0).round() / 10.0,
            })
            .to_string()
        } else {
            format!("{sev} [{}] {body} status={status_code}", op.service)
        };
        ctx.logs.entry(op.service).or_default().push(LogRecord {
            time_unix_nano: end,
            observed_time_unix_nano: end + 1_000_000,
            severity_number: sev_num,
            severity_text: sev.into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body)),
            }),
            attributes: vec![
                s("http.route", op.route),
                i("http.response.status_code", i64::from(status_code)),
            ],
            trace_id: ctx.trace_id.clone(),
            span_id,
            ..Default::default()
        });
        (end, failed)
    }

    /// Cumulative RED metrics of every service plus host USE metrics, at `now`.
    pub fn metrics_request(
        &mut self,
        rng: &mut SmallRng,
        now: u64,
    ) -> (ExportMetricsServiceRequest, u64) {
        let mut per_service: BTreeMap<&'static str, Vec<Metric>> = BTreeMap::new();
        let mut points = 0u64;
        let mut hist: BTreeMap<&'static str, Vec<HistogramDataPoint>> = BTreeMap::new();
        let mut reqs: BTreeMap<&'static str, Vec<NumberDataPoint>> = BTreeMap::new();
        for ((svc, route, method, status), red) in &self.red {
            let attrs = vec![
                s("http.request.method", method),
                s("http.route", route),
                i("http.response.status_code", i64::from(*status)),
            ];
            hist.entry(svc).or_default().push(HistogramDataPoint {
                attributes: attrs.clone(),
                start_time_unix_nano: self.start_ns,
                time_unix_nano: now,
                count: red.count,
                sum: Some(red.sum),
                bucket_counts: red.buckets.clone(),
                explicit_bounds: BOUNDS.to_vec(),
                ..Default::default()
            });
            reqs.entry(svc).or_default().push(NumberDataPoint {
                attributes: attrs,
                start_time_unix_nano: self.start_ns,
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsInt(red.count as i64)),
                ..Default::default()
            });
            points += 2;
        }
        for (svc, data_points) in hist {
            per_service.entry(svc).or_default().push(Metric {
                name: "http.server.request.duration".into(),
                description: "Duration of HTTP server requests.".into(),
                unit: "s".into(),
                data: Some(Data::Histogram(Histogram {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
                ..Default::default()
            });
        }
        for (svc, data_points) in reqs {
            per_service.entry(svc).or_default().push(Metric {
                name: "http.server.requests".into(),
                description: "HTTP server requests.".into(),
                unit: "{request}".into(),
                data: Some(Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            });
        }
        let mut resource_metrics: Vec<ResourceMetrics> = per_service
            .into_iter()
            .map(|(svc, metrics)| ResourceMetrics {
                resource: Some(service_resource(svc)),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        // Host USE metrics, hostmetrics-receiver style.
        for host in HOSTS {
            let cpu = self.cpu.entry(host).or_insert(0.3);
            *cpu = (*cpu + normal(rng) * 0.05).clamp(0.02, 0.98);
            let cpu_v = *cpu;
            let gauge = |name: &str, unit: &str, pts: Vec<NumberDataPoint>| Metric {
                name: name.into(),
                unit: unit.into(),
                data: Some(Data::Gauge(Gauge { data_points: pts })),
                ..Default::default()
            };
            let pt = |attrs: Vec<KeyValue>, v: f64| NumberDataPoint {
                attributes: attrs,
                time_unix_nano: now,
                start_time_unix_nano: self.start_ns,
                value: Some(number_data_point::Value::AsDouble(v)),
                ..Default::default()
            };
            let mem_total = 16.0 * 1024.0 * 1024.0 * 1024.0;
            let used = mem_total * (0.4 + cpu_v * 0.4);
            // A dropped packet now and then.
            let errors_step = if rng.random_range(0..10) == 0 {
                1..3
            } else {
                0..0
            };
            // A cumulative counter point, grown by a random step in `step`.
            let mut counter =
                |key: &'static str, step: std::ops::Range<u64>, attrs: Vec<KeyValue>| {
                    let c = self.counters.entry((host, key)).or_insert(0);
                    *c += if step.is_empty() {
                        0
                    } else {
                        rng.random_range(step)
                    };
                    NumberDataPoint {
                        attributes: attrs,
                        start_time_unix_nano: self.start_ns,
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsInt(*c as i64)),
                        ..Default::default()
                    }
                };
            let disk = vec![
                counter(
                    "disk-read",
                    1_000_000..50_000_000,
                    vec![s("device", "vda"), s("direction", "read")],
                ),
                counter(
                    "disk-write",
                    1_000_000..50_000_000,
                    vec![s("device", "vda"), s("direction", "write")],
                ),
            ];
            let network = vec![
                counter(
                    "net-rx",
                    200_000..5_000_000,
                    vec![s("device", "eth0"), s("direction", "receive")],
                ),
                counter(
                    "net-tx",
                    100_000..3_000_000,
                    vec![s("device", "eth0"), s("direction", "transmit")],
                ),
            ];
            let errors = vec![counter(
                "net-err",
                errors_step,
                vec![s("device", "eth0"), s("direction", "receive")],
            )];
            let sum = |name: &str, unit: &str, pts: Vec<NumberDataPoint>| Metric {
                name: name.into(),
                unit: unit.into(),
                data: Some(Data::Sum(Sum {
                    data_points: pts,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            };
            // The root filesystem: each host a little fuller than the last.
            let fs_total = 100.0 * 1024.0 * 1024.0 * 1024.0;
            let fs_used =
                fs_total * (0.45 + 0.15 * HOSTS.iter().position(|h| h == host).unwrap_or(0) as f64);
            let fs = |state: &str, v: f64| {
                pt(
                    vec![
                        s("device", "/dev/vda1"),
                        s("mountpoint", "/"),
                        s("state", state),
                    ],
                    v,
                )
            };
            let metrics = vec![
                gauge(
                    "system.cpu.utilization",
                    "1",
                    vec![
                        pt(vec![s("cpu.state", "user")], cpu_v * 0.7),
                        pt(vec![s("cpu.state", "system")], cpu_v * 0.3),
                    ],
                ),
                gauge(
                    "system.memory.usage",
                    "By",
                    vec![
                        pt(vec![s("state", "used")], used),
                        pt(vec![s("state", "free")], mem_total - used),
                    ],
                ),
                gauge(
                    "system.cpu.load_average.1m",
                    "{thread}",
                    vec![pt(vec![], cpu_v * 4.0)],
                ),
                gauge(
                    "system.filesystem.usage",
                    "By",
                    vec![fs("used", fs_used), fs("free", fs_total - fs_used)],
                ),
                sum("system.disk.io", "By", disk),
                sum("system.network.io", "By", network),
                sum("system.network.errors", "{error}", errors),
            ];
            points += 12;
            resource_metrics.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "hostmetrics"),
                        s("service.instance.id", host),
                        s("host.name", host),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
        }
        (ExportMetricsServiceRequest { resource_metrics }, points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn simulation_is_consistent() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut shop = Shop::new();
        let b = shop.simulate(&mut rng, 20, now_nanos());
        assert_eq!(b.traces, 20);
        // Every span's parent is in the same batch (or it is a root).
        let spans: Vec<&Span> = b
            .trace_request
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter().flat_map(|s| s.spans.iter()))
            .collect();
        assert_eq!(spans.len() as u64, b.spans);
        let ids: std::collections::HashSet<&[u8]> =
            spans.iter().map(|s| s.span_id.as_slice()).collect();
        let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
        assert_eq!(roots, 20);
        assert!(
            spans
                .iter()
                .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_slice()))
        );
        assert!(
            spans
                .iter()
                .all(|s| s.end_time_unix_nano >= s.start_time_unix_nano)
        );
        assert!(b.trace_request.resource_spans.len() >= 5);
        let (m, points) = shop.metrics_request(&mut rng, now_nanos());
        assert!(points > 0);
        assert!(!m.resource_metrics.is_empty());
    }
}
