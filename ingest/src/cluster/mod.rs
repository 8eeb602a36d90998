//! A cluster's write path (`storage/docs/format/cluster.md`, "Write path"): an ingester
//! that receives spans or metric points splits them by owner (`rendezvous.rs`,
//! `split.rs`), stores its own part and forwards each other part to its owner over the
//! node-to-node API (`push.rs`), and acknowledges the request once every owner has
//! stored its part in its WAL. Logs stay where they arrive.
//!
//! Every part carries a batch id (a hash of its bytes, the tenant and its owner), which
//! its owner stores with the rows (`osprey_storage::batch_ids`): a request answered 5xx
//! and retried unchanged is stored once. An owner that refuses (an error answer, or
//! not listening: it stored nothing) is skipped, and the part goes whole, under the
//! same id, to the next ingester in its rendezvous order; one whose answer is lost
//! (the connection dropped after the part was sent, or no answer within
//! `cluster.forward_timeout`) fails the request with 503, for the client to retry,
//! since it may have stored the part. An owner that restarts asks the others which
//! of its WAL's batches they stored in its place (`peers.rs`), so a part is counted
//! once even when its owner stored it and crashed before answering.

pub mod peers;
mod push;
pub mod rendezvous;
pub mod split;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use osprey_storage::batch_ids::Begin;
use prost::Message;
use twox_hash::XxHash64;

pub use push::internal_router;
use rendezvous::Ring;

use crate::otlp::{Outcome, Pipeline};
use crate::{IngestError, IngestState};

/// The ingesters of `cluster.ingesters`, and which of them this one is.
pub struct Forwarder {
    ingesters: Vec<String>,
    /// This node's ordinal; `None` on a node that is not an ingester (the compactor
    /// writing rule results).
    me: Option<usize>,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A request that can be split by owner and stored by one (`push.rs` names its kind).
pub(crate) trait Part: Message + Default + Sized + Send + 'static {
    /// Its path segment on the node-to-node API (`/internal/v1/push/<kind>`).
    const KIND: &'static str;
    fn split(self, ring: &Ring, tenant: &str) -> BTreeMap<usize, Self>;
    /// Stores it here, as a request (`st.batch` names its batch).
    fn store(
        self,
        st: &IngestState,
        tenant: &str,
    ) -> impl std::future::Future<Output = Result<Outcome, IngestError>> + Send;
}

impl Part for ExportTraceServiceRequest {
    const KIND: &'static str = "traces";
    fn split(self, ring: &Ring, tenant: &str) -> BTreeMap<usize, Self> {
        split::traces(self, ring, tenant)
    }
    async fn store(self, st: &IngestState, tenant: &str) -> Result<Outcome, IngestError> {
        Pipeline::traces_here(st, tenant, &self).await
    }
}

impl Part for ExportMetricsServiceRequest {
    const KIND: &'static str = "metrics";
    fn split(self, ring: &Ring, tenant: &str) -> BTreeMap<usize, Self> {
        split::metrics(self, ring, tenant)
    }
    async fn store(self, st: &IngestState, tenant: &str) -> Result<Outcome, IngestError> {
        Pipeline::metrics_here(st, tenant, &self, false).await
    }
}

/// A part's batch id and the ingester owning it (`None`: the node storing it).
#[derive(Clone, Copy)]
pub(crate) struct Batch {
    pub id: u128,
    pub owner: Option<usize>,
}

/// How one ingester answered a part.
enum Answer {
    Stored(Outcome),
    /// It stored nothing (refused, or not there): the part goes to the next one.
    Refused(String),
    /// Bad, or unknown whether it was stored: the request fails.
    Failed(IngestError),
}

