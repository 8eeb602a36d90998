//! One event from one line (or a joined multi-line event): JSON objects become fields,
//! logfmt lines become fields, plain text gets its severity and timestamp detected.

use std::borrow::Cow;

use osprey_storage::schema::{Attributes, LogRow};
use serde_json::Value;

use super::fields::{Field, json_fields};

/// OTLP severity numbers of the levels (the first of each range).
pub fn severity_number(level: &str) -> Option<(i32, &'static str)> {
    let l = level.trim().to_ascii_uppercase();
    Some(match l.as_str() {
        "TRACE" | "T" | "TRC" => (1, "TRACE"),
        "DEBUG" | "D" | "DBG" => (5, "DEBUG"),
        "INFO" | "I" | "INF" | "INFORMATION" | "NOTICE" => (9, "INFO"),
        "WARN" | "WARNING" | "W" | "WRN" => (13, "WARN"),
        "ERROR" | "ERR" | "E" | "EROR" => (17, "ERROR"),
        "FATAL" | "CRITICAL" | "CRIT" | "F" | "PANIC" | "EMERG" | "ALERT" | "C" => (21, "FATAL"),
        _ => return None,
    })
}

/// Numeric levels of pino and bunyan (10 trace … 60 fatal).
fn numeric_level(n: u64) -> Option<(i32, &'static str)> {
    Some(match n {
        10 => (1, "TRACE"),
        20 => (5, "DEBUG"),
        30 => (9, "INFO"),
        40 => (13, "WARN"),
        50 => (17, "ERROR"),
        60 => (21, "FATAL"),
        _ => return None,
    })
}

const TIME_KEYS: [&str; 4] = ["timestamp", "ts", "time", "@timestamp"];
const LEVEL_KEYS: [&str; 3] = ["level", "severity", "lvl"];
const BODY_KEYS: [&str; 4] = ["message", "msg", "body", "log"];

/// Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude
/// (digits before the point), parsed exactly: `1795341600.25`, `1795341600123`.
pub fn epoch_to_ns(text: &str) -> Option<i64> {
    let (int, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if int.is_empty()
        || int.len() > 19
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Nanoseconds per unit of the integer part.
    let unit: i64 = match int.len() {
        0..=11 => 1_000_000_000,
        12..=14 => 1_000_000,
        15..=17 => 1_000,
        _ => 1,
    };
    let whole: i64 = int.parse::<i64>().ok()?.checked_mul(unit)?;
    let digits = unit.ilog10() as usize;
    let mut f: String = frac.chars().take(digits).collect();
    while f.len() < digits {
        f.push('0');
    }
    let part: i64 = if f.is_empty() { 0 } else { f.parse().ok()? };
    let ns = whole.checked_add(part)?;
    (ns > 0).then_some(ns)
}

/// [`epoch_to_ns`] of an integer, without writing it out first.
fn epoch_int_to_ns(int: u64) -> Option<i64> {
    let digits = int.checked_ilog10().map_or(1, |d| d + 1);
    // Nanoseconds per unit, by digits as in `epoch_to_ns`.
    let unit: i64 = match digits {
        0..=11 => 1_000_000_000,
        12..=14 => 1_000_000,
        15..=17 => 1_000,
        18..=19 => 1,
        _ => return None,
    };
    let ns = i64::try_from(int).ok()?.checked_mul(unit)?;
    (ns > 0).then_some(ns)
}

/// An RFC 3339 / ISO 8601 timestamp (`T` or space; `Z` or offset; no zone = UTC).
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    let s2 = s.replacen(' ', "T", 1);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s2) {
        return t.timestamp_nanos_opt();
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S,%3f",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s2, fmt) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    None
}

/// `[10/Oct/2000:13:55:36 -0700]` (common log format) inside a line.
fn find_clf(line: &str) -> Option<(i64, std::ops::Range<usize>)> {
    let start = line.find('[')?;
    let end = start + line[start..].find(']')?;
    let inner = &line[start + 1..end];
    let t = chrono::DateTime::parse_from_str(inner, "%d/%b/%Y:%H:%M:%S %z").ok()?;
    Some((t.timestamp_nanos_opt()?, start..end + 1))
}

