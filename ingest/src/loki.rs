//! Loki push: `POST /loki/api/v1/push`, snappy-compressed protobuf `logproto.PushRequest`
//! (the default, what Promtail, Alloy and Fluent Bit send) or JSON
//! (`{"streams":[{"stream":{labels},"values":[["<unix ns>","line",{metadata}]]}]}`,
//! gzip allowed). 204 on success, as Loki answers. The messages are hand-written prost
//! structs (the proto is small and stable; see Loki's `pkg/push/push.proto`).
//!
//! Mapping: the line is the body, verbatim; stream labels become resource attributes and
//! structured metadata record attributes; the service is the `service_name` label
//! (Loki 3), else `service`, `app`, `job`, else `unknown`; the severity comes from a
//! `level`/`detected_level`/`severity` label, else from the line (as `POST
//! /api/v1/logs` detects it). Entries dated before the retention or over a day ahead
//! are stored at arrival time with `osprey.original_time`, as for log lines.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use osprey_storage::Signal;
use osprey_storage::schema::{Attributes, LogRow, logs_batch};
use prost::Message;
use serde_json::Value;

use crate::body::{content_type, decode_content_encoding, unsnappy};
use crate::lines::parse::{parse_event, severity_number};
use crate::{IngestError, IngestState};
use osprey_auth::{Rate, RequestContext};

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// `{name="value", …}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// Bytes, not `string`: a line with invalid UTF-8 is repaired and stored, not a
    /// reason to refuse the whole push.
    #[prost(bytes = "vec", tag = "2")]
    pub line: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPair>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Parses a Prometheus-style label set `{a="x", b="y\"z"}`.
pub fn parse_labels(s: &str) -> Result<Attributes, IngestError> {
    let bad = |why: &str| IngestError::BadRequest(format!("invalid stream labels {s:?}: {why}"));
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(|| bad("expected {name=\"value\", …}"))?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or_else(|| bad("a label has no '='"))?;
        let name = rest[..eq].trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(bad(&format!("invalid label name {name:?}")));
        }
        let after = rest[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| bad("label values must be quoted"))?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => value.push(other),
                    None => return Err(bad("unterminated escape")),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| bad("unterminated label value"))?;
        out.push((name.to_string(), value));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// One stream's entries as rows.
struct Stream {
    labels: Attributes,
    entries: Vec<(i64, String, Attributes)>,
}

fn service_of(labels: &Attributes) -> String {
    for key in ["service_name", "service", "app", "job"] {
        if let Some((_, v)) = labels.iter().find(|(k, v)| k == key && !v.is_empty()) {
            return v.clone();
        }
    }
    "unknown".into()
}

fn level_of_labels(labels: &Attributes) -> Option<(i32, &'static str)> {
    ["level", "detected_level", "severity"]
        .iter()
        .find_map(|key| labels.iter().find(|(k, _)| k == key))
        .and_then(|(_, v)| severity_number(v))
}

fn decode_json(body: &[u8]) -> Result<Vec<Stream>, IngestError> {
    let bad = |why: String| IngestError::BadRequest(format!("invalid Loki push JSON: {why}"));
    crate::limits::check_loki_json(body)?;
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let streams = v
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no \"streams\" array".into()))?;
    let mut out = Vec::with_capacity(streams.len());
    for (si, s) in streams.iter().enumerate() {
        let labels: Attributes = match s.get("stream") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(v) => Ok((k.clone(), v.clone())),
                    _ => Err(bad(format!("streams[{si}].stream.{k} is not a string"))),
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
            Some(_) => return Err(bad(format!("streams[{si}].stream is not an object"))),
        };
        let values = s
            .get("values")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("streams[{si}] has no \"values\" array")))?;
        let mut entries = Vec::with_capacity(values.len());
        for (vi, e) in values.iter().enumerate() {
            let where_ = || format!("streams[{si}].values[{vi}]");
            let arr = e
                .as_array()
                .filter(|a| (2..=3).contains(&a.len()))
                .ok_or_else(|| {
                    bad(format!(
                        "{} must be [\"<unix ns>\", \"line\"(, {{metadata}})]",
                        where_()
                    ))
                })?;
            let ts = arr[0]
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "{}: timestamp must be a string of Unix nanoseconds",
                        where_()
                    ))
                })?;
            let line = arr[1]
                .as_str()
                .ok_or_else(|| bad(format!("{}: the line must be a string", where_())))?;
            let meta: Attributes = match arr.get(2) {
                None => Vec::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), String::from),
                        )
                    })
                    .collect(),
                Some(_) => return Err(bad(format!("{}: metadata must be an object", where_()))),
            };
            entries.push((ts, line.to_string(), meta));
        }
        out.push(Stream { labels, entries });
    }
    Ok(out)
}

