//! Request bodies: content type, bounded gzip/snappy decompression.

use std::io::Read;

use axum::http::{HeaderMap, header};

use crate::IngestError;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

/// The `Content-Type` header as sent (`default` when absent) and its media type,
/// lowercased, without parameters.
pub fn content_type<'a>(headers: &'a HeaderMap, default: &'a str) -> (&'a str, String) {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map_or(default, |v| v.to_str().unwrap_or(""));
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (ct, mime)
}

impl Format {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, IngestError> {
        let (ct, mime) = content_type(headers, "");
        match mime.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
            "application/json" => Ok(Format::Json),
            _ => Err(IngestError::UnsupportedMediaType {
                got: ct.to_string(),
                expected: "application/x-protobuf or application/json",
            }),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// Undoes `Content-Encoding: gzip` without letting the result grow past `limit`.
pub fn decode_content_encoding(
    headers: &HeaderMap,
    body: bytes::Bytes,
    limit: u64,
) -> Result<bytes::Bytes, IngestError> {
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match enc.as_str() {
        "" | "identity" => Ok(body),
        "gzip" | "x-gzip" => gunzip(&body, limit).map(bytes::Bytes::from),
        other => Err(IngestError::UnsupportedEncoding {
            got: other.to_string(),
            expected: "gzip or identity",
        }),
    }
}

/// Bounded gzip decompression: at most `limit` bytes of output.
pub fn gunzip(data: &[u8], limit: u64) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(data).take(limit + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| IngestError::BadRequest(format!("invalid gzip body: {e}")))?;
    if out.len() as u64 > limit {
        return Err(IngestError::TooLarge {
            limit,
            context: " after gzip decompression",
        });
    }
    Ok(out)
}

/// Snappy block decompression (remote_write), refusing outputs over `limit`.
pub fn unsnappy(data: &[u8], limit: u64) -> Result<Vec<u8>, IngestError> {
    let len = snap::raw::decompress_len(data)
        .map_err(|e| IngestError::BadRequest(format!("invalid snappy body: {e}")))?;
    if len as u64 > limit {
        return Err(IngestError::TooLarge {
            limit,
            context: " after snappy decompression",
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| IngestError::BadRequest(format!("invalid snappy body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_bounded() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&vec![b'a'; 10_000]).unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(gunzip(&gz, 10_000).unwrap().len(), 10_000);
        assert!(matches!(
            gunzip(&gz, 9_999),
            Err(IngestError::TooLarge { .. })
        ));
        assert!(matches!(
            gunzip(&gz[..gz.len() / 2], 1 << 20),
            Err(IngestError::BadRequest(_))
        ));
    }
}