impl Forwarder {
    /// `ingesters` in ordinal order, this node being `me` (`None`: not an ingester);
    /// parts forwarded with the cluster `token`, each answered within `timeout`.
    pub fn new(
        ingesters: Vec<String>,
        me: Option<usize>,
        token: String,
        timeout: Duration,
    ) -> Self {
        Forwarder {
            ingesters,
            me,
            token,
            timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Whether this ingester owns `key` of `tenant` while every ingester is up (a scrape
    /// target, say).
    pub fn owns(&self, tenant: &str, key: &[u8]) -> bool {
        Some(Ring::new(&self.ingesters).owner(tenant, key)) == self.me
    }

    /// Splits `req` by owner, stores every part with its owner (or, when the owner
    /// refuses, with the next ingester that takes it) and sums their outcomes.
    pub(crate) async fn store<P: Part>(
        &self,
        st: &IngestState,
        tenant: &str,
        req: P,
    ) -> Result<Outcome, IngestError> {
        let ring = Ring::new(&self.ingesters);
        let parts = req.split(&ring, tenant);
        let sends = parts
            .into_iter()
            .map(|(owner, part)| self.deliver(st, tenant, &ring, owner, part));
        let mut total = Outcome::default();
        for answer in futures::future::join_all(sends).await {
            total.absorb(answer?);
        }
        Ok(total)
    }

    /// Stores one part under the batch id its owner gives it: with the owner, or when
    /// it refuses (it stored nothing), whole with the next ingester in the part's
    /// rendezvous order, under the same id, so that the owner, back after a crash,
    /// learns that another holds it (`BatchPeers`) and does not count it twice.
    async fn deliver<P: Part>(
        &self,
        st: &IngestState,
        tenant: &str,
        ring: &Ring<'_>,
        owner: usize,
        part: P,
    ) -> Result<Outcome, IngestError> {
        // Shared, not copied, by each attempt that forwards it.
        let body = Bytes::from(part.encode_to_vec());
        let id = batch_id(&body, tenant, owner);
        let mut part = Some(part);
        let mut refusals = Vec::new();
        for target in ring.ranked(owner, &id.to_le_bytes()) {
            let answer = match Some(target) == self.me {
                true => {
                    let here = match part.take() {
                        Some(p) => p,
                        None => P::decode(&body[..]).map_err(|e| {
                            IngestError::BadRequest(format!("a part does not decode again: {e}"))
                        })?,
                    };
                    let batch = Batch {
                        id,
                        owner: Some(owner),
                    };
                    match store_once(st, tenant, batch, here).await {
                        Ok(o) => Answer::Stored(o),
                        Err(e) if refusal(e.http_status()) => Answer::Refused(e.client_message()),
                        Err(e) => Answer::Failed(e),
                    }
                }
                false => {
                    let addr = &self.ingesters[target];
                    let batch = Batch {
                        id,
                        owner: Some(owner),
                    };
                    self.forward(addr, P::KIND, tenant, batch, body.clone())
                        .await
                }
            };
            match answer {
                Answer::Stored(o) => return Ok(o),
                Answer::Failed(e) => return Err(e),
                Answer::Refused(why) => {
                    tracing::warn!(ingester = %self.ingesters[target], reason = %why,
                        "an ingester refused a part; sending it to the next");
                    refusals.push(why);
                }
            }
        }
        Err(IngestError::Peer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "no ingester took a part of the request ({}); retry",
                refusals.join("; ")
            ),
        })
    }

    async fn forward(
        &self,
        addr: &str,
        kind: &str,
        tenant: &str,
        batch: Batch,
        body: Bytes,
    ) -> Answer {
        let mut req = http::Request::post(format!("http://{addr}/internal/v1/push/{kind}"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-scope-orgid", tenant)
            .header("content-type", "application/x-protobuf")
            .header(push::BATCH_HEADER, format!("{:032x}", batch.id));
        if let Some(owner) = batch.owner {
            req = req.header(push::OWNER_HEADER, owner.to_string());
        }
        let req = req.body(Full::new(body));
        let req = match req {
            Ok(r) => r,
            Err(e) => return Answer::Failed(IngestError::BadRequest(e.to_string())),
        };
        let ambiguous = |what: String| {
            Answer::Failed(IngestError::Peer {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "ingester {addr} {what}: whether it stored its part is unknown; retry"
                ),
            })
        };
        let call = async {
            let resp = match self.client.request(req).await {
                Ok(r) => r,
                // It never connected: nothing reached it, another may take the part.
                Err(e) if e.is_connect() => return Err(Answer::Refused(format!("{addr}: {e}"))),
                Err(e) => return Err(ambiguous(format!("dropped the connection ({e})"))),
            };
            let status = resp.status();
            match resp.into_body().collect().await {
                Ok(b) => Ok((status, b.to_bytes())),
                Err(e) => Err(ambiguous(format!("dropped its answer ({e})"))),
            }
        };
        let (status, body) = match tokio::time::timeout(self.timeout, call).await {
            Err(_) => return ambiguous(format!("did not answer within {:?}", self.timeout)),
            Ok(Err(answer)) => return answer,
            Ok(Ok(answered)) => answered,
        };
        if status == StatusCode::OK {
            return match serde_json::from_slice::<push::Stored>(&body) {
                Ok(s) => Answer::Stored(s.into()),
                Err(e) => ambiguous(format!("answered what is not an outcome ({e})")),
            };
        }
        // An error answer: it stored nothing (it answers only after the WAL's ack).
        let message = push::error_message(&body);
        match refusal(status) {
            true => Answer::Refused(format!("{addr}: HTTP {status}: {message}")),
            false => Answer::Failed(IngestError::Peer { status, message }),
        }
    }
}

impl Forwarder {
    /// Tells ingester `owner` that batch `id`, its own, was stored here in its place
    /// (it refused it, or was down), so that it acknowledges a retry without storing
    /// it again; lists it for the owner's restart too, in case this does not reach it.
    async fn note_held(&self, st: &IngestState, id: u128, owner: usize) {
        st.storage.batch_ids().held_for(id, owner);
        let Some(addr) = self.ingesters.get(owner) else {
            return;
        };
        let body = serde_json::to_vec(&peers::Ids::of(&[id])).unwrap_or_default();
        let req = http::Request::post(format!("http://{addr}/internal/v1/held"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)));
        let Ok(req) = req else {
            return;
        };
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Ok(Ok(resp)) if resp.status().is_success() => {}
            Ok(Ok(resp)) => {
                tracing::warn!(ingester = %addr, status = %resp.status(), "the owner of a batch stored here was not told; it asks when it restarts")
            }
            Ok(Err(e)) => {
                tracing::debug!(ingester = %addr, error = %e, "the owner of a batch stored here was not told; it asks when it restarts")
            }
            Err(_) => {
                tracing::debug!(ingester = %addr, "the owner of a batch stored here did not answer; it asks when it restarts")
            }
        }
    }
}