/// `Oct 11 22:14:15` (syslog, no year: the most recent such time not after `now`).
fn parse_syslog(prefix: &str, now_ns: i64) -> Option<i64> {
    use chrono::Datelike;
    let now = chrono::DateTime::from_timestamp_nanos(now_ns);
    let year = now.year();
    for y in [year, year - 1] {
        let s = format!("{y} {prefix}");
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s, "%Y %b %e %H:%M:%S") {
            let ns = t.and_utc().timestamp_nanos_opt()?;
            if ns <= now_ns + 86_400_000_000_000 {
                return Some(ns);
            }
        }
    }
    None
}

/// A syslog priority (`<34>`, and RFC 5424's version `<34>1 `) at the start of a line:
/// its severity (the priority's low three bits) and where it ends.
fn syslog_priority(line: &str) -> Option<((i32, &'static str), usize)> {
    let rest = line.strip_prefix('<')?;
    let close = rest.find('>')?;
    let pri: u16 = rest[..close].parse().ok().filter(|p| *p <= 191)?;
    let mut end = close + 2;
    // RFC 5424: `<PRI>1 ` then an RFC 3339 time.
    if line[end..].starts_with("1 ") {
        end += 2;
    }
    let severity = match pri % 8 {
        0..=2 => (21, "FATAL"),
        3 => (17, "ERROR"),
        4 => (13, "WARN"),
        5 | 6 => (9, "INFO"),
        _ => (5, "DEBUG"),
    };
    Some((severity, end))
}

/// A timestamp at the start of a plain line, and where it ends.
fn leading_timestamp(line: &str, now_ns: i64) -> Option<(i64, usize)> {
    let trimmed = line.trim_start_matches('[');
    let offset = line.len() - trimmed.len();
    // Apache's error log: `[Sun Nov 22 10:00:00.123456 2026]`.
    if line.starts_with('[')
        && let Some(close) = trimmed.find(']')
        && close >= 24
        && let Ok(t) =
            chrono::NaiveDateTime::parse_from_str(&trimmed[..close], "%a %b %d %H:%M:%S%.f %Y")
        && let Some(ns) = t.and_utc().timestamp_nanos_opt()
    {
        return Some((ns, offset + close + 1));
    }
    // nginx's error log and Go's `log` package: `2026/11/22 10:00:00`.
    if trimmed.len() >= 19
        && trimmed.as_bytes()[4] == b'/'
        && trimmed.is_char_boundary(19)
        && let Ok(t) = chrono::NaiveDateTime::parse_from_str(&trimmed[..19], "%Y/%m/%d %H:%M:%S")
        && let Some(ns) = t.and_utc().timestamp_nanos_opt()
    {
        // Go's `log.Lmicroseconds`: `.123456` after the seconds.
        let digits: &str = trimmed[19..]
            .strip_prefix('.')
            .map(|f| &f[..f.bytes().take_while(u8::is_ascii_digit).count()])
            .unwrap_or("");
        let sub: i64 = format!("{:0<9}", &digits[..digits.len().min(9)])
            .parse()
            .unwrap_or(0);
        let mut consumed = offset
            + 19
            + if digits.is_empty() {
                0
            } else {
                digits.len() + 1
            };
        if line[consumed..].starts_with(']') {
            consumed += 1;
        }
        return Some((ns + sub, consumed));
    }
    // ISO: the longest prefix of up to 35 characters that parses.
    let head: String = trimmed.chars().take(35).collect();
    if head.len() >= 19 && head.as_bytes()[4] == b'-' {
        for end in (19..=head.len()).rev() {
            if !head.is_char_boundary(end) {
                continue;
            }
            if let Some(ns) = parse_iso(&head[..end]) {
                let mut consumed = offset + end;
                if line[consumed..].starts_with(']') {
                    consumed += 1;
                }
                return Some((ns, consumed));
            }
        }
    }
    // Syslog: `Oct 11 22:14:15`.
    if trimmed.len() >= 15 && trimmed.as_bytes()[3] == b' ' && trimmed.is_char_boundary(15) {
        let prefix = &trimmed[..15];
        if let Some(ns) = parse_syslog(prefix, now_ns) {
            return Some((ns, offset + 15));
        }
    }
    // Epoch seconds or milliseconds as the first word.
    let word = trimmed.split_whitespace().next()?;
    if word.len() >= 10 && word.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Some((epoch_to_ns(word)?, offset + word.len()));
    }
    None
}