/// The streams of a snappy-compressed PushRequest; `invalid_utf8` counts the lines
/// whose invalid UTF-8 was replaced (U+FFFD).
fn decode_protobuf(
    body: &[u8],
    limit: u64,
    invalid_utf8: &mut usize,
) -> Result<Vec<Stream>, IngestError> {
    let raw = unsnappy(body, limit)?;
    crate::limits::check_loki(&raw)?;
    let req = PushRequest::decode(raw.as_slice()).map_err(|e| {
        IngestError::BadRequest(format!("malformed Loki PushRequest protobuf: {e}"))
    })?;
    req.streams
        .into_iter()
        .map(|s| {
            Ok(Stream {
                labels: parse_labels(&s.labels)?,
                entries: s
                    .entries
                    .into_iter()
                    .map(|e| {
                        let ts = e.timestamp.map_or(0, |t| {
                            t.seconds
                                .saturating_mul(1_000_000_000)
                                .saturating_add(i64::from(t.nanos))
                        });
                        let meta = e
                            .structured_metadata
                            .into_iter()
                            .map(|p| (p.name, p.value))
                            .collect();
                        let line = match String::from_utf8(e.line) {
                            Ok(s) => s,
                            Err(bad) => {
                                *invalid_utf8 += 1;
                                String::from_utf8_lossy(bad.as_bytes()).into_owned()
                            }
                        };
                        (ts, line, meta)
                    })
                    .collect(),
            })
        })
        .collect()
}

/// What [`to_rows`] changed: lines moved to now (outside retention or the future
/// window) and lines cut to [`crate::lines::MAX_EVENT_BYTES`].
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    retimed: usize,
    truncated: usize,
}

/// Rows of the decoded streams, and what was changed on the way.
fn to_rows(
    streams: Vec<Stream>,
    now_ns: i64,
    retention_ns: i64,
    max_line: usize,
) -> (Vec<LogRow>, Outcome) {
    let mut rows = Vec::new();
    let mut outcome = Outcome::default();
    for mut s in streams {
        // Loki identifies a stream by its sorted label set.
        s.labels.sort();
        let service = service_of(&s.labels);
        let level = level_of_labels(&s.labels);
        for (ts, mut line, meta) in s.entries {
            if crate::lines::truncate(&mut line, max_line) {
                outcome.truncated += 1;
            }
            // What the line says of itself (severity, ids); its body stays verbatim.
            let mut parsed = LogRow::default();
            parse_event(&line, &mut parsed);
            let (severity_number, severity_text) = match level {
                Some((n, t)) => (n, t.to_string()),
                None => (parsed.severity_number, parsed.severity_text),
            };
            let mut row = LogRow {
                service: service.clone(),
                timestamp_ns: ts,
                observed_timestamp_ns: now_ns,
                severity_text,
                severity_number,
                body: line,
                trace_id: parsed.trace_id,
                span_id: parsed.span_id,
                attributes: meta,
                resource: s.labels.clone(),
                scope: "loki.push".into(),
            };
            if crate::lines::retime(&mut row, now_ns, retention_ns) {
                outcome.retimed += 1;
            }
            rows.push(row);
        }
    }
    (rows, outcome)
}

