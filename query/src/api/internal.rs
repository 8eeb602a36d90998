//! The node-to-node API of a cluster (`storage/docs/format/cluster.md`, "Read path"),
//! served on `cluster.internal_addr` behind the cluster's shared token, never on the
//! API port.
//!
//! `GET /internal/v1/unflushed?signal=logs|spans|metrics&after=N`: the request's
//! tenant's rows of that table in this node's memory above WAL segment `N` (the
//! checkpoint for this node in the asker's manifest snapshot; or `after=node:N,...`,
//! every writer's, of which this node takes its own, 0 when absent), as an Arrow IPC stream
//! in the stored schema, with this node's committed checkpoint in
//! `X-Osprey-Checkpoint` and its node id in `X-Osprey-Node`. The rows come by memtable
//! (named by its WAL segment): `have=segment:batches,...` says what the asker kept of
//! earlier answers, and only the batches after those are sent;
//! `X-Osprey-Memtables: segment:from:total,...` lists every memtable of the answer in
//! order, the batch its part of the stream starts at (0 when the asker's count did not
//! fit: it must drop what it kept) and how many it has in all. An asker whose snapshot is
//! older than this node's last commit gets 409 (`conflict`, with `committed`): it must
//! read a newer snapshot and ask again, or it would miss rows.
//!
//! `POST /internal/v1/series` with `{"ids": [...]}`: the definitions (metric, labels)
//! of those of the tenant's series this node knows, `{"series": [...]}`: a querier
//! learns the series of unflushed samples before it resolves selectors.
//!
//! `GET /internal/v1/exemplars?query=…&start=MS&end=MS`: this node's exemplars of the
//! series the PromQL expression's selectors match, `{"exemplars": [...]}`; and
//! `GET /internal/v1/metadata[?metric=…]`: its metric metadata, `{"metadata": {...}}`.
//! Both live only in the memory of the ingester that received them.
//!
//! `GET /internal/v1/tail`: the tenant's logs batches as this node acknowledges them,
//! as a stream of frames (`cluster/tail.rs`) until the asker goes away.

use arrow::ipc::writer::StreamWriter;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use osprey_auth::{RequestContext, Scope, require};
use osprey_storage::{Signal, StorageError, schema};
use serde::Deserialize;
use serde_json::json;

use crate::{QueryError, QueryState};

/// The routes of the internal listener.
pub fn internal_router(st: QueryState, node_id: String) -> Router {
    Router::new()
        .route("/internal/v1/unflushed", get(unflushed_handler))
        .route("/internal/v1/series", axum::routing::post(series_handler))
        .route("/internal/v1/exemplars", get(exemplars_handler))
        .route("/internal/v1/metadata", get(metadata_handler))
        .route("/internal/v1/tail", get(tail_handler))
        .route_layer(require(Scope::Query))
        .with_state(Internal { st, node_id })
}

#[derive(Clone)]
struct Internal {
    st: QueryState,
    node_id: String,
}

#[derive(Deserialize)]
struct UnflushedParams {
    signal: String,
    after: String,
    #[serde(default)]
    have: String,
}

/// `have`: `segment:batches,...`.
fn have_of(raw: &str) -> Result<std::collections::HashMap<u64, usize>, QueryError> {
    let bad = || {
        QueryError::BadData(format!(
            "invalid parameter \"have\": {raw:?}; expected segment:batches,..."
        ))
    };
    raw.split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (seg, n) = pair.split_once(':').ok_or_else(bad)?;
            Ok((
                seg.parse().map_err(|_| bad())?,
                n.parse().map_err(|_| bad())?,
            ))
        })
        .collect()
}

/// `after`: a segment, or `node:segment,...` of which `node_id`'s (0 when absent).
fn after_of(raw: &str, node_id: &str) -> Result<u64, QueryError> {
    if let Ok(n) = raw.parse::<u64>() {
        return Ok(n);
    }
    let bad = || {
        QueryError::BadData(format!(
            "invalid parameter \"after\": {raw:?}; expected a WAL segment or node:segment,..."
        ))
    };
    let mut mine = 0;
    for pair in raw.split(',').filter(|p| !p.is_empty()) {
        let (node, seg) = pair.rsplit_once(':').ok_or_else(bad)?;
        let seg = seg.parse::<u64>().map_err(|_| bad())?;
        if node == node_id {
            mine = seg;
        }
    }
    Ok(mine)
}

fn signal_of(name: &str) -> Result<Signal, QueryError> {
    Signal::ALL
        .into_iter()
        .find(|s| s.table() == name)
        .ok_or_else(|| {
            QueryError::BadData(format!(
                "invalid parameter \"signal\": {name:?}; expected logs, spans or metrics"
            ))
        })
}

