//! `POST /api/v1/logs`: stdout event streams, a line per event (DESIGN §4). Each line is
//! a JSON object (fields), a logfmt line (fields) or plain text (severity and timestamp
//! detected), see `parse.rs`. Stack traces and panics that span several lines are
//! joined to the event they belong to (`multiline.rs`).
//!
//! What is never lost:
//! - invalid UTF-8 is replaced (U+FFFD) and counted (`invalid_utf8` in the response);
//! - an event longer than the tenant's `limits.max_line_size` (default
//!   [`MAX_EVENT_BYTES`]) is cut there, with a marker naming how many bytes were cut,
//!   and counted (`truncated`);
//! - a line whose time lies before the logs retention or more than a day ahead would be
//!   dropped by retention or sit outside every sensible search: it is stored at the time
//!   it arrived, with the time it claims in the attribute `osprey.original_time`, and
//!   counted (`retimed`). So every accepted line is findable by a search over all time.
//!
//! A body of more than [`crate::limits::MAX_RECORDS`] lines is refused (413) before it
//! is parsed.
//!
//! The service is the event's `service` field, else `?service=`, else `unknown`;
//! `?stream=stdout|stderr` (sent by `osprey run`) becomes the attribute `stream`.

mod fields;
pub(crate) mod multiline;
pub mod parse;

use std::borrow::Cow;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use osprey_storage::Signal;
use osprey_storage::schema::{LogRow, logs_batch};
use serde::{Deserialize, Serialize};

use crate::body::{content_type, decode_content_encoding};
use crate::{IngestError, IngestState};
use osprey_auth::{Rate, RequestContext};

/// Longest event kept whole (bytes of UTF-8).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct LinesParams {
    pub service: Option<String>,
    /// `stdout` or `stderr` (what the capture clients send): an attribute `stream`.
    pub stream: Option<String>,
}

/// What happened to a request's lines.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct LinesOutcome {
    pub accepted: usize,
    pub invalid_utf8: usize,
    pub truncated: usize,
    pub retimed: usize,
}

/// The media types taken as lines. `application/x-www-form-urlencoded` is what
/// `curl --data-binary` sends unless told otherwise: the body is taken as lines all
/// the same, as whoever typed that command meant.
const LINE_TYPES: &str = "lines as application/x-ndjson, application/jsonl, application/json, text/plain, application/octet-stream or application/x-www-form-urlencoded";

fn check_content_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let (ct, mime) = content_type(headers, "");
    match mime.as_str() {
        ""
        | "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/json"
        | "text/plain"
        | "application/octet-stream"
        | "application/x-www-form-urlencoded" => Ok(()),
        _ => Err(IngestError::UnsupportedMediaType {
            got: ct.to_string(),
            expected: LINE_TYPES,
        }),
    }
}

/// Cuts `s` to at most `max` bytes (on a character boundary) and appends a marker.
pub(crate) fn truncate(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = s.len() - cut;
    s.truncate(cut);
    s.push_str(&format!("…[truncated {dropped} bytes]"));
    true
}

/// A record dated before the retention (`retention_ns` before `now_ns`) or more than
/// [`crate::window::MAX_FUTURE`] ahead is moved to `now_ns`, its own time kept in
/// `osprey.original_time`. Returns whether it was moved.
pub(crate) fn retime(row: &mut LogRow, now_ns: i64, retention_ns: i64) -> bool {
    let retention = std::time::Duration::from_nanos(u64::try_from(retention_ns).unwrap_or(0));
    let window = crate::window::Window::new(now_ns, retention);
    let ts = i128::from(row.timestamp_ns);
    if window.contains(ts) {
        return false;
    }
    row.attributes.push((
        crate::window::ORIGINAL_TIME.into(),
        crate::window::rfc3339(ts),
    ));
    row.timestamp_ns = now_ns;
    true
}

/// Turns a body of lines into rows.
pub fn to_rows(
    body: &[u8],
    default_service: &str,
    now_ns: i64,
    retention_ns: i64,
    max_line: usize,
) -> (Vec<LogRow>, LinesOutcome) {
    let mut out = LinesOutcome::default();
    let mut lines = Vec::new();
    for raw in body.split(|b| *b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                out.invalid_utf8 += 1;
                Cow::Owned(String::from_utf8_lossy(raw).into_owned())
            }
        };
        lines.push(line);
    }
    let events = multiline::join(lines);
    let mut rows = Vec::with_capacity(events.len());
    for mut event in events {
        if event.trim().is_empty() {
            continue;
        }
        if event.len() > max_line && truncate(event.to_mut(), max_line) {
            out.truncated += 1;
        }
        let mut row = LogRow {
            service: default_service.to_string(),
            timestamp_ns: now_ns,
            observed_timestamp_ns: now_ns,
            scope: "osprey.lines".into(),
            ..Default::default()
        };
        parse::parse_event(&event, &mut row);
        if row.service.is_empty() {
            row.service = default_service.to_string();
        }
        if retime(&mut row, now_ns, retention_ns) {
            out.retimed += 1;
        }
        rows.push(row);
    }
    out.accepted = rows.len();
    (rows, out)
}