/// Refuses a push whose entries carry more structured metadata than the tenant's
/// `limits.max_attributes_per_record` (Loki's `max_structured_metadata_entries_count`
/// refuses it too): 400, nothing stored.
fn check_attributes(
    st: &IngestState,
    tenant: &str,
    rows: &[LogRow],
    max: usize,
) -> Result<(), IngestError> {
    let over = rows.iter().find_map(|r| {
        crate::shapes::attributes_problem("an entry's structured metadata", r.attributes.len(), max)
    });
    match over {
        None => Ok(()),
        Some(message) => {
            st.limiter.refused(tenant, "max_attributes_per_record", 1);
            Err(IngestError::Shape {
                limit: "max_attributes_per_record",
                message,
            })
        }
    }
}

/// The rows a push body becomes, as the handler stores them (`json`: the JSON form,
/// else snappy protobuf), without a server: for tools that drive the decoder directly
/// (the fuzz targets in `fuzz/`).
pub fn decode_rows(
    body: &[u8],
    json: bool,
    limit: u64,
    now_ns: i64,
    retention_ns: i64,
) -> Result<Vec<LogRow>, IngestError> {
    let mut invalid_utf8 = 0;
    let streams = if json {
        decode_json(body)?
    } else {
        decode_protobuf(body, limit, &mut invalid_utf8)?
    };
    Ok(to_rows(streams, now_ns, retention_ns, crate::lines::MAX_EVENT_BYTES).0)
}

