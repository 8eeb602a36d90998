//! A cluster's write path (`storage/docs/format/cluster.md`, "Write path"): an ingester
//! that receives spans or metric points splits them by owner (`rendezvous.rs`,
//! `split.rs`), stores its own part and forwards each other part to its owner over the
//! node-to-node API (`push.rs`), and acknowledges the request once every owner has
//! stored its part in its WAL. Logs stay where they arrive.
//!
//! Every part carries a batch id (a hash of its bytes, the tenant and its owner), which
//! its owner stores with the rows (`osprey_storage::batch_ids`): a request answered 5xx
//! and retried unchanged is stored once. An owner that refuses (429, 503, not
//! listening) is left out, and its part is split again over the others in rendezvous
//! order; one that does not answer within `cluster.forward_timeout` fails the request
//! with 503, for the client to retry.

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
    me: usize,
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

/// How one owner answered its part.
enum Answer<P> {
    Stored(Outcome),
    /// It refused or is not there: the part goes to the next owner.
    Refused(String, P),
    Failed(IngestError),
}

impl Forwarder {
    /// `ingesters` in ordinal order, this node being `me`; parts forwarded with the
    /// cluster `token`, each answered within `timeout`.
    pub fn new(ingesters: Vec<String>, me: usize, token: String, timeout: Duration) -> Self {
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
        Ring::new(&self.ingesters).owner(tenant, key) == self.me
    }

    /// Splits `req` by owner, stores every part with its owner and sums their outcomes.
    pub(crate) async fn store<P: Part>(
        &self,
        st: &IngestState,
        tenant: &str,
        req: P,
    ) -> Result<Outcome, IngestError> {
        let mut ring = Ring::new(&self.ingesters);
        let mut pending: Vec<(usize, P)> = req.split(&ring, tenant).into_iter().collect();
        let mut total = Outcome::default();
        while !pending.is_empty() {
            let sends = pending.into_iter().map(|(owner, part)| async move {
                (owner, self.send(st, tenant, owner, part).await)
            });
            let mut refused = Vec::new();
            for (owner, answer) in futures::future::join_all(sends).await {
                match answer {
                    Answer::Stored(o) => total.absorb(o),
                    Answer::Refused(why, part) => {
                        tracing::warn!(ingester = %self.ingesters[owner], reason = %why,
                            "an ingester refused its part; sending it to the next");
                        ring.mark_down(owner);
                        refused.push((owner, why, part));
                    }
                    Answer::Failed(e) => return Err(e),
                }
            }
            if !refused.is_empty() && ring.all_down() {
                let (owner, why, _) = &refused[0];
                return Err(IngestError::Peer {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: format!(
                        "no ingester took the request (the last, {}, answered: {why}); retry",
                        self.ingesters[*owner]
                    ),
                });
            }
            pending = refused
                .into_iter()
                .flat_map(|(_, _, part)| part.split(&ring, tenant))
                .collect();
        }
        Ok(total)
    }

    /// Stores `part` with `owner` (this node, or over the node-to-node API).
    async fn send<P: Part>(
        &self,
        st: &IngestState,
        tenant: &str,
        owner: usize,
        part: P,
    ) -> Answer<P> {
        let body = part.encode_to_vec();
        let id = batch_id(&body, tenant, owner);
        if owner != self.me {
            let addr = &self.ingesters[owner];
            return match self.forward(addr, P::KIND, tenant, id, body).await {
                Answer::Refused(why, ()) => Answer::Refused(why, part),
                Answer::Stored(o) => Answer::Stored(o),
                Answer::Failed(e) => Answer::Failed(e),
            };
        }
        match store_once(st, tenant, id, part).await {
            Ok(o) => Answer::Stored(o),
            // Stored nothing: its bytes give the part back, to go elsewhere.
            Err(e) if refusal(e.http_status()) => match P::decode(body.as_slice()) {
                Ok(part) => Answer::Refused(e.client_message(), part),
                Err(_) => Answer::Failed(e),
            },
            Err(e) => Answer::Failed(e),
        }
    }

    async fn forward(
        &self,
        addr: &str,
        kind: &str,
        tenant: &str,
        id: u128,
        body: Vec<u8>,
    ) -> Answer<()> {
        let req = http::Request::post(format!("http://{addr}/internal/v1/push/{kind}"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-scope-orgid", tenant)
            .header("content-type", "application/x-protobuf")
            .header(push::BATCH_HEADER, format!("{id:032x}"))
            .body(Full::new(Bytes::from(body)));
        let req = match req {
            Ok(r) => r,
            Err(e) => return Answer::Failed(IngestError::BadRequest(e.to_string())),
        };
        let call = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        };
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Answer::Failed(IngestError::Peer {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "ingester {addr} did not store its part within {:?}; retry",
                    self.timeout
                ),
            }),
            // Not listening, or the connection dropped before an answer.
            Ok(Err(e)) => Answer::Refused(format!("{addr}: {e}"), ()),
            Ok(Ok((status, body))) if status == StatusCode::OK => {
                match serde_json::from_slice::<push::Stored>(&body) {
                    Ok(s) => Answer::Stored(s.into()),
                    Err(e) => Answer::Failed(IngestError::Peer {
                        status: StatusCode::BAD_GATEWAY,
                        message: format!("ingester {addr} answered what is not an outcome: {e}"),
                    }),
                }
            }
            Ok(Ok((status, body))) => {
                let message = push::error_message(&body);
                match refusal(status) {
                    true => Answer::Refused(format!("{addr}: HTTP {status}: {message}"), ()),
                    false => Answer::Failed(IngestError::Peer { status, message }),
                }
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

/// Stores a part under its batch id on this node, unless it is stored already.
pub(crate) async fn store_once<P: Part>(
    st: &IngestState,
    tenant: &str,
    id: u128,
    part: P,
) -> Result<Outcome, IngestError> {
    match st.storage.batch_ids().begin(id) {
        Begin::Stored => Ok(Outcome::default()),
        Begin::InProgress => Err(IngestError::Peer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("batch {id:032x} is being stored by another request; retry"),
        }),
        Begin::New(storing) => {
            let here = IngestState {
                forward: None,
                batch: Some(id),
                ..st.clone()
            };
            let outcome = part.store(&here, tenant).await?;
            storing.stored();
            Ok(outcome)
        }
    }
}

impl Outcome {
    /// Adds another part's outcome to this one.
    pub(crate) fn absorb(&mut self, other: Outcome) {
        self.accepted += other.accepted;
        self.retimed += other.retimed;
        let reasons = other.rejected.reasons().to_vec();
        self.rejected.absorb(other.rejected.count, reasons);
    }
}
