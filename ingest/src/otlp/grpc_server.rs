//! How the OTLP Export methods are served over gRPC. tonic's generated servers answer
//! INTERNAL for a message that does not decode (its prost codec), OUT_OF_RANGE for
//! one over the size limit and RESOURCE_EXHAUSTED for one that decompresses past it:
//! codes OTLP exporters retry, so a bad request came back forever. Here a call's
//! message is read whole (never more than the limit), its gRPC framing checked, gzip
//! undone (bounded), its records counted (`limits.rs`), and only then handed to
//! tonic, with [`OtlpCodec`], whose decoder answers INVALID_ARGUMENT. Every fault of
//! the request is INVALID_ARGUMENT naming it; RESOURCE_EXHAUSTED stays for overload.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use prost::Message;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::IngestError;
use crate::limits::{self, Kind};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A request message as the codec hands it over: prost messages decoded, or
/// [`RawMessage`] left as the bytes that arrived.
pub trait FromMessage: Sized {
    fn from_message(bytes: Bytes) -> Result<Self, prost::DecodeError>;
}

impl<M: Message + Default> FromMessage for M {
    fn from_message(bytes: Bytes) -> Result<Self, prost::DecodeError> {
        M::decode(bytes)
    }
}

/// A request message undecoded, for a handler that reads the wire itself
/// (`traces_wire.rs`).
pub struct RawMessage(pub Bytes);

impl FromMessage for RawMessage {
    fn from_message(bytes: Bytes) -> Result<Self, prost::DecodeError> {
        Ok(Self(bytes))
    }
}

/// One OTLP Export method: its messages and its handler.
pub trait Export: Clone + Send + Sync + 'static {
    type Req: FromMessage + Send + 'static;
    type Resp: Message + Send + 'static;
    /// The gRPC service's full name.
    const SERVICE: &'static str;
    /// The request message's name, for error messages.
    const REQUEST: &'static str;
    const KIND: Kind;
    fn export(&self, req: Request<Self::Req>) -> BoxFuture<Result<Response<Self::Resp>, Status>>;
}

/// The gRPC frame header: a compression flag and the message's big-endian length.
const HEADER: usize = 5;

/// A tonic service for one [`Export`], accepting messages up to `limit` bytes
/// (before and after gzip).
#[derive(Clone)]
pub struct ExportServer<E> {
    export: E,
    limit: usize,
}

impl<E: Export> ExportServer<E> {
    pub fn new(export: E, limit: usize) -> Self {
        Self { export, limit }
    }

    async fn serve(self, req: http::Request<Body>) -> http::Response<Body> {
        if !req.uri().path().ends_with("/Export") {
            return Status::unimplemented(format!("{} has one method: Export", E::SERVICE))
                .into_http();
        }
        let (mut parts, body) = req.into_parts();
        let message = match self.read_message(&parts.headers, body).await {
            Ok(m) => m,
            Err(e) => return fail(e).into_http(),
        };
        if let Err(e) = limits::check_protobuf(E::KIND, &message) {
            return fail(e).into_http();
        }
        // Handed on uncompressed, in one frame that is known to be whole.
        parts.headers.remove("grpc-encoding");
        let mut framed = BytesMut::with_capacity(HEADER + message.len());
        framed.put_u8(0);
        framed.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
        framed.put_slice(&message);
        drop(message);
        let req = http::Request::from_parts(parts, http_body_util::Full::new(framed.freeze()));
        let mut grpc = Grpc::new(OtlpCodec::<E>(PhantomData))
            .send_compressed(CompressionEncoding::Gzip)
            .apply_max_message_size_config(Some(self.limit), None);
        grpc.unary(Method(self.export), req).await
    }

    /// The call's one message, uncompressed: at most `limit` bytes, framed as gRPC
    /// frames it.
    async fn read_message(
        &self,
        headers: &http::HeaderMap,
        mut body: Body,
    ) -> Result<Bytes, IngestError> {
        let too_large = |context| IngestError::TooLarge {
            limit: self.limit as u64,
            context,
        };
        let mut buf = BytesMut::new();
        let mut declared: Option<(u8, usize)> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|s| {
                IngestError::BadRequest(format!("reading the request: {}", s.message()))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            if declared.is_none() && buf.len() >= HEADER {
                let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                if len > self.limit {
                    return Err(IngestError::TooLarge {
                        limit: self.limit as u64,
                        context: " (gRPC message; server.max_body_size): send smaller batches",
                    });
                }
                declared = Some((buf[0], len));
            }
            if buf.len() > self.limit.saturating_add(HEADER) {
                return Err(too_large(" (gRPC request; server.max_body_size)"));
            }
        }
        let Some((flag, len)) = declared else {
            return Err(IngestError::BadRequest(format!(
                "no {} message in the request ({} bytes; a gRPC message has a 5-byte header)",
                E::REQUEST,
                buf.len()
            )));
        };
        let got = buf.len() - HEADER;
        if got < len {
            return Err(IngestError::BadRequest(format!(
                "truncated gRPC message: {got} of its {len} bytes arrived"
            )));
        }
        if got > len {
            return Err(IngestError::BadRequest(format!(
                "more than one message in a unary call ({} bytes after the first)",
                got - len
            )));
        }
        let message = buf.freeze().slice(HEADER..);
        match flag {
            0 => Ok(message),
            1 => {
                let encoding = headers
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !encoding.eq_ignore_ascii_case("gzip") {
                    return Err(IngestError::UnsupportedEncoding {
                        got: encoding.to_string(),
                        expected: "gzip or identity (grpc-encoding)",
                    });
                }
                let out =
                    crate::body::gunzip(&message, self.limit as u64).map_err(|e| match e {
                        IngestError::TooLarge { .. } => too_large(
                            " after gzip decompression (gRPC message; server.max_body_size)",
                        ),
                        other => other,
                    })?;
                Ok(Bytes::from(out))
            }
            f => Err(IngestError::BadRequest(format!(
                "invalid gRPC compression flag {f}; expected 0 or 1"
            ))),
        }
    }
}

