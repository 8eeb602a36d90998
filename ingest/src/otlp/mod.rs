//! OTLP ingest of traces, logs and metrics over gRPC and HTTP (protobuf and JSON).
//!
//! Both transports decode into the same request types and go through [`Pipeline`], so
//! their validation and storage are identical; only the framing of the answer differs.
//! One exception for speed: a single node reads protobuf traces (OTLP/HTTP and gRPC)
//! from the wire (`traces_wire.rs`, [`Pipeline::traces_from_wire`]) with the prost
//! path's answer.

pub mod common;
pub mod grpc;
pub mod grpc_server;
pub mod http;
pub mod logs;
pub mod metrics;
mod shapes;
pub mod traces;
pub mod traces_wire;

use arrow::array::RecordBatch;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_auth::Rate;
use osprey_storage::schema::{logs_batch, samples_batch, spans_batch};
use osprey_storage::{Signal, StorageError};
use prost::Message;

use crate::window::Window;
use crate::{IngestError, IngestState};
pub use common::Rejections;

/// The ingest rate a signal's rows count against.
pub(crate) fn rate_of(signal: Signal) -> Rate {
    match signal {
        Signal::Logs => Rate::Lines,
        Signal::Spans => Rate::Spans,
        Signal::Metrics => Rate::Samples,
    }
}

/// How much of a request was stored.
#[derive(Default)]
pub struct Outcome {
    pub accepted: usize,
    pub rejected: Rejections,
    /// Records stored at arrival time because their own lay outside the accepted
    /// window (`window.rs`).
    pub retimed: usize,
}

impl Outcome {
    /// The `partial_success` of the answer: the rejected count and message, or a
    /// warning (count 0, as OTLP allows) when records were re-dated.
    pub fn partial(&self) -> Option<(i64, String)> {
        let mut msg = self.rejected.message();
        if self.retimed > 0 {
            if !msg.is_empty() {
                msg.push_str("; ");
            }
            msg.push_str(&format!(
                "{} records dated before the retention or more than {}s ahead were stored at arrival time, with their own time in the attribute {}",
                self.retimed,
                crate::window::MAX_FUTURE.as_secs(),
                crate::window::ORIGINAL_TIME
            ));
        }
        (!msg.is_empty()).then_some((self.rejected.count, msg))
    }
}

/// Validation, conversion and storage, shared by every transport.
pub struct Pipeline;

impl Pipeline {
    pub async fn traces(
        st: &IngestState,
        tenant: &str,
        req: ExportTraceServiceRequest,
    ) -> Result<Outcome, IngestError> {
        match &st.forward {
            Some(forward) => forward.store(st, tenant, req).await,
            None => Self::traces_here(st, tenant, &req).await,
        }
    }

    /// [`Self::traces`] on this node (a single node, or a part it owns).
    pub(crate) async fn traces_here(
        st: &IngestState,
        tenant: &str,
        req: &ExportTraceServiceRequest,
    ) -> Result<Outcome, IngestError> {
        let window = Window::now(st.storage.retention(Signal::Spans));
        let (rows, weights, mut rejected, retimed) = traces::convert(req, &window);
        let (rows, weights) = shapes::spans(st, tenant, rows, weights, &mut rejected);
        let batch = spans_batch(&rows)?;
        drop(rows);
        let bytes = req.encoded_len() as u64;
        Self::store_spans(st, tenant, bytes, batch, &weights, (rejected, retimed)).await
    }

    /// Stores a request's accepted spans, then counts them into span metrics.
    async fn store_spans(
        st: &IngestState,
        tenant: &str,
        bytes: u64,
        batch: RecordBatch,
        weights: &[f64],
        (rejected, retimed): (Rejections, usize),
    ) -> Result<Outcome, IngestError> {
        let mut outcome = Self::store(
            st,
            tenant,
            (Signal::Spans, bytes),
            (batch.num_rows(), || Ok(batch.clone())),
            rejected,
        )
        .await?;
        outcome.retimed = retimed;
        // Acknowledged spans only: a refused request must not count.
        st.spanmetrics.observe(tenant, &batch, weights);
        Ok(outcome)
    }

