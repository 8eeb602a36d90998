//! The owner's side of forwarding, on the node-to-node API (`cluster.internal_addr`,
//! behind the cluster token): `POST /internal/v1/push/traces|metrics|samples` takes one
//! part of a request another ingester split (an OTLP protobuf request, or remote_write's
//! decoded samples as a `SamplesPart`), with its batch id
//! in `X-Osprey-Batch` (32 hex digits), stores it once through the same pipeline as a
//! client's request, and answers what it stored as JSON ([`Stored`]), or the error with
//! its own status and `{"status": "error", "error": …}`.
//!
//! `POST /internal/v1/batches` with `{"ids": [hex, …]}`: which of those batches this
//! node holds, `{"ids": […]}` (asked by an ingester that restarts, `peers.rs`).
//!
//! A part comes with its owner's ordinal in `X-Osprey-Owner`; stored by another
//! ingester in the owner's place, that ingester tells the owner
//! (`POST /internal/v1/held` with `{"ids": […]}`: the owner then acknowledges a retry
//! of it without storing it) and lists it for the owner's restart
//! (`GET /internal/v1/held?owner=N`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_auth::{RequestContext, Scope};
use serde::{Deserialize, Serialize};

use super::peers::Ids;
use super::{Batch, Part, store_once};
use crate::otlp::{Outcome, Rejections};
use crate::remote_write::forward::SamplesPart;
use crate::{IngestError, IngestState};

/// The header naming a forwarded part's batch id.
pub const BATCH_HEADER: &str = "x-osprey-batch";

/// The header naming a forwarded part's owner (its ordinal in `cluster.ingesters`).
pub const OWNER_HEADER: &str = "x-osprey-owner";

/// What an owner stored of a part.
#[derive(Serialize, Deserialize)]
pub struct Stored {
    pub accepted: usize,
    pub rejected: i64,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub retimed: usize,
}

impl From<Stored> for Outcome {
    fn from(s: Stored) -> Self {
        let mut rejected = Rejections::default();
        rejected.absorb(s.rejected, s.reasons);
        Outcome {
            accepted: s.accepted,
            rejected,
            retimed: s.retimed,
        }
    }
}

/// The push routes of the internal listener (merged with the query crate's).
pub fn internal_router(st: IngestState) -> Router {
    let limit = usize::try_from(st.max_body).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/internal/v1/push/{kind}",
            axum::routing::post(push_handler),
        )
        .route("/internal/v1/batches", axum::routing::post(batches_handler))
        .route(
            "/internal/v1/held",
            axum::routing::get(held_for_handler).post(held_elsewhere_handler),
        )
        .route_layer(osprey_auth::require(Scope::Ingest))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(st)
}

/// Which of the batch ids asked about this node holds (stored, or replayed).
async fn batches_handler(
    State(st): State<IngestState>,
    axum::Json(asked): axum::Json<Ids>,
) -> axum::Json<Ids> {
    let held: Vec<u128> = asked
        .parsed()
        .into_iter()
        .filter(|id| st.storage.batch_ids().holds(*id))
        .collect();
    axum::Json(Ids::of(&held))
}

#[derive(Deserialize)]
struct OwnerParam {
    owner: usize,
}

/// The batches this node stored recently in ingester `owner`'s place.
async fn held_for_handler(
    State(st): State<IngestState>,
    axum::extract::Query(p): axum::extract::Query<OwnerParam>,
) -> axum::Json<Ids> {
    axum::Json(Ids::of(&st.storage.batch_ids().held_for_owner(p.owner)))
}

/// Another ingester stored these batches, owned by this one, in its place.
async fn held_elsewhere_handler(
    State(st): State<IngestState>,
    axum::Json(told): axum::Json<Ids>,
) -> axum::Json<Ids> {
    let both = st.storage.batch_ids().mark_elsewhere(told.parsed());
    if both > 0 {
        tracing::error!(
            batches = both,
            "batches stored both here and by another ingester in this one's place"
        );
    }
    axum::Json(Ids::default())
}

async fn push_handler(
    State(st): State<IngestState>,
    ctx: RequestContext,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match push(&st, ctx.tenant(), &kind, &headers, &body).await {
        Ok(o) => axum::Json(Stored {
            accepted: o.accepted,
            rejected: o.rejected.count,
            reasons: o.rejected.reasons().to_vec(),
            retimed: o.retimed,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn push(
    st: &IngestState,
    tenant: &str,
    kind: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Outcome, IngestError> {
    let id = headers
        .get(BATCH_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| u128::from_str_radix(v, 16).ok())
        .ok_or_else(|| {
            IngestError::BadRequest(format!("{BATCH_HEADER}: expected 32 hex digits"))
        })?;
    // Absent (a sender of before): the part is taken as this node's own.
    let owner = headers
        .get(OWNER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let batch = Batch { id, owner };
    match kind {
        ExportTraceServiceRequest::KIND => {
            store_once(
                st,
                tenant,
                batch,
                decode::<ExportTraceServiceRequest>(body)?,
            )
            .await
        }
        ExportMetricsServiceRequest::KIND => {
            store_once(
                st,
                tenant,
                batch,
                decode::<ExportMetricsServiceRequest>(body)?,
            )
            .await
        }
        SamplesPart::KIND => store_once(st, tenant, batch, decode::<SamplesPart>(body)?).await,
        other => Err(IngestError::Peer {
            status: StatusCode::NOT_FOUND,
            message: format!("no push of {other:?}: expected traces, metrics or samples"),
        }),
    }
}

fn decode<P: Part>(body: &[u8]) -> Result<P, IngestError> {
    P::decode(body).map_err(|e| IngestError::BadRequest(format!("malformed part: {e}")))
}

/// The message of an error answer (`{"error": …}`), or its text.
pub(super) fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect())
}
