//! Live tail across a cluster (`storage/docs/format/cluster.md`, "Read path"): an
//! ingester streams its tenant's logs batches as it acknowledges them on
//! `GET /internal/v1/tail` (`api/internal.rs`), and a querier's live tail relays every
//! ingester's stream into the feed of that tail ([`relay`]), merged in arrival order.
//!
//! The stream is a sequence of frames: a kind byte, the payload's length (u32, little
//! endian) and the payload: [`BATCH`] (an Arrow IPC stream of one batch in the stored
//! schema), [`LAGGED`] (u64: batches this subscriber skipped on the ingester) or
//! [`KEEPALIVE`] (empty, every [`KEEPALIVE_EVERY`] without logs, so that either side
//! notices the other is gone).

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use osprey_storage::tail::TailFeed;

pub(crate) const BATCH: u8 = 0;
pub(crate) const LAGGED: u8 = 1;
pub(crate) const KEEPALIVE: u8 = 2;

/// How long an ingester's tail stream stays silent at most.
pub(crate) const KEEPALIVE_EVERY: Duration = Duration::from_secs(5);

/// How long a relay waits before it connects again to an ingester whose stream ended.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// How long a new tail waits for each ingester's stream to start before it goes on
/// (a stream that starts later still relays what comes after).
pub(crate) const CONNECT_WITHIN: Duration = Duration::from_secs(2);

/// One frame of the stream.
pub(crate) fn frame(kind: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.extend_from_slice(&[kind]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.freeze()
}

/// The first whole frame of `buf`, taken out of it; `None` until one has arrived.
fn take_frame(buf: &mut BytesMut) -> Option<(u8, Bytes)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let kind = buf[0];
    buf.advance(5);
    Some((kind, buf.split_to(len).freeze()))
}

/// Where a relay connects, and as whom.
pub(crate) struct Peer {
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub token: String,
    pub addr: String,
    pub tenant: String,
}

/// Relays the ingester's stream into `feed` until the feed is not wanted, connecting
/// again after an interruption; `started` is told once the first stream is open (or
/// the first attempt failed).
pub(crate) async fn relay(
    peer: Peer,
    feed: Arc<TailFeed>,
    started: tokio::sync::oneshot::Sender<()>,
) {
    let mut started = Some(started);
    while feed.wanted() {
        if let Err(e) = relay_once(&peer, &feed, &mut started).await {
            tracing::debug!(ingester = %peer.addr, error = %e, "live tail relay interrupted; connecting again");
        }
        if let Some(s) = started.take() {
            let _ = s.send(());
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn relay_once(
    peer: &Peer,
    feed: &TailFeed,
    started: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), String> {
    let req = http::Request::get(format!("http://{}/internal/v1/tail", peer.addr))
        .header("authorization", format!("Bearer {}", peer.token))
        .header("x-scope-orgid", peer.tenant.as_str())
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = peer.client.request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != http::StatusCode::OK {
        return Err(format!("HTTP {}", resp.status()));
    }
    // The ingester subscribed before it answered: from here on nothing is missed.
    if let Some(s) = started.take() {
        let _ = s.send(());
    }
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
        while let Some((kind, payload)) = take_frame(&mut buf) {
            match kind {
                BATCH => {
                    for b in decode(&payload)? {
                        feed.publish(Arc::new((peer.tenant.clone(), b)));
                    }
                }
                LAGGED => {
                    tracing::debug!(ingester = %peer.addr, "live tail: the ingester skipped batches for this relay")
                }
                _ => {}
            }
        }
        if !feed.wanted() {
            return Ok(());
        }
    }
    Err("the ingester ended the stream".into())
}

fn decode(payload: &[u8]) -> Result<Vec<RecordBatch>, String> {
    arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(payload), None)
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_however_the_bytes_are_cut() {
        let stream: Vec<u8> = [
            frame(BATCH, b"first"),
            frame(KEEPALIVE, b""),
            frame(LAGGED, &7u64.to_le_bytes()),
        ]
        .concat();
        for cut in 0..stream.len() {
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for piece in [&stream[..cut], &stream[cut..]] {
                buf.extend_from_slice(piece);
                while let Some(f) = take_frame(&mut buf) {
                    out.push(f);
                }
            }
            assert_eq!(out.len(), 3, "cut at {cut}");
            assert_eq!(out[0], (BATCH, Bytes::from_static(b"first")));
            assert_eq!(out[1], (KEEPALIVE, Bytes::new()));
            assert_eq!(out[2].1.as_ref(), 7u64.to_le_bytes());
            assert!(buf.is_empty());
        }
    }
}
