//! OTLP ingest of traces, logs and metrics over gRPC and HTTP (protobuf and JSON).
//!
//! Both transports decode into the same request types and go through [`Pipeline`], so
//! their validation and storage are identical; only the framing of the answer differs.

pub mod common;
pub mod grpc;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod traces;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_storage::Signal;
use osprey_storage::schema::{logs_batch, samples_batch, spans_batch};

use crate::{IngestError, IngestState};
pub use common::Rejections;

/// How much of a request was stored.
pub struct Outcome {
    pub accepted: usize,
    pub rejected: Rejections,
}

/// Validation, conversion and storage, shared by every transport.
pub struct Pipeline;

impl Pipeline {
    pub async fn traces(
        st: &IngestState,
        tenant: &str,
        req: &ExportTraceServiceRequest,
    ) -> Result<Outcome, IngestError> {
        let (rows, rejected) = traces::convert(req);
        let accepted = rows.len();
        if accepted > 0 {
            let batch = spans_batch(&rows)?;
            st.storage.append(tenant, Signal::Spans, batch).await?;
        }
        st.metrics
            .rows(Signal::Spans, accepted as u64, rejected.count as u64);
        Ok(Outcome { accepted, rejected })
    }

    pub async fn logs(
        st: &IngestState,
        tenant: &str,
        req: &ExportLogsServiceRequest,
    ) -> Result<Outcome, IngestError> {
        let (rows, rejected) = logs::convert(req);
        let accepted = rows.len();
        if accepted > 0 {
            let batch = logs_batch(&rows)?;
            st.storage.append(tenant, Signal::Logs, batch).await?;
        }
        st.metrics
            .rows(Signal::Logs, accepted as u64, rejected.count as u64);
        Ok(Outcome { accepted, rejected })
    }

    pub async fn metrics(
        st: &IngestState,
        tenant: &str,
        req: &ExportMetricsServiceRequest,
        strict: bool,
    ) -> Result<Outcome, IngestError> {
        let (rows, rejected) = metrics::convert(req, strict).map_err(IngestError::BadRequest)?;
        let accepted = rows.len();
        if accepted > 0 {
            let batch = samples_batch(&rows)?;
            st.storage.append(tenant, Signal::Metrics, batch).await?;
        }
        st.metrics
            .rows(Signal::Metrics, accepted as u64, rejected.count as u64);
        Ok(Outcome { accepted, rejected })
    }
}
