//! OTLP logs → `logs` rows.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use osprey_storage::schema::{Attributes, LogRow};

use super::common::{
    Rejections, any_value_string, attributes, hex_id, nanos, now_nanos, resource_attributes,
    service_name,
};

/// The short severity name of an OTLP severity number (1-24).
pub fn severity_name(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "",
    }
}

fn convert_record(
    r: &LogRecord,
    service: &str,
    resource: &Attributes,
    scope: &str,
    now: i64,
) -> Result<LogRow, String> {
    let trace_id = hex_id(&r.trace_id, 16, true, "trace_id")?;
    let span_id = hex_id(&r.span_id, 8, true, "span_id")?;
    let observed = if r.observed_time_unix_nano > 0 {
        nanos(r.observed_time_unix_nano)
    } else {
        now
    };
    // OTLP: when the event time is unknown, the observed time stands in for it.
    let timestamp = if r.time_unix_nano > 0 {
        nanos(r.time_unix_nano)
    } else {
        observed
    };
    let severity_text = if r.severity_text.is_empty() {
        severity_name(r.severity_number).to_string()
    } else {
        r.severity_text.clone()
    };
    let mut attrs = attributes(&r.attributes);
    if !r.event_name.is_empty() {
        attrs.push(("event.name".into(), r.event_name.clone()));
    }
    Ok(LogRow {
        service: service.to_string(),
        timestamp_ns: timestamp,
        observed_timestamp_ns: observed,
        severity_text,
        severity_number: r.severity_number,
        body: any_value_string(r.body.as_ref()),
        trace_id,
        span_id,
        attributes: attrs,
        resource: resource.clone(),
        scope: scope.to_string(),
    })
}

pub fn convert(req: &ExportLogsServiceRequest) -> (Vec<LogRow>, Rejections) {
    let now = now_nanos();
    let mut rows = Vec::new();
    let mut rejected = Rejections::default();
    for rl in &req.resource_logs {
        let resource = resource_attributes(rl.resource.as_ref());
        let service = service_name(&resource);
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            for (i, r) in sl.log_records.iter().enumerate() {
                match convert_record(r, &service, &resource, scope, now) {
                    Ok(row) => rows.push(row),
                    Err(e) => rejected.reject(format!("log record {i}: {e}")),
                }
            }
        }
    }
    (rows, rejected)
}
