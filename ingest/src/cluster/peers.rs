//! An ingester's question to the others when it restarts (`osprey_storage::batch_ids`,
//! `BatchPeers`): which of the forwarded batches in its WAL did one of them store in
//! its place? A batch stored here whose answer never reached its sender (this node
//! crashed first) may have been sent on to the next ingester and stored there; the
//! WAL's copy is then left out. Asked of every other ingester at once
//! (`POST /internal/v1/batches`, `push.rs`); one that does not answer within the
//! timeout is taken to hold none (logged).
//!
//! It also asks which batches they stored in its place while it refused them or was
//! down (`GET /internal/v1/held?owner=N`): a client's retry of such a request, reaching
//! it now, is then acknowledged without storing the part a second time.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_storage::batch_ids::BatchPeers;
use serde::{Deserialize, Serialize};

/// The body of `POST /internal/v1/batches` and of its answer: batch ids as 32 hex
/// digits.
#[derive(Serialize, Deserialize, Default)]
pub struct Ids {
    pub ids: Vec<String>,
}

impl Ids {
    pub fn of(ids: &[u128]) -> Self {
        Ids {
            ids: ids.iter().map(|i| format!("{i:032x}")).collect(),
        }
    }

    pub fn parsed(&self) -> Vec<u128> {
        self.ids
            .iter()
            .filter_map(|i| u128::from_str_radix(i, 16).ok())
            .collect()
    }
}

/// The other ingesters, asked with the cluster token.
pub struct Peers {
    me: usize,
    others: Vec<String>,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl Peers {
    /// Every ingester of `ingesters` but `me`, on the current runtime.
    pub fn new(ingesters: &[String], me: usize, token: String, timeout: Duration) -> Self {
        Peers {
            me,
            others: ingesters
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != me)
                .map(|(_, a)| a.clone())
                .collect(),
            token,
            timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The ids one ingester answers `req` (a path and its method's body) with.
    async fn ask(&self, addr: &str, path: &str, body: Option<Bytes>) -> Result<Vec<u128>, String> {
        let builder = match body {
            Some(_) => http::Request::post(format!("http://{addr}{path}")),
            None => http::Request::get(format!("http://{addr}{path}")),
        };
        let req = builder
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let call = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            serde_json::from_slice::<Ids>(&bytes)
                .map(|i| i.parsed())
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    /// Every other ingester's answer to `path` (with `body`: a POST), gathered; one
    /// that does not answer is logged with `unanswered` and counted as none.
    fn ask_all(&self, path: &str, body: Option<Bytes>, unanswered: &str) -> Vec<u128> {
        let asks = self.others.iter().map(|a| self.ask(a, path, body.clone()));
        let answers = osprey_storage::files::blobs::wait_on(
            Some(&self.runtime),
            futures::future::join_all(asks),
        );
        let mut held = Vec::new();
        for (addr, answer) in self.others.iter().zip(answers) {
            match answer {
                Ok(ids) => held.extend(ids),
                Err(e) => tracing::warn!(ingester = %addr, error = %e, "{unanswered}"),
            }
        }
        held
    }
}

impl BatchPeers for Peers {
    fn held_elsewhere(&self, ids: &[u128]) -> Vec<u128> {
        let Ok(body) = serde_json::to_vec(&Ids::of(ids)) else {
            return Vec::new();
        };
        self.ask_all(
            "/internal/v1/batches",
            Some(Bytes::from(body)),
            "could not ask which forwarded batches it stored in this one's place; keeping them",
        )
    }

    fn held_for_me(&self) -> Vec<u128> {
        self.ask_all(
            &format!("/internal/v1/held?owner={}", self.me),
            None,
            "could not ask which batches it stored while this one refused or was down; a retry of one may be stored twice",
        )
    }
}
