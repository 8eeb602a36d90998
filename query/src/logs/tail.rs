//! Live tail: a stream of new matching records, as soon as they are acknowledged (the
//! storage publishes each acknowledged logs batch; nothing is polled), which
//! `api/logs.rs` serves as server-sent events; and the same for a LogQL log query
//! ([`logql_tail`]: each batch's kept lines as streams), which `api/loki/` serves over
//! a WebSocket as Loki's `tail`.
//!
//! Items: a record (the search's hit), or the number of batches skipped when this
//! client fell behind the batches storage keeps for tails (`osprey_storage::tail`:
//! 1024 batches, 64 MiB for all clients together). The per-client buffer is that plus
//! the matches of one batch; a slow client never holds back ingest or other clients,
//! and one that reads nothing is disconnected after `server.write_timeout`.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::UInt32Array;
use futures::Stream;
use osprey_storage::TailBatch;
use osprey_storage::TailReceiver as Receiver;
use osprey_storage::tail::RecvError;

use super::search::{Checker, LogHit, hits};
use crate::QueryError;
use osprey_logql::search::Expr;

use super::filter::{self, Language};

/// What the tail stream yields.
pub enum TailEvent {
    Log(LogHit),
    /// This many batches were skipped: the client fell behind.
    Dropped(u64),
}

/// The stream of `tenant`'s records matching `query` (and `service`).
pub fn tail(
    rx: Receiver,
    tenant: String,
    (language, query): (Language, String),
    service: Option<String>,
) -> Result<impl Stream<Item = TailEvent>, QueryError> {
    let expr = filter::expr(language, &query, service.as_deref())?;
    let state = TailState {
        rx,
        tenant,
        expr: Arc::new(expr),
        pending: VecDeque::new(),
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((ev, st));
            }
            match st.rx.recv().await {
                Ok(batch) => st.matches(&batch),
                Err(RecvError::Lagged(n)) => return Some((TailEvent::Dropped(n), st)),
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(stream)
}

struct TailState {
    rx: Receiver,
    tenant: String,
    expr: Arc<Expr>,
    pending: VecDeque<TailEvent>,
}

impl TailState {
    /// Queues an event per matching record of `batch`.
    fn matches(&mut self, batch: &TailBatch) {
        let (tenant, b) = (&batch.0, &batch.1);
        if *tenant != self.tenant {
            return;
        }
        let Ok(mut check) = Checker::new(b, &self.expr) else {
            return;
        };
        let rows: Vec<u32> = (0..b.num_rows())
            .filter(|i| check.matches(*i))
            .map(|i| i as u32)
            .collect();
        if rows.is_empty() {
            return;
        }
        let Ok(picked) = arrow::compute::take_record_batch(b, &UInt32Array::from(rows)) else {
            return;
        };
        let Ok(found) = hits(&picked) else {
            return;
        };
        self.pending.extend(found.into_iter().map(TailEvent::Log));
    }
}

/// What a LogQL tail yields.
pub enum LogqlTailEvent {
    /// One acknowledged batch's lines the query keeps (none are not sent).
    Streams(Vec<osprey_logql::logql::Stream>),
    /// This many batches were skipped: the client fell behind.
    Dropped(u64),
}

/// The stream of `tenant`'s new lines that the log query `log` keeps.
pub fn logql_tail(
    rx: Receiver,
    tenant: String,
    log: osprey_logql::logql::LogExpr,
) -> impl Stream<Item = LogqlTailEvent> {
    futures::stream::unfold((rx, tenant, log), |(mut rx, tenant, log)| async move {
        loop {
            match rx.recv().await {
                Ok(batch) if batch.0 == tenant => {
                    match super::logql::batch_streams(&log, &batch.1) {
                        Ok(streams) if !streams.is_empty() => {
                            return Some((LogqlTailEvent::Streams(streams), (rx, tenant, log)));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "loki tail: a batch could not be read")
                        }
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    return Some((LogqlTailEvent::Dropped(n), (rx, tenant, log)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