/// Words of times, dates, pids and thread ids (`11-22`, `10:00:00.123`, `1234`).
fn numeric_word(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_digit() || b"-:./#".contains(&b))
}

/// A severity word among the first words of a line: `ERROR`, `[WARN]`, `level=info`,
/// `<E>`, `E1011` (glog), `warn:`. A single letter counts when it is marked (`W:`,
/// `[E]`, `<I>`), or bare after nothing but times and numbers (`10:00:00 E …`,
/// logcat's `11-22 10:00:00.123 1234 1234 W Tag: …`); `after_time` says a timestamp
/// came before `line`. "I went…" is not an INFO line.
fn detect_severity(line: &str, after_time: bool) -> Option<(i32, &'static str)> {
    let words: Vec<&str> = line.split_whitespace().take(8).collect();
    for (i, raw) in words.iter().copied().enumerate().take(6) {
        let w = raw.trim_matches(|c: char| "[]()<>:|,".contains(c));
        if let Some(v) = w
            .strip_prefix("level=")
            .or_else(|| w.strip_prefix("severity="))
        {
            return severity_number(v.trim_matches('"'));
        }
        // Apache's `[module:level]`.
        if raw.starts_with('[')
            && let Some((_, level)) = w.rsplit_once(':')
            && let Some(s) = severity_number(level)
        {
            return Some(s);
        }
        if w.len() == 1 {
            let b = raw.as_bytes();
            let marked = (raw.len() == 3
                && matches!((b[0], b[2]), (b'[', b']') | (b'<', b'>') | (b'(', b')')))
                || (i == 0 && raw.len() == 2 && b[1] == b':');
            let bare = raw.len() == 1
                && w.bytes().all(|c| c.is_ascii_uppercase())
                && (after_time || i > 0)
                && words[..i].iter().all(|p| numeric_word(p))
                // A word must follow: a tag or the message.
                && words.len() > i + 1;
            if !(marked || bare) {
                continue;
            }
            if w == "V" {
                return Some((1, "TRACE")); // logcat's verbose
            }
        }
        if let Some(s) = severity_number(w) {
            return Some(s);
        }
        // glog: `E1011 12:00:00.000000 ...`.
        let b = w.as_bytes();
        if i == 0
            && b.len() >= 5
            && b[0].is_ascii_alphabetic()
            && b[1..5].iter().all(u8::is_ascii_digit)
            && let Some(s) = severity_number(&w[..1])
        {
            return Some(s);
        }
    }
    None
}

/// logfmt: at least two `key=value` pairs, keys plain words. Returns the pairs.
fn logfmt(line: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || "_.-@".contains(c))
        {
            return None;
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(after) = rest.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end?;
            value = after[..end].replace("\\\"", "\"");
            rest = &after[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = &rest[end..];
        }
        out.push((key.to_string(), value));
        rest = rest.trim_start();
    }
    (out.len() >= 2).then_some(out)
}

