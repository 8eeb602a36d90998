//! Live tail: `GET /api/v1/logs/tail?query=&service=` streams new matching records as
//! server-sent events, as soon as they are acknowledged (the storage publishes each
//! acknowledged logs batch; nothing is polled).
//!
//! Events: `event: log` with a record (the search's hit shape) as data; `event: dropped`
//! with `{"batches": n}` when this client fell more than `TAIL_BUFFER` batches behind
//! and skipped the oldest. The per-client buffer is that bounded channel plus the
//! matches of one batch; a slow client never holds back ingest or other clients.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::UInt32Array;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use osprey_storage::TailBatch;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::QueryError;
use crate::logquery::{self, Expr};
use crate::logsearch::{Checker, hits};

/// Builds the SSE stream of `tenant`'s records matching `query` (and `service`).
pub fn tail(
    rx: Receiver<TailBatch>,
    tenant: String,
    query: String,
    service: Option<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, QueryError> {
    let mut expr = logquery::parse(&query)?;
    if let Some(s) = service {
        expr = Expr::And(vec![expr, Expr::Service(s)]);
    }
    let state = TailState {
        rx,
        tenant,
        expr: Arc::new(expr),
        pending: VecDeque::new(),
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            match st.rx.recv().await {
                Ok(batch) => st.matches(&batch),
                Err(RecvError::Lagged(n)) => {
                    let ev = Event::default()
                        .event("dropped")
                        .data(format!("{{\"batches\":{n}}}"));
                    return Some((Ok(ev), st));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct TailState {
    rx: Receiver<TailBatch>,
    tenant: String,
    expr: Arc<Expr>,
    pending: VecDeque<Event>,
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
        for h in found {
            if let Ok(ev) = Event::default().event("log").json_data(&h) {
                self.pending.push_back(ev);
            }
        }
    }
}
