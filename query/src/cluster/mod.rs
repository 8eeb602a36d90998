//! A querier's client of the ingesters' node-to-node API (`api/internal.rs`): the
//! [`UnflushedSource`] a follower storage (`osprey_storage::follow`) reads every
//! ingester's unflushed rows through, all ingesters at once, each within the query
//! timeout.
//!
//! It keeps what it fetched, by ingester, tenant, table and memtable (a memtable's
//! batches never change, they only grow while it is active), and asks each time only
//! for the batches after those (`have=`): a query then moves only the rows acknowledged
//! since the last one. What is kept is at most what the ingesters hold in memory for
//! the tenants queried, and is replaced by every answer.
//!
//! Live tails relay every ingester's stream of acknowledged logs (`tail.rs`).

pub(crate) mod tail;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use osprey_storage::follow::{Families, UnflushedSource};
use osprey_storage::series::Series;
use osprey_storage::series::exemplars::Exemplar;
use osprey_storage::tail::TailFeed;
use osprey_storage::{Signal, StorageError};

/// What a querier keeps of one ingester's answers for one tenant and table: each
/// memtable's batches, by WAL segment, in the ingester's order.
type Kept = Vec<(u64, Vec<RecordBatch>)>;

/// The ingesters of `cluster.ingesters`, asked with the cluster token.
pub struct IngesterClient {
    ingesters: Vec<String>,
    token: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
    kept: std::sync::Mutex<std::collections::HashMap<(String, String, Signal), Kept>>,
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
            kept: Default::default(),
        }
    }

    /// Runs `f` to completion from a blocking caller (a query's thread, or a runtime
    /// worker through `block_in_place`), with the runtime entered for its timers.
    fn wait<F: std::future::Future>(&self, f: F) -> F::Output {
        osprey_storage::files::blobs::wait_on(Some(&self.runtime), f)
    }

    async fn one(
        &self,
        addr: &str,
        tenant: &str,
        signal: Signal,
        after: &str,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let unreachable = |reason: String| unreachable(addr, reason);
        let key = (addr.to_string(), tenant.to_string(), signal);
        let kept: Kept = self
            .kept
            .lock()
            .ok()
            .and_then(|k| k.get(&key).cloned())
            .unwrap_or_default();
        let have: Vec<String> = kept
            .iter()
            .map(|(seg, b)| format!("{seg}:{}", b.len()))
            .collect();
        let uri = format!(
            "http://{addr}/internal/v1/unflushed?signal={}&after={after}&have={}",
            signal.table(),
            have.join(",")
        );
        let req = http::Request::get(uri);
        let (status, layout, body) = self.call(addr, req, tenant, Bytes::new()).await?;
        match status {
            200 => {
                let new = decode(&body).map_err(|e| unreachable(format!("bad answer: {e}")))?;
                let now = assemble(kept, layout.as_deref().unwrap_or(""), new)
                    .map_err(|e| unreachable(format!("bad answer: {e}")))?;
                let batches = now.iter().flat_map(|(_, b)| b.iter().cloned()).collect();
                if let Ok(mut k) = self.kept.lock() {
                    k.insert(key, now);
                }
                Ok(batches)
            }
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
    ) -> Result<(u16, Option<String>, Bytes), StorageError> {
        let unreachable = |reason: String| unreachable(addr, reason);
        let req = req
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-scope-orgid", tenant)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()))?;
        let answer = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let layout = resp
                .headers()
                .get("x-osprey-memtables")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, layout, body))
        };
        tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unreachable)
    }

    /// A JSON answer's `field`, from a GET of `path_and_query` on the ingester at
    /// `addr`.
    async fn json_of<T: serde::de::DeserializeOwned>(
        &self,
        addr: &str,
        tenant: &str,
        path_and_query: &str,
        field: &str,
    ) -> Result<T, StorageError> {
        let uri = format!("http://{addr}{path_and_query}");
        let (status, _, answer) = self
            .call(addr, http::Request::get(uri), tenant, Bytes::new())
            .await?;
        let bad = |reason: String| unreachable(addr, reason);
        if status != 200 {
            return Err(bad(format!(
                "HTTP {status} asking for {field}: {}",
                String::from_utf8_lossy(&answer)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )));
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|e| bad(format!("bad {field} answer: {e}")))?;
        serde_json::from_value(v[field].take()).map_err(|e| bad(format!("bad {field} answer: {e}")))
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
        let (status, _, answer) = self
            .call(addr, http::Request::post(uri), tenant, body)
            .await?;
        let bad = |reason: String| unreachable(addr, reason);
        if status != 200 {
            return Err(bad(format!("HTTP {status} asking for series")));
        }
        serde_json::from_slice::<Found>(&answer)
            .map(|f| f.series)
            .map_err(|e| bad(format!("bad series answer: {e}")))
    }
}

