//! OTLP logs → `logs` rows.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use osprey_storage::schema::{Attributes, LogRow};

use super::common::{
    Rejections, any_value_string, attributes, hex_id, nanos, resource_attributes, service_name,
};
use crate::window::{ORIGINAL_TIME, Window, rfc3339};

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
    window: &Window,
) -> Result<(LogRow, bool), String> {
    let trace_id = hex_id(&r.trace_id, 16, true, "trace_id")?;
    let span_id = hex_id(&r.span_id, 8, true, "span_id")?;
    let now = window.now_ns();
    let observed = if r.observed_time_unix_nano > 0 {
        nanos(r.observed_time_unix_nano)
    } else {
        now
    };
    // OTLP: when the event time is unknown (0), the observed time stands in for it.
    let claimed = match (r.time_unix_nano, r.observed_time_unix_nano) {
        (0, 0) => i128::from(now),
        (0, o) => i128::from(o),
        (t, _) => i128::from(t),
    };
    // Outside the accepted window: stored at arrival, its own time kept aside.
    let retimed = !window.contains(claimed);
    let timestamp = if retimed { now } else { nanos_i128(claimed) };
    let severity_text = if r.severity_text.is_empty() {
        severity_name(r.severity_number).to_string()
    } else {
        r.severity_text.clone()
    };
    let mut attrs = attributes(&r.attributes);
    if !r.event_name.is_empty() {
        attrs.push(("event.name".into(), r.event_name.clone()));
    }
    if retimed {
        attrs.push((ORIGINAL_TIME.into(), rfc3339(claimed)));
    }
    let row = LogRow {
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
    };
    Ok((row, retimed))
}

/// A time inside the window as the storage type (always fits).
fn nanos_i128(t: i128) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Converts a request: invalid records are rejected one by one; records dated outside
/// `window` are stored at its `now` (see `window.rs`), and counted (the last value).
pub fn convert(
    req: &ExportLogsServiceRequest,
    window: &Window,
) -> (Vec<LogRow>, Rejections, usize) {
    let mut rows = Vec::new();
    let mut rejected = Rejections::default();
    let mut retimed = 0;
    for rl in &req.resource_logs {
        let resource = resource_attributes(rl.resource.as_ref());
        let service = service_name(&resource);
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            for (i, r) in sl.log_records.iter().enumerate() {
                match convert_record(r, &service, &resource, scope, window) {
                    Ok((row, moved)) => {
                        retimed += usize::from(moved);
                        rows.push(row);
                    }
                    Err(e) => rejected.reject(format!("log record {i}: {e}")),
                }
            }
        }
    }
    (rows, rejected, retimed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use std::time::Duration;

    const NOW: i64 = 1_795_341_600_000_000_000;

    fn request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn at(time: u64, observed: u64) -> LogRecord {
        LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            ..Default::default()
        }
    }

    #[test]
    fn records_outside_the_window_are_stored_at_arrival() {
        let w = Window::new(NOW, Duration::from_secs(7 * 86_400));
        let inside = NOW as u64 - 1_000;
        let req = request(vec![
            at(1, 0),
            at(u64::MAX, 0),
            at(inside, 0),
            at(0, 0),
            at(0, inside),
            at(0, 5),
        ]);
        let (rows, rejected, retimed) = convert(&req, &w);
        assert_eq!((rows.len(), rejected.count, retimed), (6, 0, 3));
        let original = |r: &LogRow| {
            r.attributes
                .iter()
                .find(|(k, _)| k == ORIGINAL_TIME)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(rows[0].timestamp_ns, NOW);
        assert_eq!(
            original(&rows[0]).as_deref(),
            Some("1970-01-01T00:00:00.000000001Z")
        );
        assert_eq!(rows[1].timestamp_ns, NOW);
        assert_eq!(
            original(&rows[1]).as_deref(),
            Some("2554-07-21T23:34:33.709551615Z")
        );
        assert_eq!(
            (rows[2].timestamp_ns, original(&rows[2])),
            (NOW - 1_000, None)
        );
        // Unset (0) means "use the observed time, else arrival", as before.
        assert_eq!((rows[3].timestamp_ns, original(&rows[3])), (NOW, None));
        assert_eq!(
            (rows[4].timestamp_ns, original(&rows[4])),
            (NOW - 1_000, None)
        );
        assert_eq!(rows[5].timestamp_ns, NOW);
        assert!(original(&rows[5]).is_some());
    }
}
