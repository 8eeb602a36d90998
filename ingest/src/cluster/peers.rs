//! An ingester's question to the others when it restarts (`osprey_storage::batch_ids`,
//! `BatchPeers`): which of the forwarded batches in its WAL did one of them store in
//! its place? A batch stored here whose answer never reached its sender (this node
//! crashed first) may have been sent on to the next ingester and stored there; the
//! WAL's copy is then left out. Asked of every other ingester at once
//! (`POST /internal/v1/batches`, `push.rs`); one that does not answer within the
//! timeout is taken to hold none (logged).

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

    async fn ask(&self, addr: &str, body: Bytes) -> Result<Vec<u128>, String> {
        let req = http::Request::post(format!("http://{addr}/internal/v1/batches"))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(body))
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
}

impl BatchPeers for Peers {
    fn held_elsewhere(&self, ids: &[u128]) -> Vec<u128> {
        let Ok(body) = serde_json::to_vec(&Ids::of(ids)) else {
            return Vec::new();
        };
        let body = Bytes::from(body);
        let asks = self.others.iter().map(|a| self.ask(a, body.clone()));
        let answers = osprey_storage::files::blobs::wait_on(
            Some(&self.runtime),
            futures::future::join_all(asks),
        );
        let mut held = Vec::new();
        for (addr, answer) in self.others.iter().zip(answers) {
            match answer {
                Ok(ids) => held.extend(ids),
                Err(e) => tracing::warn!(ingester = %addr, error = %e,
                    "could not ask which forwarded batches it stored in this one's place; keeping them"),
            }
        }
        held
    }
}
