//! A querier's client of the ingesters' node-to-node API (`api/internal.rs`): the
//! [`UnflushedSource`] a follower storage (`osprey_storage::follow`) reads every
//! ingester's unflushed rows through, all ingesters at once, each within the query
//! timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_storage::follow::UnflushedSource;
use osprey_storage::{Signal, StorageError};

/// The ingesters of `cluster.ingesters`, asked with the cluster token.
pub struct IngesterClient {
    ingesters: Vec<String>,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Empty<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl IngesterClient {
    /// A client on the current tokio runtime (its connections run there).
    pub fn new(ingesters: Vec<String>, token: String, timeout: Duration) -> Self {
        IngesterClient {
            ingesters,
            token,
            timeout,
            client: Client::builder(TokioExecutor::new()).build_http(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Runs `f` to completion from a blocking caller (a query's thread, or a runtime
    /// worker through `block_in_place`), with the runtime entered for its timers.
    fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        let _entered = self.runtime.enter();
        let block = || futures::executor::block_on(tokio::task::unconstrained(f));
        // As `Blobs::wait`: on a worker, hand its queue to another thread first.
        if self.runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(block)
        } else {
            block()
        }
    }

    async fn one(
        &self,
        addr: &str,
        tenant: &str,
        signal: Signal,
        after: &str,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let unreachable = |reason: String| StorageError::Unreachable {
            node: addr.to_string(),
            reason,
        };
        let uri = format!(
            "http://{addr}/internal/v1/unflushed?signal={}&after={after}",
            signal.table()
        );
        let req = http::Request::get(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-scope-orgid", tenant)
            .body(Empty::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let answer = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unreachable)?;
        match status.as_u16() {
            200 => decode(&body).map_err(|e| unreachable(format!("bad answer: {e}"))),
            409 => {
                let committed = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["committed"].as_u64())
                    .unwrap_or(0);
                Err(StorageError::StaleSnapshot {
                    after: 0,
                    committed,
                })
            }
            code => Err(unreachable(format!(
                "HTTP {code}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))),
        }
    }
}

fn decode(body: &[u8]) -> Result<Vec<RecordBatch>, arrow::error::ArrowError> {
    arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)?.collect()
}

impl UnflushedSource for IngesterClient {
    fn fetch(
        &self,
        tenant: &str,
        signal: Signal,
        checkpoints: &BTreeMap<String, u64>,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let after: Vec<String> = checkpoints
            .iter()
            .map(|(n, c)| format!("{n}:{c}"))
            .collect();
        let after = after.join(",");
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.one(addr, tenant, signal, &after));
        let answers = self.wait(futures::future::join_all(asks));
        let mut batches = Vec::new();
        let mut stale = None;
        for a in answers {
            match a {
                Ok(b) => batches.extend(b),
                // Retrying on a newer snapshot cannot help a node that is down.
                Err(e @ StorageError::Unreachable { .. }) => return Err(e),
                Err(e) => stale = Some(e),
            }
        }
        match stale {
            Some(e) => Err(e),
            None => Ok(batches),
        }
    }
}
