//! An HTTP body that takes its share of the in-flight budget as its bytes arrive.
//!
//! Admission reserves only a first slice of a request's share before its body is read
//! ([`super::FIRST_BYTES`]); each frame then reserves [`super::DECODE_FACTOR`] times
//! what it brings (times the assumed compression ratio for an encoded body). So a
//! client that declares a large body and sends it slowly holds what it has sent, not
//! what it promised. When the budget cannot grow, the body is refused: the rest of it
//! is read and dropped (closing with unread bytes would reset the connection and lose
//! the answer), then the body fails, and the middleware answers 429 whatever the
//! handler made of the failed read. The reservation outlives the body: it is held
//! until the answer is made, through decoding.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a request holds of the budget, shared by its body and the middleware.
#[derive(Clone)]
pub(super) struct Reservation {
    held: Arc<Mutex<OwnedSemaphorePermit>>,
    refused: Arc<AtomicBool>,
}

impl Reservation {
    pub(super) fn new(first: OwnedSemaphorePermit) -> Self {
        Self {
            held: Arc::new(Mutex::new(first)),
            refused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the body could not get its share.
    pub(super) fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    fn held_kib(&self) -> u32 {
        self.held
            .lock()
            .map_or(0, |p| u32::try_from(p.num_permits()).unwrap_or(u32::MAX))
    }

    fn add(&self, more: OwnedSemaphorePermit) {
        if let Ok(mut p) = self.held.lock() {
            p.merge(more);
        }
    }
}

/// A request admitted with the first slice of its share: its body, metered, takes
/// the rest as it arrives ([`Admission::admit_streaming`](super::Admission)).
pub(super) struct Streaming {
    pub(super) budget: Arc<Semaphore>,
    pub(super) rate: Rate,
    pub(super) reservation: Reservation,
}

impl Streaming {
    /// `body`, taking its share as its bytes arrive.
    pub(super) fn meter<B>(&self, body: B) -> MeteredBody<B> {
        MeteredBody::new(
            body,
            Arc::clone(&self.budget),
            self.rate,
            self.reservation.clone(),
        )
    }

    /// Whether the body could not get its share (the answer is then a refusal).
    pub(super) fn refused(&self) -> bool {
        self.reservation.refused()
    }
}

/// How a body's bytes turn into budget.
#[derive(Clone, Copy)]
pub(super) struct Rate {
    /// Decompressed bytes assumed per received byte.
    pub ratio: u64,
    /// Most decompressed bytes a body counts for (`server.max_body_size`).
    pub max_body: u64,
    /// The whole budget in KiB: one request never reserves more.
    pub limit_kib: u32,
}

impl Rate {
    /// KiB of budget for `received` bytes of body.
    pub(super) fn kib_for(self, received: u64) -> u32 {
        let decoded = received.saturating_mul(self.ratio).min(self.max_body);
        let kib = decoded.saturating_mul(super::DECODE_FACTOR).div_ceil(1024);
        u32::try_from(kib)
            .unwrap_or(u32::MAX)
            .clamp(1, self.limit_kib)
    }
}

/// `B` is axum's body on the HTTP listeners, tonic's on the gRPC one.
pub(super) struct MeteredBody<B> {
    inner: B,
    budget: Arc<Semaphore>,
    rate: Rate,
    reservation: Reservation,
    received: u64,
    /// Refused: the rest is read and dropped.
    draining: bool,
}

impl<B> MeteredBody<B> {
    fn new(inner: B, budget: Arc<Semaphore>, rate: Rate, reservation: Reservation) -> Self {
        Self {
            inner,
            budget,
            rate,
            reservation,
            received: 0,
            draining: false,
        }
    }

    /// Grows the reservation to cover what has arrived; false when it cannot.
    fn reserve_received(&mut self) -> bool {
        let want = self.rate.kib_for(self.received);
        let held = self.reservation.held_kib();
        if want <= held {
            return true;
        }
        match Arc::clone(&self.budget).try_acquire_many_owned(want - held) {
            Ok(more) => {
                self.reservation.add(more);
                true
            }
            Err(_) => false,
        }
    }

    fn refusal() -> BoxError {
        "ingest is busy: the request's body could not get its share of server.ingest_inflight_limit"
            .into()
    }
}

impl<B> http_body::Body for MeteredBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(None) if this.draining => {
                    return Poll::Ready(Some(Err(Self::refusal())));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Pending => return Poll::Pending,
            };
            let len = frame.data_ref().map_or(0, |d| d.len() as u64);
            this.received = this.received.saturating_add(len);
            if this.draining {
                // Dropped; the handler's own size limit does not see these bytes.
                if this.received > this.rate.max_body.saturating_mul(2) {
                    return Poll::Ready(Some(Err(Self::refusal())));
                }
                continue;
            }
            if this.reserve_received() {
                return Poll::Ready(Some(Ok(frame)));
            }
            this.reservation.refused.store(true, Ordering::SeqCst);
            this.draining = true;
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.draining && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