fn fail(e: IngestError) -> Status {
    if e.is_server_fault() {
        tracing::error!(error = %e, "OTLP/gRPC ingest failed");
    }
    e.grpc_status()
}

impl<E: Export> NamedService for ExportServer<E> {
    const NAME: &'static str = E::SERVICE;
}

impl<E: Export> tower::Service<http::Request<Body>> for ExportServer<E> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.serve(req).await) })
    }
}

/// The handler, as tonic calls it.
struct Method<E>(E);

impl<E: Export> UnaryService<E::Req> for Method<E> {
    type Response = E::Resp;
    type Future = BoxFuture<Result<Response<E::Resp>, Status>>;

    fn call(&mut self, request: Request<E::Req>) -> Self::Future {
        self.0.export(request)
    }
}

/// Prost encoding and decoding, a message that does not decode being the client's
/// fault (INVALID_ARGUMENT), not the server's (tonic's prost codec says INTERNAL).
pub struct OtlpCodec<E>(PhantomData<E>);

impl<E: Export> Codec for OtlpCodec<E> {
    type Encode = E::Resp;
    type Decode = E::Req;
    type Encoder = OtlpEncoder<E::Resp>;
    type Decoder = OtlpDecoder<E>;

    fn encoder(&mut self) -> Self::Encoder {
        OtlpEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        OtlpDecoder(PhantomData)
    }
}

pub struct OtlpEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for OtlpEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

pub struct OtlpDecoder<E>(PhantomData<E>);

impl<E: Export> Decoder for OtlpDecoder<E> {
    type Item = E::Req;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<E::Req>, Status> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        E::Req::from_message(bytes)
            .map(Some)
            .map_err(|e| malformed::<E>(&e))
    }
}

/// The answer to a message that does not decode.
pub fn malformed<E: Export>(e: &prost::DecodeError) -> Status {
    Status::invalid_argument(format!("malformed protobuf {}: {e}", E::REQUEST))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
    };
    use std::io::Write;

    #[derive(Clone)]
    struct Accept;

    impl Export for Accept {
        type Req = ExportLogsServiceRequest;
        type Resp = ExportLogsServiceResponse;
        const SERVICE: &'static str = "test.Logs";
        const REQUEST: &'static str = "ExportLogsServiceRequest";
        const KIND: Kind = Kind::Logs;

        fn export(
            &self,
            _req: Request<ExportLogsServiceRequest>,
        ) -> BoxFuture<Result<Response<ExportLogsServiceResponse>, Status>> {
            Box::pin(async { Ok(Response::new(ExportLogsServiceResponse::default())) })
        }
    }

    fn frame(flag: u8, declared: usize, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![flag];
        f.extend_from_slice(&u32::try_from(declared).unwrap().to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// The call's grpc-status (0 when the answer is not an error) and message.
    async fn call(body: Vec<u8>, gzip: bool) -> (i32, String) {
        let mut req = http::Request::builder()
            .uri("/test.Logs/Export")
            .header("content-type", "application/grpc");
        if gzip {
            req = req.header("grpc-encoding", "gzip");
        }
        let req = req
            .body(Body::new(http_body_util::Full::new(Bytes::from(body))))
            .unwrap();
        let resp = ExportServer::new(Accept, 1024).serve(req).await;
        let h = resp.headers();
        let code = h
            .get("grpc-status")
            .map_or(0, |v| v.to_str().unwrap().parse().unwrap());
        let msg = h
            .get("grpc-message")
            .map(|v| percent_decode(v.to_str().unwrap()))
            .unwrap_or_default();
        (code, msg)
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    const INVALID_ARGUMENT: i32 = tonic::Code::InvalidArgument as i32;

    #[tokio::test]
    async fn every_fault_of_the_framing_is_invalid_argument() {
        let good = ExportLogsServiceRequest::default().encode_to_vec();
        assert_eq!(call(frame(0, good.len(), &good), false).await.0, 0);
        let cases: Vec<(Vec<u8>, bool, &str)> = vec![
            (vec![0, 0], false, "no ExportLogsServiceRequest message"),
            (
                frame(0, 10, b"abc"),
                false,
                "truncated gRPC message: 3 of its 10 bytes",
            ),
            (
                frame(0, 1, b"ab"),
                false,
                "more than one message in a unary call",
            ),
            (frame(2, 0, b""), false, "invalid gRPC compression flag 2"),
            (frame(1, 0, b""), false, "unsupported content encoding"),
            (
                frame(0, 2000, b""),
                false,
                "exceeds the limit of 1024 bytes (gRPC message",
            ),
            (
                frame(0, 3, b"\xff\xff\xff"),
                false,
                "malformed protobuf ExportLogsServiceRequest",
            ),
        ];
        for (body, gzip, want) in cases {
            let (code, msg) = call(body, gzip).await;
            assert_eq!(code, INVALID_ARGUMENT, "{want}: {msg}");
            assert!(msg.contains(want), "{want}: {msg}");
        }
        // A gzip bomb: refused once it decompresses past the limit.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[0u8; 4096]).unwrap();
        let gz = e.finish().unwrap();
        let (code, msg) = call(frame(1, gz.len(), &gz), true).await;
        assert_eq!(code, INVALID_ARGUMENT);
        assert!(msg.contains("after gzip decompression"), "{msg}");
    }
}