pub async fn push(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match push_inner(&st, ctx.tenant(), &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn push_inner(
    st: &IngestState,
    tenant: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(), IngestError> {
    let (ct, mime) = content_type(headers, "application/x-protobuf");
    let mut invalid_utf8 = 0usize;
    let bytes;
    let streams = match mime.as_str() {
        "application/json" => {
            let body = decode_content_encoding(headers, body, st.max_body)?;
            bytes = body.len() as u64;
            decode_json(&body)?
        }
        "application/x-protobuf" | "application/protobuf" | "" => {
            bytes = body.len() as u64;
            decode_protobuf(&body, st.max_body, &mut invalid_utf8)?
        }
        _ => {
            return Err(IngestError::UnsupportedMediaType {
                got: ct.to_string(),
                expected: "snappy application/x-protobuf or application/json (Loki push)",
            });
        }
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let retention =
        i64::try_from(st.storage.retention(Signal::Logs).as_nanos()).unwrap_or(i64::MAX);
    st.metrics.bytes(Signal::Logs, bytes);
    let limits = st.limiter.limits(tenant);
    let (rows, outcome) = to_rows(streams, now, retention, limits.max_line_size);
    check_attributes(st, tenant, &rows, limits.max_attributes_per_record)?;
    st.metrics.repaired(invalid_utf8, outcome.truncated);
    st.limiter.take(
        tenant,
        &[(Rate::Lines, rows.len() as u64), (Rate::Bytes, bytes)],
    )?;
    if !rows.is_empty() {
        st.storage
            .append(tenant, Signal::Logs, logs_batch(&rows)?)
            .await?;
    }
    st.metrics.rows(Signal::Logs, rows.len() as u64, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            parse_labels(r#"{job="api", msg="a \"b\"\n", service_name="x"}"#).unwrap(),
            vec![
                ("job".to_string(), "api".to_string()),
                ("msg".into(), "a \"b\"\n".into()),
                ("service_name".into(), "x".into())
            ]
        );
        assert_eq!(parse_labels("{}").unwrap(), vec![]);
        for bad in ["job=\"x\"", "{job=x}", "{1a=\"x\"}", "{a=\"x}", "{a}"] {
            assert!(parse_labels(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_and_protobuf_decode_alike() {
        let now = 1_795_341_600_000_000_000i64;
        let json = format!(
            r#"{{"streams":[{{"stream":{{"service_name":"cart","level":"warn"}},"values":[["{now}","slow {{x}}"],["{}","with meta",{{"user":"alice"}}]]}}]}}"#,
            now + 1
        );
        let from_json = decode_json(json.as_bytes()).unwrap();
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{service_name="cart", level="warn"}"#.into(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: now / 1_000_000_000,
                            nanos: 0,
                        }),
                        line: b"slow {x}".to_vec(),
                        structured_metadata: vec![],
                    },
                    EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: now / 1_000_000_000,
                            nanos: 1,
                        }),
                        line: b"with meta".to_vec(),
                        structured_metadata: vec![LabelPair {
                            name: "user".into(),
                            value: "alice".into(),
                        }],
                    },
                ],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        let from_pb = decode_protobuf(&body, 1 << 20, &mut 0).unwrap();
        let (a, _) = to_rows(
            from_json,
            now,
            86_400_000_000_000,
            crate::lines::MAX_EVENT_BYTES,
        );
        let (b, _) = to_rows(
            from_pb,
            now,
            86_400_000_000_000,
            crate::lines::MAX_EVENT_BYTES,
        );
        assert_eq!(a, b);
        assert_eq!(a[0].service, "cart");
        assert_eq!(
            (a[0].severity_number, a[0].severity_text.as_str()),
            (13, "WARN")
        );
        assert_eq!(
            a[1].attributes,
            vec![("user".to_string(), "alice".to_string())]
        );
        assert_eq!(a[1].timestamp_ns, now + 1);
    }

    #[test]
    fn invalid_utf8_is_repaired_and_long_lines_cut() {
        let now = 1_795_341_600_000_000_000i64;
        let entry = |line: Vec<u8>| EntryAdapter {
            timestamp: Some(Timestamp {
                seconds: now / 1_000_000_000,
                nanos: 0,
            }),
            line,
            structured_metadata: vec![],
        };
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{service_name="cart"}"#.into(),
                entries: vec![
                    entry(b"ok \xff\xfe bytes".to_vec()),
                    entry(vec![b'x'; crate::lines::MAX_EVENT_BYTES + 10]),
                    entry(b"fine".to_vec()),
                ],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        let mut invalid = 0;
        let streams = decode_protobuf(&body, 1 << 22, &mut invalid).unwrap();
        assert_eq!(invalid, 1);
        let (rows, outcome) = to_rows(
            streams,
            now,
            86_400_000_000_000,
            crate::lines::MAX_EVENT_BYTES,
        );
        assert_eq!(rows.len(), 3, "no line is lost");
        assert_eq!(rows[0].body, "ok \u{fffd}\u{fffd} bytes");
        assert!(
            rows[1].body.ends_with("…[truncated 10 bytes]"),
            "{}",
            &rows[1].body[65_530..]
        );
        assert_eq!(rows[2].body, "fine");
        assert_eq!(
            outcome,
            Outcome {
                retimed: 0,
                truncated: 1
            }
        );
    }

    proptest::proptest! {
        /// Arbitrary bodies are refused or decoded, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            let _ = decode_json(&body);
            let snappy = snap::raw::Encoder::new().compress_vec(&body).unwrap_or_default();
            let _ = decode_protobuf(&snappy, 1 << 20, &mut 0);
            let _ = decode_protobuf(&body, 1 << 20, &mut 0);
            if let Ok(s) = std::str::from_utf8(&body) {
                let _ = parse_labels(s);
            }
        }
    }

    #[test]
    fn bad_json_is_named() {
        for (body, want) in [
            ("{", "invalid Loki push JSON"),
            (r#"{"x":1}"#, "no \"streams\""),
            (
                r#"{"streams":[{"values":[["abc","x"]]}]}"#,
                "Unix nanoseconds",
            ),
            (r#"{"streams":[{"values":[["1"]]}]}"#, "must be"),
            (
                r#"{"streams":[{"stream":{"a":1},"values":[]}]}"#,
                "not a string",
            ),
        ] {
            let e = decode_json(body.as_bytes()).err().unwrap().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
    }
}