/// Nested JSON flattened with dots; scalars as text.
fn flatten(prefix: &str, v: &Value, out: &mut Attributes) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// Valid lowercase hex of `len` digits, else empty.
fn hex_id(v: &str, len: usize) -> String {
    let v = v.trim();
    if v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit()) && v.bytes().any(|b| b != b'0') {
        v.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// Fills `row` from a field map (JSON or logfmt): time, level, body, service, ids; the
/// rest become attributes.
/// Returns the key the body came from (`None`: the whole line).
fn apply_fields(
    row: &mut LogRow,
    fields: Vec<(Cow<'_, str>, Field<'_>)>,
    line: &str,
) -> Option<&'static str> {
    let mut body: Option<String> = None;
    // The body is the first of BODY_KEYS the event has (`message` before `log`), not
    // the first in the object's order.
    let body_key = BODY_KEYS
        .iter()
        .copied()
        .find(|b| fields.iter().any(|(k, v)| k == b && !v.is_object()));
    for (k, v) in fields {
        let lk: &str = &k;
        if TIME_KEYS.contains(&lk) {
            let ns = match &v {
                Field::Other(Value::Number(n)) => match n.as_u64() {
                    Some(u) => epoch_int_to_ns(u),
                    None => epoch_to_ns(&n.to_string()),
                },
                Field::Text(s) => parse_iso(s).or_else(|| epoch_to_ns(s)),
                _ => None,
            };
            if let Some(ns) = ns {
                row.timestamp_ns = ns;
                continue;
            }
        } else if LEVEL_KEYS.contains(&lk) {
            let level = match &v {
                Field::Other(Value::Number(n)) => n.as_u64().and_then(numeric_level),
                other => severity_number(&other.text()),
            };
            if let Some((n, t)) = level {
                row.severity_number = n;
                row.severity_text = t.to_string();
                continue;
            }
        } else if lk == "log"
            && let Field::Other(Value::Object(m)) = &v
            && let Some(Value::String(level)) = m.get("level")
            && let Some((n, t)) = severity_number(level)
        {
            // ECS: `{"log":{"level":"error"}}`; the object stays as attributes.
            row.severity_number = n;
            row.severity_text = t.to_string();
        } else if Some(lk) == body_key && body.is_none() {
            body = Some(v.into_text());
            continue;
        } else if lk == "service" || lk == "service.name" {
            row.service = v.into_text();
            continue;
        } else if lk == "trace_id" || lk == "traceId" || lk == "trace.id" {
            row.trace_id = hex_id(&v.text(), 32);
            if !row.trace_id.is_empty() {
                continue;
            }
        } else if lk == "span_id" || lk == "spanId" || lk == "span.id" {
            row.span_id = hex_id(&v.text(), 16);
            if !row.span_id.is_empty() {
                continue;
            }
        }
        match v {
            Field::Text(s) => row.attributes.push((k.into_owned(), s.into_owned())),
            Field::Other(v) => flatten(&k, &v, &mut row.attributes),
        }
    }
    // No message field: the whole line is the body.
    let from = if body.is_some() { body_key } else { None };
    row.body = body.unwrap_or_else(|| line.to_string());
    // No level field: the message may say it (`{"log":"ERROR …"}` from container logs).
    if row.severity_text.is_empty()
        && let Some((n, t)) = detect_severity(&row.body, false)
    {
        row.severity_number = n;
        row.severity_text = t.to_string();
    }
    from
}

/// The program's line inside a runtime wrapper: parsed as a line of its own, with the
/// wrapper's time, stream and Kubernetes names as defaults (a time or severity the
/// line gives wins), the wrapper's attributes first.
fn unwrap_runtime(row: &mut LogRow) {
    let body = std::mem::take(&mut row.body);
    let wrapper_attrs = std::mem::take(&mut row.attributes);
    let wrapper_severity = (row.severity_number, std::mem::take(&mut row.severity_text));
    row.severity_number = 0;
    parse_at(&body, row, false);
    let inner = std::mem::replace(&mut row.attributes, wrapper_attrs);
    row.attributes.extend(inner);
    if row.severity_text.is_empty() {
        (row.severity_number, row.severity_text) = wrapper_severity;
    }
}

/// Parses one event. `row` arrives with the defaults (service, observed time, event time
/// = observed time) and leaves with what the line says.
pub fn parse_event(line: &str, row: &mut LogRow) {
    parse_at(line, row, true);
}

