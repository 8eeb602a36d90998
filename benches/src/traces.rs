//! Traces workload: traces of 5-40 spans across a dozen services, a server span per
//! hop with client spans for its calls and internal/db spans, realistic attributes,
//! about 2% errors.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::logs::hex;

const SERVICES: &[&str] = &[
    "frontend",
    "gateway",
    "cart",
    "catalog",
    "checkout",
    "payment",
    "shipping",
    "currency",
    "email",
    "recommendation",
    "ad",
    "inventory",
];
const OPS: &[&str] = &[
    "GET /api/items",
    "POST /api/cart",
    "GET /api/product/{id}",
    "POST /api/checkout",
    "GET /api/recommendations",
];

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

pub struct TracesWorkload {
    rng: SmallRng,
    pub traces: usize,
    produced: usize,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// One span with its service (resource).
pub struct GenSpan {
    pub service: &'static str,
    pub span: Span,
}

impl TracesWorkload {
    pub fn new(seed: u64, traces: usize, start_ns: i64, end_ns: i64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            traces,
            produced: 0,
            start_ns,
            end_ns,
        }
    }

    fn trace(&mut self, out: &mut Vec<GenSpan>) {
        let r = &mut self.rng;
        let n_spans = r.random_range(5..=40usize);
        let mut trace_id = [0u8; 16];
        r.fill(&mut trace_id);
        let span_ns = (self.end_ns - self.start_ns).max(1);
        let t0 = self.start_ns
            + (span_ns as i128 * self.produced as i128 / self.traces.max(1) as i128) as i64;
        let root_op = OPS[r.random_range(0..OPS.len())];
        let error_trace = r.random_bool(0.02);
        // (span id, service, start, end)
        let mut spans: Vec<([u8; 8], &'static str, i64, i64)> = Vec::new();
        let mut id = [0u8; 8];
        r.fill(&mut id);
        let total = r.random_range(5_000_000..400_000_000i64);
        spans.push((id, SERVICES[0], t0, t0 + total));
        out.push(GenSpan {
            service: SERVICES[0],
            span: Span {
                trace_id: trace_id.to_vec(),
                span_id: id.to_vec(),
                name: root_op.into(),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: t0 as u64,
                end_time_unix_nano: (t0 + total) as u64,
                attributes: vec![
                    s(
                        "http.request.method",
                        root_op.split(' ').next().unwrap_or("GET"),
                    ),
                    s("http.route", root_op.split(' ').nth(1).unwrap_or("/")),
                    i(
                        "http.response.status_code",
                        if error_trace { 500 } else { 200 },
                    ),
                    s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                ],
                status: error_trace.then(|| Status {
                    code: 2,
                    message: "internal error".into(),
                }),
                ..Default::default()
            },
        });
        while spans.len() < n_spans {
            let parent_idx = r.random_range(0..spans.len());
            let (pid, psvc, pstart, pend) = spans[parent_idx];
            let dur = ((pend - pstart) as f64 * r.random_range(0.1..0.8)) as i64;
            let start = pstart + r.random_range(0..=((pend - pstart - dur).max(0)));
            let mut sid = [0u8; 8];
            r.fill(&mut sid);
            let kind_roll = r.random_range(0..10);
            let (svc, name, kind, attrs) = if kind_roll < 5 {
                let callee = SERVICES[r.random_range(1..SERVICES.len())];
                (
                    callee,
                    format!(
                        "{callee}.{}",
                        ["Get", "List", "Update", "Reserve"][r.random_range(0..4)]
                    ),
                    SpanKind::Server,
                    vec![
                        s("rpc.system", "grpc"),
                        s("rpc.service", callee),
                        i("rpc.grpc.status_code", 0),
                    ],
                )
            } else if kind_roll < 8 {
                (
                    psvc,
                    "SELECT orders".to_string(),
                    SpanKind::Client,
                    vec![
                        s("db.system", "postgresql"),
                        s("db.name", "shop"),
                        s(
                            "db.statement",
                            "SELECT id, total FROM orders WHERE user_id = $1 LIMIT 20",
                        ),
                        s("server.address", "pg-0.db"),
                    ],
                )
            } else {
                (
                    psvc,
                    "cache.get".to_string(),
                    SpanKind::Internal,
                    vec![
                        s(
                            "cache.key",
                            &format!("product:{}", r.random_range(1..50_000)),
                        ),
                        s(
                            "cache.hit",
                            if r.random_bool(0.8) { "true" } else { "false" },
                        ),
                    ],
                )
            };
            let failed = error_trace && r.random_bool(0.3);
            spans.push((sid, svc, start, start + dur));
            out.push(GenSpan {
                service: svc,
                span: Span {
                    trace_id: trace_id.to_vec(),
                    span_id: sid.to_vec(),
                    parent_span_id: pid.to_vec(),
                    name,
                    kind: kind as i32,
                    start_time_unix_nano: start as u64,
                    end_time_unix_nano: (start + dur) as u64,
                    attributes: attrs,
                    status: failed.then(|| Status {
                        code: 2,
                        message: "deadline exceeded".into(),
                    }),
                    ..Default::default()
                },
            });
        }
        self.produced += 1;
    }

    /// Spans of the next `n` traces.
    pub fn next_batch(&mut self, n: usize) -> Vec<GenSpan> {
        let n = n.min(self.traces - self.produced);
        let mut out = Vec::new();
        for _ in 0..n {
            self.trace(&mut out);
        }
        out
    }
}

pub fn to_otlp(spans: &[GenSpan]) -> ExportTraceServiceRequest {
    let mut by: std::collections::BTreeMap<&str, Vec<Span>> = Default::default();
    for g in spans {
        by.entry(g.service).or_default().push(g.span.clone());
    }
    ExportTraceServiceRequest {
        resource_spans: by
            .into_iter()
            .map(|(svc, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", svc),
                        s("service.version", "2.3.1"),
                        s("host.name", &format!("{svc}-7d9f8-abcde")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn attr_map(kvs: &[KeyValue]) -> serde_json::Value {
    serde_json::Value::Object(
        kvs.iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::IntValue(i)) => i.to_string(),
                    _ => String::new(),
                };
                (kv.key.clone(), serde_json::Value::String(v))
            })
            .collect(),
    )
}

/// The same spans as NDJSON for ClickHouse (a SigNoz-like flat schema).
pub fn to_ndjson(spans: &[GenSpan], out: &mut Vec<u8>) {
    for g in spans {
        let sp = &g.span;
        let v = serde_json::json!({
            "timestamp": sp.start_time_unix_nano,
            "trace_id": hex(&sp.trace_id),
            "span_id": hex(&sp.span_id),
            "parent_span_id": hex(&sp.parent_span_id),
            "service": g.service,
            "name": sp.name,
            "kind": sp.kind,
            "duration_nano": sp.end_time_unix_nano - sp.start_time_unix_nano,
            "status_code": sp.status.as_ref().map_or(0, |s| s.code),
            "status_message": sp.status.as_ref().map_or(String::new(), |s| s.message.clone()),
            "attributes": attr_map(&sp.attributes),
        });
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
}
