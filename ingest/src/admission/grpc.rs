//! Admission on the gRPC listener: a tower layer in front of tonic that reads the
//! request's first five bytes (gRPC's message prefix: a compressed flag and the
//! message length), reserves what that message will take, and answers
//! RESOURCE_EXHAUSTED without reading further when it does not fit. The bytes read
//! are handed on to tonic in front of the rest of the body, unchanged.
//!
//! OTLP's Export calls are unary, so the first message is the request; a compressed
//! one counts as [`COMPRESSION_RATIO`] times its length, capped at
//! `server.max_body_size` as HTTP bodies are.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use tonic::body::Body;

use super::{Admission, COMPRESSION_RATIO};

/// gRPC's length-prefixed message header: 1 flag byte, 4 length bytes (big endian).
const PREFIX: usize = 5;

/// Tower layer for the gRPC listener.
#[derive(Clone)]
pub struct GrpcLayer(pub Admission);

impl<S> tower::Layer<S> for GrpcLayer {
    type Service = GrpcAdmission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAdmission {
            adm: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct GrpcAdmission<S> {
    adm: Admission,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower::Service<http::Request<Body>> for GrpcAdmission<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The service polled ready is the one called, later, once the prefix is read.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let adm = self.adm.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let (prefix, body) = read_prefix(body).await;
            let (ratio, declared) = message_bytes(&prefix, adm.max_body);
            // As on HTTP: the first slice is reserved now, the rest as it arrives.
            match adm.admit_streaming(declared, ratio) {
                Ok(streaming) => {
                    let body = Body::new(streaming.meter(body));
                    let resp = inner.call(http::Request::from_parts(parts, body)).await;
                    if streaming.refused() {
                        return Ok(adm.busy().grpc_status().into_http());
                    }
                    resp
                }
                Err(e) => Ok(e.grpc_status().into_http()),
            }
        })
    }
}

/// Reads until the body has given [`PREFIX`] bytes (or ended, or failed); returns
/// those bytes and a body that yields everything read, then the rest.
async fn read_prefix(mut body: Body) -> (Bytes, Body) {
    let mut head = BytesMut::new();
    let mut read = Vec::new();
    while head.len() < PREFIX {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    head.extend_from_slice(data);
                }
                read.push(Ok(frame));
            }
            Some(Err(e)) => {
                read.push(Err(e));
                break;
            }
            None => break,
        }
    }
    let rest = futures::stream::iter(read).chain(BodyStream::new(body));
    let body = Body::new(UnsyncBoxBody::new(StreamBody::new(rest)));
    (head.freeze(), body)
}

/// The decompressed bytes assumed per byte of the message whose prefix is `head`,
/// and what it will take decompressed (0 when the prefix is incomplete: tonic then
/// refuses the request itself).
fn message_bytes(head: &[u8], max_body: u64) -> (u64, u64) {
    let Some(&[flag, a, b, c, d]) = head.get(..PREFIX) else {
        return (1, 0);
    };
    let len = u64::from(u32::from_be_bytes([a, b, c, d]));
    let ratio = if flag == 1 { COMPRESSION_RATIO } else { 1 };
    (ratio, len.saturating_mul(ratio).min(max_body))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::Full;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    fn grpc_request(flag: u8, claimed: u32, payload: &[u8]) -> http::Request<Body> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&claimed.to_be_bytes());
        bytes.extend_from_slice(payload);
        http::Request::new(Body::new(Full::new(Bytes::from(bytes))))
    }

    #[test]
    fn the_prefix_gives_the_size() {
        assert_eq!(message_bytes(&[0, 0, 1, 0, 0, 9], 1 << 30), (1, 65_536));
        assert_eq!(message_bytes(&[1, 0, 1, 0, 0], 1 << 30), (8, 8 * 65_536));
        assert_eq!(
            message_bytes(&[0, 255, 255, 255, 255], 16 << 20),
            (1, 16 << 20)
        );
        assert_eq!(message_bytes(&[0, 0, 1], 1 << 30), (1, 0));
    }

    /// With 400 KiB of a 1 MiB budget held, a message claiming 200 KiB (800 KiB to
    /// decode) is refused before its body is read; one of 10 KiB is admitted and tonic
    /// gets its bytes unchanged. A fixed reservation could not tell them apart.
    #[tokio::test]
    async fn messages_reserve_by_their_length() {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            osprey_storage::Storage::open(dir.path(), osprey_config::StorageConfig::default())
                .unwrap();
        let adm = Admission::new(storage, 1 << 20, 16 << 20);
        let _held = adm.admit(100 * 1024).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let inner = tower::service_fn(move |req: http::Request<Body>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, std::convert::Infallible>(http::Response::new(bytes.len()))
            }
        });
        let mut svc = GrpcLayer(adm).layer(inner);

        let big = grpc_request(0, 200 * 1024, b"abc");
        let resp = svc.ready().await.unwrap().call(big).await.unwrap();
        let status = tonic::Status::from_header_map(resp.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status.message().contains("in flight"),
            "{}",
            status.message()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let payload = vec![7u8; 10 * 1024];
        let small = grpc_request(0, payload.len() as u32, &payload);
        let resp = svc.ready().await.unwrap().call(small).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(*resp.body(), PREFIX + payload.len());
    }

    /// A message that lies about its length (claims 100 KiB, sends 2 MiB) gets its
    /// first slice, then RESOURCE_EXHAUSTED once what arrives needs more than the
    /// budget has; the reservation is given back.
    #[tokio::test]
    async fn a_message_longer_than_it_claimed_is_refused_as_it_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let storage =
            osprey_storage::Storage::open(dir.path(), osprey_config::StorageConfig::default())
                .unwrap();
        let adm = Admission::new(storage, 4 << 20, 16 << 20);
        let held = adm.admit(256 * 1024).unwrap(); // 1 MiB of 4
        let budget = Arc::clone(&adm.budget);
        let inner = tower::service_fn(move |req: http::Request<Body>| async move {
            let read = req.into_body().collect().await.map(|b| b.to_bytes().len());
            Ok::<_, std::convert::Infallible>(http::Response::new(read.unwrap_or(0)))
        });
        let mut svc = GrpcLayer(adm).layer(inner);
        let liar = grpc_request(0, 100 * 1024, &vec![1u8; 2 << 20]);
        let resp = svc.ready().await.unwrap().call(liar).await.unwrap();
        let status = tonic::Status::from_header_map(resp.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        drop(held);
        assert_eq!(budget.available_permits(), 4 * 1024);
    }
}