    /// [`Self::traces_here`] of an OTLP protobuf request read straight from the wire
    /// (`traces_wire.rs`), with the same answer; `None` when the request needs prost's
    /// decoding instead. A single node's path: a cluster splits decoded requests.
    pub(crate) async fn traces_from_wire(
        st: &IngestState,
        tenant: &str,
        raw: &[u8],
    ) -> Result<Option<Outcome>, IngestError> {
        let Some(ix) = traces_wire::index(raw) else {
            return Ok(None);
        };
        let window = Window::now(st.storage.retention(Signal::Spans));
        let l = st.limiter.limits(tenant);
        let c = traces_wire::convert(&ix, &window, |name, attributes, trace_id| {
            let (limit, reason) = shapes::span_problem(st, tenant, &l, name, attributes, trace_id)?;
            st.limiter.refused(tenant, limit, 1);
            Some(reason)
        });
        drop(ix);
        let batch = c.spans.finish()?;
        let bytes = raw.len() as u64;
        let rejected = (c.rejected, c.retimed);
        Self::store_spans(st, tenant, bytes, batch, &c.weights, rejected)
            .await
            .map(Some)
    }

    pub async fn logs(
        st: &IngestState,
        tenant: &str,
        req: &ExportLogsServiceRequest,
    ) -> Result<Outcome, IngestError> {
        let window = Window::now(st.storage.retention(Signal::Logs));
        let (rows, mut rejected, retimed) = logs::convert(req, &window);
        let rows = shapes::logs(st, tenant, rows, &mut rejected);
        let bytes = req.encoded_len() as u64;
        let mut outcome = Self::store(
            st,
            tenant,
            (Signal::Logs, bytes),
            (rows.len(), || logs_batch(&rows)),
            rejected,
        )
        .await?;
        outcome.retimed = retimed;
        Ok(outcome)
    }

    pub async fn metrics(
        st: &IngestState,
        tenant: &str,
        req: ExportMetricsServiceRequest,
        strict: bool,
    ) -> Result<Outcome, IngestError> {
        if let Some(forward) = &st.forward {
            if strict {
                // Parts travel as protobuf: the JSON request's own rule is checked here.
                metrics::check_strict(&req).map_err(IngestError::BadRequest)?;
            }
            return forward.store(st, tenant, req).await;
        }
        Self::metrics_here(st, tenant, &req, strict).await
    }

    /// [`Self::metrics`] on this node (a single node, or a part it owns).
    pub(crate) async fn metrics_here(
        st: &IngestState,
        tenant: &str,
        req: &ExportMetricsServiceRequest,
        strict: bool,
    ) -> Result<Outcome, IngestError> {
        let (rows, mut rejected, exemplars) =
            metrics::convert_with_exemplars(req, strict).map_err(IngestError::BadRequest)?;
        let rows = shapes::samples(st, tenant, rows, &mut rejected);
        let max_series = st.limiter.limits(tenant).max_active_series;
        let admitted = st.samples.admit_limited(tenant, rows, max_series);
        st.limiter.refused(
            tenant,
            "max_active_series",
            admitted.over_series_limit as u64,
        );
        for r in &admitted.reasons {
            rejected.reject(r.clone());
        }
        // Reasons beyond the first five are counted, not listed.
        rejected.count += admitted.refused.saturating_sub(5.min(admitted.refused)) as i64;
        let outcome = Self::store(
            st,
            tenant,
            (Signal::Metrics, req.encoded_len() as u64),
            (admitted.rows.len(), || samples_batch(&admitted.rows)),
            rejected,
        )
        .await?;
        st.samples.commit(&admitted);
        // Exemplars only for an acknowledged request; durable like its samples.
        let exemplars: Vec<_> = exemplars
            .into_iter()
            .map(|mut e| {
                e.tenant = tenant.to_string();
                e
            })
            .collect();
        st.storage.append_exemplars(exemplars).await?;
        Ok(outcome)
    }

    /// Takes the `accepted` rows and the request's `bytes` from the tenant's ingest
    /// rates, appends the rows `build` makes (acknowledged once durable) and counts them.
    async fn store(
        st: &IngestState,
        tenant: &str,
        (signal, bytes): (Signal, u64),
        (accepted, build): (usize, impl FnOnce() -> Result<RecordBatch, StorageError>),
        rejected: Rejections,
    ) -> Result<Outcome, IngestError> {
        st.limiter.take(
            tenant,
            &[(rate_of(signal), accepted as u64), (Rate::Bytes, bytes)],
        )?;
        if accepted > 0 {
            st.storage
                .append_as(st.batch, tenant, signal, build()?)
                .await?;
        }
        st.metrics
            .rows(signal, accepted as u64, rejected.count as u64);
        Ok(Outcome {
            accepted,
            rejected,
            retimed: 0,
        })
    }
}
