//! OTLP/HTTP: `POST /v1/traces|logs|metrics`, protobuf or JSON, optionally gzip'd.
//! Errors are answered with a `google.rpc.Status` in the request's encoding (OTLP spec).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use osprey_storage::Signal;
use prost::Message;

use super::{Outcome, Pipeline};
use crate::body::{Format, decode_content_encoding};
use crate::limits::{self, Kind};
use crate::{IngestError, IngestState};
use osprey_auth::RequestContext;

/// `google.rpc.Status`, the OTLP/HTTP error body.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

pub(crate) fn error_response(err: &IngestError, format: Format) -> Response {
    let status = match err.http_status() {
        // OTLP/HTTP exporters retry 429, 502, 503 and 504 only: a full disk is 503
        // here, so the data waits in the client instead of being dropped.
        StatusCode::INSUFFICIENT_STORAGE => StatusCode::SERVICE_UNAVAILABLE,
        s => s,
    };
    if err.is_server_fault() {
        tracing::error!(error = %err, "OTLP ingest failed");
    }
    let rpc = RpcStatus {
        code: err.grpc_status().code() as i32,
        message: err.client_message(),
    };
    let body = match format {
        Format::Protobuf => rpc.encode_to_vec(),
        Format::Json => serde_json::to_vec(&rpc).unwrap_or_default(),
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Some(secs) = err.retry_after() {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Decodes a request within the limits of `limits.rs`: checked on the encoded body
/// first, and for JSON once more on what it decoded to, before it is converted.
fn decode<M: Message + Default + serde::de::DeserializeOwned>(
    format: Format,
    raw: &[u8],
    kind: Kind,
    what: &str,
) -> Result<M, IngestError> {
    match format {
        Format::Protobuf => {
            limits::check_protobuf(kind, raw)?;
            M::decode(raw)
                .map_err(|e| IngestError::BadRequest(format!("malformed protobuf {what}: {e}")))
        }
        Format::Json => {
            limits::check_json(raw)?;
            let m = serde_json::from_slice(raw)
                .map_err(|e| IngestError::BadRequest(format!("malformed OTLP/JSON {what}: {e}")))?;
            limits::check_decoded(kind, &m)?;
            Ok(m)
        }
    }
}

fn encode<M: Message + serde::Serialize>(format: Format, m: &M) -> Response {
    let body = match format {
        Format::Protobuf => m.encode_to_vec(),
        Format::Json => serde_json::to_vec(m).unwrap_or_default(),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
}

fn partial(o: &Outcome) -> Option<(i64, String)> {
    o.partial()
}

async fn handle(
    st: &IngestState,
    tenant: &str,
    headers: &HeaderMap,
    body: Bytes,
    signal: Signal,
) -> Response {
    let format = match Format::from_headers(headers) {
        Ok(f) => f,
        Err(e) => return error_response(&e, Format::Json),
    };
    match handle_inner(st, tenant, headers, body, signal, format).await {
        Ok(r) => r,
        Err(e) => error_response(&e, format),
    }
}

async fn handle_inner(
    st: &IngestState,
    tenant: &str,
    headers: &HeaderMap,
    body: Bytes,
    signal: Signal,
    format: Format,
) -> Result<Response, IngestError> {
    let raw = decode_content_encoding(headers, body, st.max_body)?;
    st.metrics.bytes(signal, raw.len() as u64);
    Ok(match signal {
        Signal::Spans => {
            // A single node reads protobuf straight into the stored columns.
            let fast = if format == Format::Protobuf && st.forward.is_none() {
                limits::check_protobuf(Kind::Traces, &raw)?;
                Pipeline::traces_from_wire(st, tenant, &raw).await?
            } else {
                None
            };
            let o = match fast {
                Some(o) => o,
                None => {
                    let req: ExportTraceServiceRequest =
                        decode(format, &raw, Kind::Traces, "ExportTraceServiceRequest")?;
                    Pipeline::traces(st, tenant, req).await?
                }
            };
            encode(
                format,
                &ExportTraceServiceResponse {
                    partial_success: partial(&o).map(|(n, m)| ExportTracePartialSuccess {
                        rejected_spans: n,
                        error_message: m,
                    }),
                },
            )
        }
        Signal::Logs => {
            let req: ExportLogsServiceRequest =
                decode(format, &raw, Kind::Logs, "ExportLogsServiceRequest")?;
            let o = Pipeline::logs(st, tenant, &req).await?;
            encode(
                format,
                &ExportLogsServiceResponse {
                    partial_success: partial(&o).map(|(n, m)| ExportLogsPartialSuccess {
                        rejected_log_records: n,
                        error_message: m,
                    }),
                },
            )
        }
        Signal::Metrics => {
            let req: ExportMetricsServiceRequest =
                decode(format, &raw, Kind::Metrics, "ExportMetricsServiceRequest")?;
            let o = Pipeline::metrics(st, tenant, req, format == Format::Json).await?;
            encode(
                format,
                &ExportMetricsServiceResponse {
                    partial_success: partial(&o).map(|(n, m)| ExportMetricsPartialSuccess {
                        rejected_data_points: n,
                        error_message: m,
                    }),
                },
            )
        }
    })
}

pub async fn traces(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&st, ctx.tenant(), &headers, body, Signal::Spans).await
}

pub async fn logs(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&st, ctx.tenant(), &headers, body, Signal::Logs).await
}

pub async fn metrics(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&st, ctx.tenant(), &headers, body, Signal::Metrics).await
}