async fn unflushed_handler(
    State(s): State<Internal>,
    ctx: RequestContext,
    Query(p): Query<UnflushedParams>,
) -> Response {
    let parsed = (
        signal_of(&p.signal),
        after_of(&p.after, &s.node_id),
        have_of(&p.have),
    );
    let (signal, after, have) = match parsed {
        (Ok(sig), Ok(after), Ok(have)) => (sig, after, have),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e.into_response(),
    };
    let (memtables, committed) = match s.st.storage.unflushed(ctx.tenant(), signal, after) {
        Ok(found) => found,
        Err(StorageError::StaleSnapshot { after, committed }) => {
            let body = json!({
                "status": "error",
                "errorType": "conflict",
                "error": format!("stale snapshot: it has this node's rows up to WAL segment {after}, this node committed up to {committed}; read a newer snapshot"),
                "committed": committed,
            });
            return (StatusCode::CONFLICT, axum::Json(body)).into_response();
        }
        Err(e) => return QueryError::Internal(e.client_message()).into_response(),
    };
    let mut layout = Vec::with_capacity(memtables.len());
    let mut batches = Vec::new();
    for m in memtables {
        let total = m.batches.len();
        let from = have
            .get(&m.segment)
            .copied()
            .filter(|&n| n <= total)
            .unwrap_or(0);
        layout.push(format!("{}:{from}:{total}", m.segment));
        batches.extend(m.batches.into_iter().skip(from));
    }
    match encode(signal, &batches) {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&layout.join(",")) {
                h.insert("x-osprey-memtables", v);
            }
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.apache.arrow.stream"),
            );
            h.insert("x-osprey-checkpoint", HeaderValue::from(committed));
            if let Ok(v) = HeaderValue::from_str(&s.node_id) {
                h.insert("x-osprey-node", v);
            }
            resp
        }
        Err(e) => QueryError::Internal(format!("encoding unflushed rows: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct SeriesParams {
    ids: Vec<u64>,
}

async fn series_handler(
    State(s): State<Internal>,
    ctx: RequestContext,
    axum::Json(p): axum::Json<SeriesParams>,
) -> Response {
    let index = s.st.storage.series();
    let found: Vec<_> = p
        .ids
        .iter()
        .filter_map(|id| index.series(ctx.tenant(), *id))
        .map(|s| (*s).clone())
        .collect();
    axum::Json(json!({ "series": found })).into_response()
}

#[derive(Deserialize)]
struct ExemplarParams {
    query: String,
    start: i64,
    end: i64,
}

async fn exemplars_handler(
    State(s): State<Internal>,
    ctx: RequestContext,
    Query(p): Query<ExemplarParams>,
) -> Response {
    match crate::promql::exemplars_here(&s.st, ctx.tenant(), &p.query, p.start, p.end) {
        Ok(found) => axum::Json(json!({ "exemplars": found })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct MetadataParams {
    metric: Option<String>,
}

async fn metadata_handler(
    State(s): State<Internal>,
    ctx: RequestContext,
    Query(p): Query<MetadataParams>,
) -> Response {
    let found =
        s.st.storage
            .metadata()
            .list(ctx.tenant(), p.metric.as_deref(), None);
    axum::Json(json!({ "metadata": found })).into_response()
}

async fn tail_handler(State(s): State<Internal>, ctx: RequestContext) -> Response {
    use crate::cluster::tail::{BATCH, KEEPALIVE, KEEPALIVE_EVERY, LAGGED, frame};
    use osprey_storage::tail::RecvError;
    // Subscribed before the answer starts: the asker misses nothing after it.
    let rx = s.st.storage.subscribe_logs();
    let tenant = ctx.tenant().to_string();
    let frames = futures::stream::unfold((rx, tenant), |(mut rx, tenant)| async move {
        loop {
            let next = match tokio::time::timeout(KEEPALIVE_EVERY, rx.recv()).await {
                Err(_) => frame(KEEPALIVE, &[]),
                Ok(Ok(batch)) if batch.0 != tenant => continue,
                Ok(Ok(batch)) => match encode(Signal::Logs, std::slice::from_ref(&batch.1)) {
                    Ok(bytes) => frame(BATCH, &bytes),
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail: a batch does not encode; skipped");
                        continue;
                    }
                },
                Ok(Err(RecvError::Lagged(n))) => frame(LAGGED, &n.to_le_bytes()),
                Ok(Err(RecvError::Closed)) => return None,
            };
            return Some((Ok::<_, std::convert::Infallible>(next), (rx, tenant)));
        }
    });
    let mut resp = axum::body::Body::from_stream(frames).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-osprey-tail"),
    );
    resp
}

/// The batches as one Arrow IPC stream in the table's stored schema (an empty stream
/// with the schema when there are none).
fn encode(
    signal: Signal,
    batches: &[arrow::array::RecordBatch],
) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| schema::stored_schema(signal));
    let mut w = StreamWriter::try_new(Vec::new(), &schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.into_inner()
}