/// What an ingester holds now, from what was kept and its answer: for each memtable
/// of `layout` (`segment:from:total,...`), the kept batches before `from` and then
/// the answer's next `total - from`.
fn assemble(kept: Kept, layout: &str, new: Vec<RecordBatch>) -> Result<Kept, String> {
    let mut kept: std::collections::HashMap<u64, Vec<RecordBatch>> = kept.into_iter().collect();
    let mut new = new.into_iter();
    let mut out = Kept::new();
    for entry in layout.split(',').filter(|e| !e.is_empty()) {
        let nums: Vec<usize> = entry
            .split(':')
            .map(|n| {
                n.parse::<usize>()
                    .map_err(|_| format!("memtable entry {entry:?}"))
            })
            .collect::<Result<_, _>>()?;
        let [seg, from, total] = nums[..] else {
            return Err(format!("memtable entry {entry:?}"));
        };
        let mut batches = kept.remove(&(seg as u64)).unwrap_or_default();
        if batches.len() < from || from > total {
            return Err(format!(
                "memtable {seg}: kept {} batches, told {from}",
                batches.len()
            ));
        }
        batches.truncate(from);
        batches.extend(new.by_ref().take(total - from));
        if batches.len() != total {
            return Err(format!(
                "memtable {seg}: {} batches, not {total}",
                batches.len()
            ));
        }
        out.push((seg as u64, batches));
    }
    if new.next().is_some() {
        return Err("more batches than the memtables listed".into());
    }
    Ok(out)
}

/// The ingester at `addr` did not answer, or not usably.
fn unreachable(addr: &str, reason: String) -> StorageError {
    StorageError::Unreachable {
        node: addr.to_string(),
        reason,
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
    ) -> Vec<Result<Vec<RecordBatch>, StorageError>> {
        let after: Vec<String> = checkpoints
            .iter()
            .map(|(n, c)| format!("{n}:{c}"))
            .collect();
        let after = after.join(",");
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.one(addr, tenant, signal, &after));
        self.wait(futures::future::join_all(asks))
    }

    fn series(&self, tenant: &str, ids: &[u64]) -> Vec<Result<Vec<Series>, StorageError>> {
        let body = Bytes::from(serde_json::json!({ "ids": ids }).to_string());
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.series_of(addr, tenant, body.clone()));
        self.wait(futures::future::join_all(asks))
    }

    fn exemplars(
        &self,
        tenant: &str,
        query: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<Result<Vec<Exemplar>, StorageError>> {
        let q = serde_urlencoded::to_string([
            ("query", query),
            ("start", &start_ms.to_string()),
            ("end", &end_ms.to_string()),
        ])
        .unwrap_or_default();
        let path = format!("/internal/v1/exemplars?{q}");
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.json_of(addr, tenant, &path, "exemplars"));
        self.wait(futures::future::join_all(asks))
    }

    fn metadata(&self, tenant: &str, metric: Option<&str>) -> Vec<Result<Families, StorageError>> {
        let q = serde_urlencoded::to_string(metric.map(|m| [("metric", m)])).unwrap_or_default();
        let path = format!("/internal/v1/metadata?{q}");
        let asks = self
            .ingesters
            .iter()
            .map(|addr| self.json_of(addr, tenant, &path, "metadata"));
        self.wait(futures::future::join_all(asks))
    }

    fn tail(&self, tenant: &str, feed: Arc<TailFeed>) {
        let mut started = Vec::with_capacity(self.ingesters.len());
        for addr in &self.ingesters {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let peer = tail::Peer {
                client: self.client.clone(),
                token: self.token.clone(),
                addr: addr.clone(),
                tenant: tenant.to_string(),
            };
            self.runtime.spawn(tail::relay(peer, Arc::clone(&feed), tx));
            started.push(rx);
        }
        // Every ingester subscribed (or not reachable) before the tail goes on, so
        // that a tail that reads history first misses nothing in between.
        let all = futures::future::join_all(started);
        let _ = self.wait(tokio::time::timeout(tail::CONNECT_WITHIN, all));
    }
}