/// Whether an owner's status means "not now, try another" (rather than "this is bad").
fn refusal(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The id of a part: a 128-bit hash of its bytes, the tenant and its owner's ordinal.
fn batch_id(body: &[u8], tenant: &str, owner: usize) -> u128 {
    let seed = XxHash64::oneshot(owner as u64, tenant.as_bytes());
    let lo = XxHash64::oneshot(seed, body);
    let hi = XxHash64::oneshot(seed ^ 0x9e37_79b9_7f4a_7c15, body);
    (u128::from(hi) << 64) | u128::from(lo)
}

/// Stores a part under its batch id on this node, unless it is stored already, to the
/// end even if the caller stops waiting.
pub(crate) async fn store_once<P: Part>(
    st: &IngestState,
    tenant: &str,
    batch: Batch,
    part: P,
) -> Result<Outcome, IngestError> {
    // On a task of its own: the request waiting for it may be dropped (its sender went
    // away), but a write handed to the WAL completes anyway, and its id must then be
    // remembered, or a retry would store it again.
    let (st, tenant) = (st.clone(), tenant.to_string());
    let id = batch.id;
    tokio::spawn(async move {
        let outcome = store_here(&st, &tenant, id, part).await?;
        // Stored in another ingester's place: the owner learns it before the sender
        // hears of it, so that a retry reaching the owner is not stored again.
        if let (Some(owner), Some(forward)) = (batch.owner, &st.forward)
            && forward.me != Some(owner)
        {
            forward.note_held(&st, id, owner).await;
        }
        Ok(outcome)
    })
    .await
    .map_err(|e| IngestError::Peer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("storing batch {id:032x} stopped: {e}"),
    })?
}

async fn store_here<P: Part>(
    st: &IngestState,
    tenant: &str,
    id: u128,
    part: P,
) -> Result<Outcome, IngestError> {
    // The same batch being stored by an earlier attempt (its sender gave up on it):
    // wait for that one, since its outcome decides whether this one stores anything.
    // Not a refusal: another ingester must not take a batch that may be stored here.
    let mut waited = Duration::ZERO;
    let storing = loop {
        match st.storage.batch_ids().begin(id) {
            Begin::Stored => return Ok(Outcome::default()),
            Begin::New(storing) => break storing,
            Begin::InProgress if waited < IN_PROGRESS_WAIT => {
                tokio::time::sleep(IN_PROGRESS_POLL).await;
                waited += IN_PROGRESS_POLL;
            }
            Begin::InProgress => {
                return Err(IngestError::Peer {
                    status: StatusCode::CONFLICT,
                    message: format!(
                        "batch {id:032x} is still being stored by an earlier attempt; retry"
                    ),
                });
            }
        }
    };
    let here = IngestState {
        forward: None,
        batch: Some(id),
        ..st.clone()
    };
    let outcome = part.store(&here, tenant).await?;
    storing.stored();
    Ok(outcome)
}

/// How long a batch waits for an earlier attempt at it to finish, and how often it looks.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);
const IN_PROGRESS_POLL: Duration = Duration::from_millis(10);

impl Outcome {
    /// Adds another part's outcome to this one.
    pub(crate) fn absorb(&mut self, other: Outcome) {
        self.accepted += other.accepted;
        self.retimed += other.retimed;
        let reasons = other.rejected.reasons().to_vec();
        self.rejected.absorb(other.rejected.count, reasons);
    }
}
