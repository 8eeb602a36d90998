//! Logs workload: lines from 20 services, half JSON and half plain text, built from
//! realistic message templates with variable parts; most lines carry a trace id.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One generated line.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub timestamp_ns: i64,
    pub service: String,
    pub severity_text: &'static str,
    pub severity_number: i32,
    pub body: String,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub has_trace: bool,
}

const ROUTES: &[&str] = &[
    "/api/items",
    "/api/cart",
    "/api/checkout",
    "/api/users",
    "/healthz",
    "/api/search",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const ERRORS: &[&str] = &[
    "connection reset by peer",
    "context deadline exceeded",
    "upstream returned 503 Service Unavailable",
    "duplicate key value violates unique constraint \"orders_pkey\"",
    "redis: connection pool timeout",
    "TLS handshake timeout",
];

pub struct LogsWorkload {
    rng: SmallRng,
    pub start_ns: i64,
    pub end_ns: i64,
    pub lines: usize,
    produced: usize,
}

impl LogsWorkload {
    pub fn new(seed: u64, lines: usize, start_ns: i64, end_ns: i64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            start_ns,
            end_ns,
            lines,
            produced: 0,
        }
    }

    fn line(&mut self) -> LogLine {
        let r = &mut self.rng;
        let i = self.produced;
        let span = (self.end_ns - self.start_ns).max(1);
        let timestamp_ns = self.start_ns
            + (span as i128 * i as i128 / self.lines.max(1) as i128) as i64
            + r.random_range(0..1000);
        let svc_idx = r.random_range(0..20usize);
        let service = format!("svc-{svc_idx:02}");
        let roll: f64 = r.random();
        let (severity_text, severity_number) = if roll < 0.02 {
            ("ERROR", 17)
        } else if roll < 0.07 {
            ("WARN", 13)
        } else if roll < 0.25 {
            ("DEBUG", 5)
        } else {
            ("INFO", 9)
        };
        let route = ROUTES[r.random_range(0..ROUTES.len())];
        let method = METHODS[r.random_range(0..METHODS.len())];
        let id: u32 = r.random_range(1..50_000);
        let user: u32 = r.random_range(1..200_000);
        let dur: f64 = (r.random_range(0.5f64..3.0)).powi(4);
        let status = match severity_text {
            "ERROR" => 500,
            "WARN" => [404, 429, 400][r.random_range(0..3)],
            _ => 200,
        };
        let template = r.random_range(0..6);
        let json = svc_idx % 2 == 0;
        let body = match (json, severity_text, template) {
            (true, "ERROR", _) => format!(
                r#"{{"level":"error","msg":"request failed","method":"{method}","path":"{route}/{id}","status":{status},"error":"{}","user_id":"u-{user}","duration_ms":{dur:.1}}}"#,
                ERRORS[r.random_range(0..ERRORS.len())].replace('"', "\\\"")
            ),
            (true, _, 0..=3) => format!(
                r#"{{"level":"{}","msg":"request completed","method":"{method}","path":"{route}/{id}","status":{status},"user_id":"u-{user}","duration_ms":{dur:.1},"bytes":{}}}"#,
                severity_text.to_ascii_lowercase(),
                r.random_range(200..20_000)
            ),
            (true, _, _) => format!(
                r#"{{"level":"{}","msg":"cache lookup","key":"product:{id}","hit":{},"latency_us":{}}}"#,
                severity_text.to_ascii_lowercase(),
                r.random_bool(0.8),
                r.random_range(50..900)
            ),
            (false, "ERROR", _) => format!(
                "{severity_text} [{service}] {method} {route}/{id} failed after {dur:.1}ms: {} (user=u-{user})",
                ERRORS[r.random_range(0..ERRORS.len())]
            ),
            (false, _, 0..=2) => format!(
                "{severity_text} [{service}] {method} {route}/{id} {status} {dur:.1}ms user=u-{user}"
            ),
            (false, _, 3) => format!(
                "{severity_text} [{service}] db query took {dur:.1}ms rows={} table=orders",
                r.random_range(0..500)
            ),
            (false, _, 4) => format!(
                "{severity_text} [{service}] pool stats active={} idle={} waiting={}",
                r.random_range(0..20),
                r.random_range(0..10),
                r.random_range(0..3)
            ),
            (false, _, _) => format!(
                "{severity_text} [{service}] published event order.created id={id} partition={}",
                r.random_range(0..12)
            ),
        };
        let has_trace = r.random_bool(0.85);
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        if has_trace {
            r.fill(&mut trace_id);
            r.fill(&mut span_id);
        }
        self.produced += 1;
        LogLine {
            timestamp_ns,
            service,
            severity_text,
            severity_number,
            body,
            trace_id,
            span_id,
            has_trace,
        }
    }

    /// The next `n` lines (fewer at the end).
    pub fn next_batch(&mut self, n: usize) -> Vec<LogLine> {
        let n = n.min(self.lines - self.produced);
        (0..n).map(|_| self.line()).collect()
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// An OTLP request for `lines` (one resource per service).
pub fn to_otlp(lines: &[LogLine]) -> ExportLogsServiceRequest {
    let mut by_service: std::collections::BTreeMap<&str, Vec<LogRecord>> = Default::default();
    for l in lines {
        by_service.entry(&l.service).or_default().push(LogRecord {
            time_unix_nano: l.timestamp_ns as u64,
            observed_time_unix_nano: l.timestamp_ns as u64,
            severity_number: l.severity_number,
            severity_text: l.severity_text.into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(l.body.clone())),
            }),
            trace_id: if l.has_trace {
                l.trace_id.to_vec()
            } else {
                Vec::new()
            },
            span_id: if l.has_trace {
                l.span_id.to_vec()
            } else {
                Vec::new()
            },
            ..Default::default()
        });
    }
    ExportLogsServiceRequest {
        resource_logs: by_service
            .into_iter()
            .map(|(svc, log_records)| ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", svc)],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// The same rows as NDJSON for ClickHouse (`JSONEachRow`).
pub fn to_ndjson(lines: &[LogLine], out: &mut Vec<u8>) {
    for l in lines {
        let v = serde_json::json!({
            "timestamp": l.timestamp_ns,
            "service": l.service,
            "severity_text": l.severity_text,
            "severity_number": l.severity_number,
            "body": l.body,
            "trace_id": if l.has_trace { hex(&l.trace_id) } else { String::new() },
            "span_id": if l.has_trace { hex(&l.span_id) } else { String::new() },
        });
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
}

/// The same lines as an application writes them to stdout, one JSON event per line, in
/// the shape `POST /api/v1/logs` reads (`timestamp`, `service`, `level`, `msg`, ids).
pub fn to_events(lines: &[LogLine], out: &mut Vec<u8>) {
    for l in lines {
        let mut v = serde_json::json!({
            "timestamp": l.timestamp_ns,
            "service": l.service,
            "level": l.severity_text,
            "msg": l.body,
        });
        if l.has_trace {
            v["trace_id"] = hex(&l.trace_id).into();
            v["span_id"] = hex(&l.span_id).into();
        }
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
