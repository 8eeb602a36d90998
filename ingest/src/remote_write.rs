//! Prometheus remote_write 1.0: `POST /api/v1/write`, snappy-compressed protobuf
//! `prometheus.WriteRequest` (the messages are hand-written: they are tiny and stable).
//! Metadata and exemplars are accepted and ignored for now.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use osprey_storage::Signal;
use osprey_storage::schema::{SampleRow, samples_batch};
use prost::Message;

use crate::body::{tenant, unsnappy};
use crate::{IngestError, IngestState};

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Converts a decoded request into samples; a series without `__name__` makes the
/// request invalid (Prometheus answers 400 too).
pub fn to_samples(req: WriteRequest) -> Result<Vec<SampleRow>, IngestError> {
    let mut rows = Vec::new();
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        let mut metric = None;
        let mut labels = Vec::with_capacity(ts.labels.len());
        for l in ts.labels {
            if l.name == "__name__" {
                metric = Some(l.value);
            } else if !l.value.is_empty() {
                labels.push((l.name, l.value));
            }
        }
        let metric = metric.filter(|m| !m.is_empty()).ok_or_else(|| {
            IngestError::BadRequest(format!("time series {i} has no __name__ label"))
        })?;
        for s in ts.samples {
            rows.push(SampleRow {
                metric: metric.clone(),
                labels: labels.clone(),
                timestamp_ns: s.timestamp.saturating_mul(1_000_000),
                value: s.value,
            });
        }
    }
    Ok(rows)
}

pub async fn write(State(st): State<IngestState>, headers: HeaderMap, body: Bytes) -> Response {
    match write_inner(&st, &headers, &body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn write_inner(
    st: &IngestState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), IngestError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-protobuf");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime != "application/x-protobuf" {
        return Err(IngestError::UnsupportedMediaType(ct.to_string()));
    }
    if let Some(proto) = ct
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("proto="))
        && proto != "prometheus.WriteRequest"
    {
        return Err(IngestError::UnsupportedMediaType(format!(
            "{ct} (only remote_write 1.0 prometheus.WriteRequest is supported)"
        )));
    }
    if let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        && !enc.eq_ignore_ascii_case("snappy")
    {
        return Err(IngestError::UnsupportedEncoding(enc.to_string()));
    }
    let tenant = tenant(headers)?;
    let raw = unsnappy(body, st.max_body)?;
    st.metrics.bytes(Signal::Metrics, raw.len() as u64);
    let req = WriteRequest::decode(raw.as_slice())
        .map_err(|e| IngestError::BadRequest(format!("malformed WriteRequest protobuf: {e}")))?;
    let rows = to_samples(req)?;
    if !rows.is_empty() {
        st.storage
            .append(&tenant, Signal::Metrics, samples_batch(&rows)?)
            .await?;
    }
    st.metrics.rows(Signal::Metrics, rows.len() as u64, 0);
    Ok(())
}
