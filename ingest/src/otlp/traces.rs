//! OTLP traces → `spans` rows.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use osprey_storage::schema::SpanRow;

use super::common::{
    Rejections, attribute_types, attributes, attributes_json, hex_id, nanos, resource_attributes,
    service_name,
};
use crate::window::{ORIGINAL_TIME, Window, rfc3339};

pub fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Internal) => "SPAN_KIND_INTERNAL",
        Ok(SpanKind::Server) => "SPAN_KIND_SERVER",
        Ok(SpanKind::Client) => "SPAN_KIND_CLIENT",
        Ok(SpanKind::Producer) => "SPAN_KIND_PRODUCER",
        Ok(SpanKind::Consumer) => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

pub(super) fn status_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => "STATUS_CODE_OK",
        Ok(StatusCode::Error) => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

/// A JSON array's text; most spans have no events or links, and `[]` needs no
/// `serde_json` value built and printed.
fn json_array(items: impl ExactSizeIterator<Item = serde_json::Value>) -> String {
    if items.len() == 0 {
        return "[]".to_string();
    }
    serde_json::Value::Array(items.collect()).to_string()
}

/// A span's events as stored: a JSON array of `{time_unix_nano, name, attributes}`.
pub(super) fn events_json(events: &[Event]) -> String {
    json_array(events.iter().map(|e| {
        serde_json::json!({
            "time_unix_nano": e.time_unix_nano,
            "name": e.name,
            "attributes": attributes_json(&e.attributes),
        })
    }))
}

/// A span's links as stored: a JSON array of `{trace_id, span_id, attributes}`.
pub(super) fn links_json(links: &[Link]) -> String {
    json_array(links.iter().map(|l| {
        serde_json::json!({
            "trace_id": hex::encode(&l.trace_id),
            "span_id": hex::encode(&l.span_id),
            "attributes": attributes_json(&l.attributes),
        })
    }))
}

fn convert_span(
    span: &Span,
    service: &str,
    (resource, resource_types): (
        &osprey_storage::schema::Attributes,
        &osprey_storage::schema::Attributes,
    ),
    scope: &str,
    window: &Window,
) -> Result<(SpanRow, bool), String> {
    let trace_id = hex_id(&span.trace_id, 16, false, "trace_id")?;
    let span_id = hex_id(&span.span_id, 8, false, "span_id")?;
    let parent_span_id = hex_id(&span.parent_span_id, 8, true, "parent_span_id")?;
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!("span {span_id} ends before it starts"));
    }
    let events = events_json(&span.events);
    let links = links_json(&span.links);
    let status = span.status.as_ref();
    let mut attrs = attributes(&span.attributes);
    // Outside the accepted window: moved to arrival time with its duration kept.
    let retimed = !window.contains(i128::from(span.start_time_unix_nano));
    let (start, end) = if retimed {
        attrs.push((
            ORIGINAL_TIME.into(),
            rfc3339(i128::from(span.start_time_unix_nano)),
        ));
        let duration = span.end_time_unix_nano - span.start_time_unix_nano;
        let start = window.now_ns();
        (start, start.saturating_add(nanos(duration)))
    } else {
        (
            nanos(span.start_time_unix_nano),
            nanos(span.end_time_unix_nano),
        )
    };
    let row = SpanRow {
        service: service.to_string(),
        start_time_ns: start,
        end_time_ns: end,
        trace_id,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        kind: kind_name(span.kind).to_string(),
        status_code: status_name(status.map_or(0, |s| s.code)).to_string(),
        status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
        attributes: attrs,
        resource: resource.clone(),
        events,
        links,
        scope: scope.to_string(),
        attribute_types: attribute_types(&span.attributes),
        resource_types: resource_types.clone(),
    };
    Ok((row, retimed))
}

/// Converts a request; invalid spans are rejected one by one, not the whole request.
/// Also returns each accepted span's adjusted count (`spanmetrics::adjusted_count`), and
/// how many spans dated outside `window` were moved to its `now` (`window.rs`).
pub fn convert(
    req: &ExportTraceServiceRequest,
    window: &Window,
) -> (Vec<SpanRow>, Vec<f64>, Rejections, usize) {
    let mut retimed = 0;
    let mut rows = Vec::new();
    let mut weights = Vec::new();
    let mut rejected = Rejections::default();
    for rs in &req.resource_spans {
        let resource = resource_attributes(rs.resource.as_ref());
        let resource_types = rs
            .resource
            .as_ref()
            .map(|r| attribute_types(&r.attributes))
            .unwrap_or_default();
        let service = service_name(&resource);
        for ss in &rs.scope_spans {
            let scope = ss.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            for span in &ss.spans {
                match convert_span(span, &service, (&resource, &resource_types), scope, window) {
                    Ok((r, moved)) => {
                        retimed += usize::from(moved);
                        rows.push(r);
                        weights.push(crate::spanmetrics::adjusted_count(&span.trace_state));
                    }
                    Err(e) => rejected.reject(format!("span {:?}: {e}", span.name)),
                }
            }
        }
    }
    (rows, weights, rejected, retimed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
    use std::time::Duration;

    const NOW: i64 = 1_795_341_600_000_000_000;

    fn span(start: u64, end: u64) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "s".into(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Default::default()
        }
    }

    #[test]
    fn spans_outside_the_window_move_with_their_duration() {
        let w = Window::new(NOW, Duration::from_secs(7 * 86_400));
        let inside = NOW as u64 - 5_000;
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(1_000, 3_500),
                        span(u64::MAX, u64::MAX),
                        span(inside, inside + 10),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let (rows, _, rejected, retimed) = convert(&req, &w);
        assert_eq!((rows.len(), rejected.count, retimed), (3, 0, 2));
        assert_eq!(
            (rows[0].start_time_ns, rows[0].end_time_ns),
            (NOW, NOW + 2_500)
        );
        assert!(rows[0].attributes.contains(&(
            ORIGINAL_TIME.to_string(),
            "1970-01-01T00:00:00.000001Z".to_string()
        )));
        assert_eq!((rows[1].start_time_ns, rows[1].end_time_ns), (NOW, NOW));
        assert!(rows[1].attributes.contains(&(
            ORIGINAL_TIME.to_string(),
            "2554-07-21T23:34:33.709551615Z".to_string()
        )));
        assert_eq!(rows[2].start_time_ns, NOW - 5_000);
        assert!(rows[2].attributes.is_empty());
    }
}