/// [`parse_event`]; `unwrap` says whether a container runtime's wrapper (`{"log":…}`
/// from Docker's json-file or `osprey tail`) may be opened to parse the program's
/// line inside it (once: the inner line is not unwrapped again).
fn parse_at(line: &str, row: &mut LogRow, unwrap: bool) {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{')
        && let Ok(fields) =
            json_fields(trimmed.lines().next().unwrap_or("")).or_else(|_| json_fields(trimmed))
    {
        let from = apply_fields(row, fields, line);
        // A JSON event that continues on later lines (a stack trace joined to it).
        if let Some((_, rest)) = trimmed.split_once('\n')
            && serde_json::from_str::<Value>(trimmed).is_err()
        {
            row.body.push('\n');
            row.body.push_str(rest);
        }
        if unwrap && from == Some("log") {
            unwrap_runtime(row);
        }
        return;
    }
    let first = line.lines().next().unwrap_or("");
    if let Some(pairs) = logfmt(first) {
        let fields = pairs
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), Field::Text(Cow::Owned(v))))
            .collect();
        apply_fields(row, fields, line);
        if let Some((_, rest)) = line.split_once('\n') {
            row.body.push('\n');
            row.body.push_str(rest);
        }
        return;
    }
    row.body = line.to_string();
    let mut rest = first;
    let mut severity = None;
    if let Some((s, end)) = syslog_priority(rest) {
        severity = Some(s);
        rest = &rest[end..];
    }
    let mut after_time = false;
    if let Some((ns, end)) = leading_timestamp(rest, row.observed_timestamp_ns) {
        row.timestamp_ns = ns;
        rest = &rest[end..];
        after_time = true;
    } else if let Some((ns, _)) = find_clf(first) {
        row.timestamp_ns = ns;
    }
    if let Some((n, t)) = severity.or_else(|| detect_severity(rest, after_time)) {
        row.severity_number = n;
        row.severity_text = t.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// An integer time reads as its decimal text does.
        #[test]
        fn integer_times_read_as_their_text(n in proptest::prelude::any::<u64>(), digits in 0u32..21) {
            let n = n % 10u64.saturating_pow(digits).max(1);
            proptest::prop_assert_eq!(epoch_int_to_ns(n), epoch_to_ns(&n.to_string()));
        }
    }

    fn parse(line: &str) -> LogRow {
        let mut row = LogRow {
            service: "svc".into(),
            timestamp_ns: 7,
            observed_timestamp_ns: 1_800_000_000_000_000_000,
            ..Default::default()
        };
        parse_event(line, &mut row);
        row
    }

    #[test]
    fn json_events() {
        let r = parse(
            r#"{"ts":"2026-11-22T10:00:00.5Z","level":"warn","msg":"disk low","service":"db","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00f067aa0ba902b7","disk":{"free":12,"mount":"/var"},"ok":true}"#,
        );
        assert_eq!(r.timestamp_ns, 1_795_341_600_500_000_000);
        assert_eq!((r.severity_number, r.severity_text.as_str()), (13, "WARN"));
        assert_eq!(r.body, "disk low");
        assert_eq!(r.service, "db");
        assert_eq!(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(r.span_id, "00f067aa0ba902b7");
        assert_eq!(
            r.attributes,
            vec![
                ("disk.free".to_string(), "12".to_string()),
                ("disk.mount".into(), "/var".into()),
                ("ok".into(), "true".into())
            ]
        );
        // Epoch numbers of each magnitude.
        for (v, want) in [
            ("1795341600", 1_795_341_600_000_000_000i64),
            ("1795341600.25", 1_795_341_600_250_000_000),
            ("1795341600123", 1_795_341_600_123_000_000),
            ("1795341600123456789", 1_795_341_600_123_456_789),
        ] {
            let r = parse(&format!(r#"{{"time":{v},"message":"m"}}"#));
            assert_eq!(r.timestamp_ns, want, "{v}");
        }
        // No message: the line is the body; a bad id stays an attribute.
        let r = parse(r#"{"trace_id":"xyz","n":1}"#);
        assert_eq!(r.body, r#"{"trace_id":"xyz","n":1}"#);
        assert!(r.trace_id.is_empty());
        assert!(r.attributes.contains(&("trace_id".into(), "xyz".into())));
        assert_eq!(r.timestamp_ns, 7, "no time field: the default stays");
    }

    #[test]
    fn odd_input_never_panics() {
        let samples = [
            "é1234 x",
            "ééééééééééééééééééé",
            "Ωct 11 22:14:15 x",
            "2026-ü1-22T10:00:00Z x",
            "{",
            "{\"ts\":",
            "a=",
            "=b",
            "a=\"unterminated",
            "[",
            "[]",
            "[é]",
            "\u{0}",
            "1234567890123456789012345 x",
            "99999999999999999999.5 x",
            "0000000000 x",
            "{\"time\":-5,\"msg\":1}",
            "{\"time\":1e400}",
            "E1234",
            "Eé234 x",
        ];
        for s in samples {
            let r = parse(s);
            assert!(!r.body.is_empty() || s.is_empty());
        }
    }

    #[test]
    fn logfmt_lines() {
        let r = parse(r#"time=2026-11-22T10:00:00Z level=error msg="payment \"failed\"" order=17"#);
        assert_eq!(r.timestamp_ns, 1_795_341_600_000_000_000);
        assert_eq!(r.severity_text, "ERROR");
        assert_eq!(r.body, r#"payment "failed""#);
        assert_eq!(r.attributes, vec![("order".to_string(), "17".to_string())]);
    }

    #[test]
    fn plain_text_severity_and_time() {
        let cases: &[(&str, Option<&str>, Option<i64>)] = &[
            (
                "2026-11-22T10:00:00Z ERROR boom",
                Some("ERROR"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                "2026-11-22 10:00:00.250 [WARN] slow",
                Some("WARN"),
                Some(1_795_341_600_250_000_000),
            ),
            (
                "[2026-11-22T10:00:00+01:00] [info] started",
                Some("INFO"),
                Some(1_795_338_000_000_000_000),
            ),
            (
                "E1122 10:00:00.000000 1 main.go:10] bad",
                Some("ERROR"),
                None,
            ),
            ("W: careful", Some("WARN"), None),
            ("DEBUG something", Some("DEBUG"), None),
            ("CRITICAL: down", Some("FATAL"), None),
            (
                "1795341600 info epoch line",
                Some("INFO"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                "1795341600123 trace ms line",
                Some("TRACE"),
                Some(1_795_341_600_123_000_000),
            ),
            ("just some text with a word like I in it", None, None),
            ("I think therefore I am", None, None),
            ("[E] bracketed letter", Some("ERROR"), None),
            (
                "2026-11-22T10:00:00Z E something broke",
                Some("ERROR"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                "11-22 10:00:00.123  1234  1234 W ActivityManager: slow",
                Some("WARN"),
                None,
            ),
            ("11-22 10:00:00.123 1 2 V Tag: chatty", Some("TRACE"), None),
            ("app [W] careful", Some("WARN"), None),
            ("ERR connection refused", Some("ERROR"), None),
            ("FATAL out of memory", Some("FATAL"), None),
            ("I: informed", Some("INFO"), None),
            ("D: debugging", Some("DEBUG"), None),
            ("10 E", None, None),
            (
                "<165>1 2026-11-22T10:00:00.003Z host app 123 ID47 - started",
                Some("INFO"),
                Some(1_795_341_600_003_000_000),
            ),
            (
                "<11>1 2026-11-22T10:00:00Z host app - - - failed",
                Some("ERROR"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                "2026/11/22 10:00:00 [error] 1234#0: *5 open() failed",
                Some("ERROR"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                "2026/11/22 10:00:00.250000 server started",
                None,
                Some(1_795_341_600_250_000_000),
            ),
            (
                "[Sun Nov 22 10:00:00.123456 2026] [proxy:error] [pid 12:tid 34] AH01102: bad",
                Some("ERROR"),
                Some(1_795_341_600_123_456_000),
            ),
            (
                "[Sun Nov 22 10:00:00 2026] [core:warn] [pid 12] AH00098: pid file overwritten",
                Some("WARN"),
                Some(1_795_341_600_000_000_000),
            ),
            (
                r#"127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12"#,
                None,
                Some(1_795_341_600_000_000_000),
            ),
        ];
        for (line, sev, ts) in cases {
            let r = parse(line);
            assert_eq!(r.body, *line);
            assert_eq!(
                (!r.severity_text.is_empty()).then_some(r.severity_text.as_str()),
                *sev,
                "{line}"
            );
            assert_eq!(r.timestamp_ns, ts.unwrap_or(7), "{line}");
        }
        // Syslog: the year is the latest one not in the future.
        let r = parse("Nov 22 10:00:00 host sshd[1]: error: auth failed");
        assert_eq!(r.timestamp_ns, 1_795_341_600_000_000_000);
        assert_eq!(r.severity_text, "ERROR");
        // With a priority: its severity (34 = auth.crit), the same time.
        let r = parse("<34>Nov 22 10:00:00 host su: 'su root' failed");
        assert_eq!(r.timestamp_ns, 1_795_341_600_000_000_000);
        assert_eq!(r.severity_text, "FATAL");
        // JSON: numeric levels (pino, bunyan), ECS's log.level, message before log.
        let r = parse(r#"{"level":50,"time":1795341600000,"msg":"db down","pid":7}"#);
        assert_eq!(
            (r.severity_text.as_str(), r.body.as_str()),
            ("ERROR", "db down")
        );
        let r = parse(r#"{"log":{"level":"warn","logger":"x"},"message":"slow"}"#);
        assert_eq!(
            (r.severity_text.as_str(), r.body.as_str()),
            ("WARN", "slow")
        );
        assert!(r.attributes.contains(&("log.logger".into(), "x".into())));
        let r = parse(r#"{"log":"raw","message":"parsed"}"#);
        assert_eq!(r.body, "parsed");
        assert!(r.attributes.contains(&("log".into(), "raw".into())));
    }

    #[test]
    fn container_wrappers_are_opened() {
        // JSON inside Docker's json-file: the program's fields, the wrapper's stream.
        let r = parse(
            r#"{"log":"{\"level\":\"error\",\"msg\":\"db down\",\"user\":\"a\"}\n","stream":"stderr","time":"2026-11-22T10:00:00Z"}"#,
        );
        assert_eq!(
            (r.severity_text.as_str(), r.body.as_str()),
            ("ERROR", "db down")
        );
        assert_eq!(r.timestamp_ns, 1_795_341_600_000_000_000);
        assert_eq!(
            r.attributes,
            vec![
                ("stream".to_string(), "stderr".to_string()),
                ("user".into(), "a".into())
            ]
        );
        // logfmt inside.
        let r = parse(r#"{"log":"level=warn msg=slow ms=1200","stream":"stdout"}"#);
        assert_eq!(
            (r.severity_text.as_str(), r.body.as_str()),
            ("WARN", "slow")
        );
        assert!(r.attributes.contains(&("ms".into(), "1200".into())));
        // Plain text inside: its own time wins over the runtime's.
        let r =
            parse(r#"{"log":"2026-11-22T10:00:05Z INFO started","time":"2026-11-22T10:00:06Z"}"#);
        assert_eq!(r.timestamp_ns, 1_795_341_605_000_000_000);
        assert_eq!(
            (r.severity_text.as_str(), r.body.as_str()),
            ("INFO", "2026-11-22T10:00:05Z INFO started")
        );
        // A message key is not a wrapper: its text stays as it is.
        let r = parse(r#"{"message":"level=warn msg=x"}"#);
        assert_eq!(r.body, "level=warn msg=x");
    }
}
