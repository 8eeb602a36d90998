//! OTLP traces → `spans` rows.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
use osprey_storage::schema::SpanRow;

use super::common::{
    Rejections, attribute_types, attributes, attributes_json, hex_id, nanos, resource_attributes,
    service_name,
};

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

fn status_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => "STATUS_CODE_OK",
        Ok(StatusCode::Error) => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

fn convert_span(
    span: &Span,
    service: &str,
    (resource, resource_types): (
        &osprey_storage::schema::Attributes,
        &osprey_storage::schema::Attributes,
    ),
    scope: &str,
) -> Result<SpanRow, String> {
    let trace_id = hex_id(&span.trace_id, 16, false, "trace_id")?;
    let span_id = hex_id(&span.span_id, 8, false, "span_id")?;
    let parent_span_id = hex_id(&span.parent_span_id, 8, true, "parent_span_id")?;
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!("span {span_id} ends before it starts"));
    }
    let events: Vec<serde_json::Value> = span
        .events
        .iter()
        .map(|e| {
            serde_json::json!({
                "time_unix_nano": e.time_unix_nano,
                "name": e.name,
                "attributes": attributes_json(&e.attributes),
            })
        })
        .collect();
    let links: Vec<serde_json::Value> = span
        .links
        .iter()
        .map(|l| {
            serde_json::json!({
                "trace_id": hex::encode(&l.trace_id),
                "span_id": hex::encode(&l.span_id),
                "attributes": attributes_json(&l.attributes),
            })
        })
        .collect();
    let status = span.status.as_ref();
    Ok(SpanRow {
        service: service.to_string(),
        start_time_ns: nanos(span.start_time_unix_nano),
        end_time_ns: nanos(span.end_time_unix_nano),
        trace_id,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        kind: kind_name(span.kind).to_string(),
        status_code: status_name(status.map_or(0, |s| s.code)).to_string(),
        status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
        attributes: attributes(&span.attributes),
        resource: resource.clone(),
        events: serde_json::Value::Array(events).to_string(),
        links: serde_json::Value::Array(links).to_string(),
        scope: scope.to_string(),
        attribute_types: attribute_types(&span.attributes),
        resource_types: resource_types.clone(),
    })
}

/// Converts a request; invalid spans are rejected one by one, not the whole request.
/// Also returns each accepted span's adjusted count (`spanmetrics::adjusted_count`).
pub fn convert(req: &ExportTraceServiceRequest) -> (Vec<SpanRow>, Vec<f64>, Rejections) {
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
                match convert_span(span, &service, (&resource, &resource_types), scope) {
                    Ok(r) => {
                        rows.push(r);
                        weights.push(crate::spanmetrics::adjusted_count(&span.trace_state));
                    }
                    Err(e) => rejected.reject(format!("span {:?}: {e}", span.name)),
                }
            }
        }
    }
    (rows, weights, rejected)
}
