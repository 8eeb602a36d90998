//! Live tail: acknowledged logs batches fanned out to every subscriber, bounded in
//! batches ([`TAIL_BUFFER`]) and in bytes ([`TAIL_BUFFER_BYTES`]). Like a broadcast
//! channel, a subscriber that falls behind the oldest kept batch skips to it and is
//! told how many it missed (`RecvError::Lagged`); unlike tokio's, which keeps its last
//! 1024 values whatever their size, one stalled subscriber cannot pin more than the
//! byte budget of acknowledged batches. With no subscriber nothing is kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
pub use tokio::sync::broadcast::error::RecvError;

use crate::TailBatch;

/// Batches a live-tail subscriber may fall behind by before it skips some.
pub const TAIL_BUFFER: usize = 1024;

/// Bytes of batches kept for the subscribers that are behind.
pub const TAIL_BUFFER_BYTES: u64 = 64 << 20;

/// The feed every logs batch goes through once acknowledged.
#[derive(Debug, Default)]
pub struct TailFeed {
    ring: Mutex<Ring>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct Ring {
    /// (sequence number, batch, its bytes), oldest first.
    kept: VecDeque<(u64, TailBatch, u64)>,
    bytes: u64,
    next_seq: u64,
    subscribers: usize,
    closed: bool,
}

impl TailFeed {
    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether anyone listens (publishing costs nothing otherwise).
    pub fn has_subscribers(&self) -> bool {
        self.ring().subscribers > 0
    }

    /// Whether batches published now reach anyone: it has subscribers and is not
    /// closed (a relay filling it from elsewhere stops when not).
    pub fn wanted(&self) -> bool {
        let r = self.ring();
        r.subscribers > 0 && !r.closed
    }

    /// Hands `batch` to every subscriber; the oldest kept batches go past the bounds.
    pub fn publish(&self, batch: TailBatch) {
        let mut r = self.ring();
        if r.subscribers == 0 || r.closed {
            return;
        }
        let bytes = batch.1.get_array_memory_size() as u64;
        let seq = r.next_seq;
        r.next_seq += 1;
        r.kept.push_back((seq, batch, bytes));
        r.bytes += bytes;
        while r.kept.len() > TAIL_BUFFER || (r.bytes > TAIL_BUFFER_BYTES && r.kept.len() > 1) {
            if let Some((_, _, b)) = r.kept.pop_front() {
                r.bytes -= b;
            }
        }
        drop(r);
        self.arrived.notify_waiters();
    }

    /// A subscription to the batches published from now on.
    pub fn subscribe(self: &Arc<Self>) -> TailReceiver {
        let mut r = self.ring();
        r.subscribers += 1;
        TailReceiver {
            feed: Arc::clone(self),
            next: r.next_seq,
        }
    }

    /// Ends every subscription (their streams finish) and every later one at once.
    pub fn close(&self) {
        let mut r = self.ring();
        r.closed = true;
        r.kept.clear();
        r.bytes = 0;
        drop(r);
        self.arrived.notify_waiters();
    }
}

/// One subscriber's place in the feed.
#[derive(Debug)]
pub struct TailReceiver {
    feed: Arc<TailFeed>,
    next: u64,
}

impl TailReceiver {
    /// The next batch; `Lagged(n)` when `n` batches were dropped before this
    /// subscriber read them; `Closed` once the feed is closed.
    pub async fn recv(&mut self) -> Result<TailBatch, RecvError> {
        loop {
            let arrived = self.feed.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            {
                let r = self.feed.ring();
                if r.closed {
                    return Err(RecvError::Closed);
                }
                if let Some(&(oldest, _, _)) = r.kept.front() {
                    if self.next < oldest {
                        let missed = oldest - self.next;
                        self.next = oldest;
                        return Err(RecvError::Lagged(missed));
                    }
                    let at = usize::try_from(self.next - oldest).unwrap_or(usize::MAX);
                    if let Some((_, batch, _)) = r.kept.get(at) {
                        self.next += 1;
                        return Ok(Arc::clone(batch));
                    }
                } else if self.next < r.next_seq {
                    // Everything it had not read was dropped.
                    let missed = r.next_seq - self.next;
                    self.next = r.next_seq;
                    return Err(RecvError::Lagged(missed));
                }
            }
            arrived.await;
        }
    }
}

impl Drop for TailReceiver {
    fn drop(&mut self) {
        let mut r = self.feed.ring();
        r.subscribers = r.subscribers.saturating_sub(1);
        if r.subscribers == 0 {
            r.kept.clear();
            r.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, StringArray};
    use arrow::record_batch::RecordBatch;

    fn batch(bytes: usize) -> TailBatch {
        let col: ArrayRef = Arc::new(StringArray::from(vec!["x".repeat(bytes)]));
        Arc::new((
            "t".to_string(),
            RecordBatch::try_from_iter([("body", col)]).unwrap(),
        ))
    }

    #[tokio::test]
    async fn subscribers_read_in_order_and_a_stalled_one_pins_at_most_the_budget() {
        let feed = Arc::new(TailFeed::default());
        feed.publish(batch(10)); // nobody listens: not kept
        let mut fast = feed.subscribe();
        let mut slow = feed.subscribe();
        for _ in 0..3 {
            feed.publish(batch(10));
        }
        for _ in 0..3 {
            assert!(fast.recv().await.is_ok());
        }
        // 100 batches of 1 MiB: the slow subscriber may hold back only the budget.
        for _ in 0..100 {
            feed.publish(batch(1 << 20));
        }
        assert!(feed.ring().bytes <= TAIL_BUFFER_BYTES);
        match slow.recv().await {
            Err(RecvError::Lagged(n)) => assert!(n >= 3 + 100 - 64, "{n}"),
            other => panic!("expected Lagged, got {other:?}"),
        }
        assert!(slow.recv().await.is_ok());
        drop((fast, slow));
        assert_eq!(feed.ring().bytes, 0);
        let mut late = feed.subscribe();
        feed.close();
        assert!(matches!(late.recv().await, Err(RecvError::Closed)));
    }
}