pub async fn handler(
    State(st): State<IngestState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Query(params): Query<LinesParams>,
    body: Bytes,
) -> Response {
    match handle(&st, ctx.tenant(), &headers, &params, body).await {
        Ok(outcome) => (StatusCode::OK, axum::Json(outcome)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    st: &IngestState,
    tenant: &str,
    headers: &HeaderMap,
    params: &LinesParams,
    body: Bytes,
) -> Result<LinesOutcome, IngestError> {
    check_content_type(headers)?;
    let body = decode_content_encoding(headers, body, st.max_body)?;
    st.metrics.bytes(Signal::Logs, body.len() as u64);
    crate::limits::check_lines(&body)?;
    let service = params
        .service
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown");
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let retention =
        i64::try_from(st.storage.retention(Signal::Logs).as_nanos()).unwrap_or(i64::MAX);
    let limits = st.limiter.limits(tenant);
    let (mut rows, outcome) = to_rows(&body, service, now, retention, limits.max_line_size);
    if let Some(stream) = params.stream.as_deref().filter(|s| !s.is_empty()) {
        for r in &mut rows {
            r.attributes.push(("stream".into(), stream.to_string()));
        }
    }
    st.limiter.take(
        tenant,
        &[
            (Rate::Lines, rows.len() as u64),
            (Rate::Bytes, body.len() as u64),
        ],
    )?;
    if !rows.is_empty() {
        st.storage
            .append(tenant, Signal::Logs, logs_batch(&rows)?)
            .await?;
    }
    st.metrics.rows(Signal::Logs, rows.len() as u64, 0);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_341_600_000_000_000;
    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn lines_become_rows_and_nothing_is_lost() {
        let mut body = Vec::new();
        body.extend_from_slice(b"{\"msg\":\"json one\",\"level\":\"info\"}\n");
        body.extend_from_slice(b"plain \xff\xfe bytes\r\n");
        body.extend_from_slice(b"\n");
        body.extend_from_slice(format!("{}\n", "x".repeat(MAX_EVENT_BYTES + 10)).as_bytes());
        body.extend_from_slice(b"2020-01-01T00:00:00Z ERROR ancient\n");
        body.extend_from_slice(b"2099-01-01T00:00:00Z ERROR future\n");
        let (rows, out) = to_rows(&body, "svc", NOW, 7 * DAY, MAX_EVENT_BYTES);
        assert_eq!(
            out,
            LinesOutcome {
                accepted: 5,
                invalid_utf8: 1,
                truncated: 1,
                retimed: 2
            }
        );
        assert_eq!(rows[0].body, "json one");
        assert_eq!(rows[1].body, "plain \u{fffd}\u{fffd} bytes");
        assert!(rows[2].body.ends_with("…[truncated 10 bytes]"));
        assert_eq!(
            rows[2].body.len(),
            MAX_EVENT_BYTES + "…[truncated 10 bytes]".len()
        );
        assert_eq!(rows[3].timestamp_ns, NOW);
        assert_eq!(
            rows[3].attributes,
            vec![(
                "osprey.original_time".to_string(),
                "2020-01-01T00:00:00Z".to_string()
            )]
        );
        assert_eq!(rows[4].timestamp_ns, NOW);
        assert!(rows.iter().all(|r| r.service == "svc"));
    }

    proptest::proptest! {
        /// Whatever bytes arrive, parsing neither panics nor loses a non-blank line.
        #[test]
        fn any_bytes_become_rows(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let (rows, out) = to_rows(&body, "svc", NOW, 7 * DAY, MAX_EVENT_BYTES);
            proptest::prop_assert_eq!(rows.len(), out.accepted);
            // Joining makes fewer events than lines, and something of every non-blank body.
            let non_blank = String::from_utf8_lossy(&body)
                .split('\n')
                .filter(|l| !l.trim().is_empty())
                .count();
            proptest::prop_assert!(rows.len() <= non_blank);
            proptest::prop_assert_eq!(rows.is_empty(), non_blank == 0);
            for r in &rows {
                // Retimed when out of range: every record is within reach of a search.
                proptest::prop_assert!(r.timestamp_ns >= NOW - 7 * DAY && r.timestamp_ns <= NOW + DAY);
            }
        }

        /// Lines built from log-ish pieces (timestamps, levels, JSON, logfmt, traces).
        #[test]
        fn logish_lines_parse(parts in proptest::collection::vec(proptest::sample::select(vec![
            "2026-11-22T10:00:00Z", "[ERROR]", "E1122", "level=warn", "msg=\"x y\"", "{\"ts\":",
            "\"level\":\"info\"}", "\tat x.y(Z.java:1)", "Traceback (most recent call last):",
            "panic: boom", "thread 'main' panicked at x", "Oct 11 22:14:15", "1795341600123",
            "é", "=", "\"", "{", "}", "\n", " ",
        ]), 0..40)) {
            let body = parts.concat();
            let (rows, out) = to_rows(body.as_bytes(), "svc", NOW, 7 * DAY, MAX_EVENT_BYTES);
            proptest::prop_assert_eq!(rows.len(), out.accepted);
        }
    }

    #[test]
    fn truncation_respects_characters() {
        let mut s = "é".repeat(10);
        assert!(truncate(&mut s, 5));
        assert!(s.starts_with("éé…"), "{s}");
        let mut s = "short".to_string();
        assert!(!truncate(&mut s, 5));
    }
}
