//! A querier's client of the ingesters' node-to-node API (`api/internal.rs`): the
//! [`UnflushedSource`] a follower storage (`osprey_storage::follow`) reads every
//! ingester's unflushed rows through, all ingesters at once, each within the query
//! timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_storage::follow::UnflushedSource;
use osprey_storage::series::Series;
use osprey_storage::{Signal, StorageError};

/// The ingesters of `cluster.ingesters`, asked with the cluster token.
pub struct IngesterClient {
    ingesters: Vec<String>,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
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
        let req = http::Request::get(uri);
        let (status, body) = self.call(addr, req, tenant, Bytes::new()).await?;
        match status {
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

    /// One request to the ingester at `addr` as `tenant`, with the cluster token,
    /// answered within the timeout: its status and body.
    async fn call(
        &self,
        addr: &str,
        req: http::request::Builder,
        tenant: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), StorageError> {
        let unreachable = |reason: String| StorageError::Unreachable {
            node: addr.to_string(),
            reason,
        };
        let req = req
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-scope-orgid", tenant)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()))?;
        let answer = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unreachable)
    }

    async fn series_of(
        &self,
        addr: &str,
        tenant: &str,
        body: Bytes,
    ) -> Result<Vec<Series>, StorageError> {
        #[derive(serde::Deserialize)]
        struct Found {
            series: Vec<Series>,
        }
        let uri = format!("http://{addr}/internal/v1/series");
        let (status, answer) = self
            .call(addr, http::Request::post(uri), tenant, body)
            .await?;
        let bad = |reason: String| StorageError::Unreachable {
            node: addr.to_string(),
            reason,
        };
        if status != 200 {
            return Err(bad(format!("HTTP {status} asking for series")));
        }
        serde_json::from_slice::<Found>(&answer)
            .map(|f| f.series)
            .map_err(|e| bad(format!("bad series answer: {e}")))
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

    fn series(&self, tenant: &str, ids: &[u64]) -> Result<Vec<Series>, StorageError> {
        let body = Bytes::from(serde_json::json!({ "ids": ids }).to_string());
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.series_of(addr, tenant, body.clone()));
        let mut by_id = std::collections::BTreeMap::new();
        for answer in self.wait(futures::future::join_all(asks)) {
            for s in answer? {
                by_id.insert(s.id, s);
            }
        }
        Ok(by_id.into_values().collect())
    }
}
