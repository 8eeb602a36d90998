//! Loki's query parameters, parsed as Loki 3 parses them (`pkg/loghttp/params.go`):
//! timestamps as RFC 3339, or numbers up to 10^10 as Unix seconds and larger ones as
//! Unix nanoseconds; `since`, `step` and `interval` as Prometheus durations or
//! seconds; `direction` in any case.

use std::collections::HashMap;

use crate::QueryError;

/// Query string and form parameters, the first value of each name.
pub(super) type Params = HashMap<String, String>;

/// Numbers up to this are Unix seconds, larger ones Unix nanoseconds.
const SECONDS_UP_TO: i64 = 10_000_000_000;

fn bad(msg: String) -> QueryError {
    QueryError::BadData(msg)
}

/// A timestamp in Loki's forms (see the module doc), in Unix nanoseconds.
pub(super) fn timestamp(v: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return t
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("timestamp {v:?} out of range"));
    }
    if let Some((high, frac)) = v.split_once('.') {
        let f: f64 = v
            .parse()
            .map_err(|_| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax"))?;
        if !f.is_finite() {
            return Err("floating point timestamp is NaN or Inf".into());
        }
        let high: i64 = high
            .parse()
            .map_err(|_| format!("strconv.ParseFloat: parsing {v:?}: invalid syntax"))?;
        if high > SECONDS_UP_TO {
            return Ok(high);
        }
        // Seconds, the fraction kept to the millisecond.
        let frac: f64 = format!("0.{frac}").parse().unwrap_or(0.0);
        let ms = (frac * 1000.0).round() as i64;
        let sign = if v.starts_with('-') { -1 } else { 1 };
        return Ok(high.saturating_mul(1_000_000_000) + sign * ms * 1_000_000);
    }
    let n: i64 = v
        .parse()
        .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
    Ok(if n <= SECONDS_UP_TO {
        n.saturating_mul(1_000_000_000)
    } else {
        n
    })
}

/// A duration: seconds (`15`, `0.5`) or Prometheus' form (`1m`, `5m30s`), in ns.
pub(super) fn duration(v: &str) -> Result<i64, String> {
    if let Ok(secs) = v.parse::<f64>() {
        let ns = secs * 1e9;
        if !ns.is_finite() || ns.abs() >= i64::MAX as f64 {
            return Err(format!(
                "cannot parse {v:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns.round() as i64);
    }
    promql_parser::util::parse_duration(v)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .ok_or_else(|| format!("cannot parse {v:?} to a valid duration"))
}

/// `start` and `end` with their defaults: `end` = now, `start` = min(end, now) − `since`
/// (default 1 h).
pub(super) fn bounds(p: &Params, now: i64) -> Result<(i64, i64), QueryError> {
    let end = match p.get("end").filter(|v| !v.is_empty()) {
        Some(v) => {
            timestamp(v).map_err(|e| bad(format!("could not parse 'end' parameter: {e}")))?
        }
        None => now,
    };
    let since = match p.get("since").filter(|v| !v.is_empty()) {
        Some(v) => promql_parser::util::parse_duration(v)
            .ok()
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .ok_or_else(|| {
                bad(format!(
                    "could not parse 'since' parameter: not a valid duration string: {v:?}"
                ))
            })?,
        None => 3_600_000_000_000,
    };
    let start = match p.get("start").filter(|v| !v.is_empty()) {
        Some(v) => {
            timestamp(v).map_err(|e| bad(format!("could not parse 'start' parameter: {e}")))?
        }
        None => end.min(now).saturating_sub(since),
    };
    Ok((start, end))
}

/// Most lines one log query may return (Loki's default `max_entries_limit_per_query`).
pub(super) const MAX_ENTRIES: usize = 5000;

/// `limit` (default 100): positive; at most [`MAX_ENTRIES`] for log queries (`log`).
pub(super) fn limit(p: &Params, log: bool) -> Result<usize, QueryError> {
    let n = positive(p, "limit", 100)?;
    if log && n > MAX_ENTRIES {
        return Err(bad(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({n} > {MAX_ENTRIES})"
        )));
    }
    Ok(n)
}

/// A positive count parameter (`limit`, `line_limit`), `default` when absent.
pub(super) fn positive(p: &Params, name: &str, default: usize) -> Result<usize, QueryError> {
    let Some(v) = p.get(name).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let n: i64 = v
        .parse()
        .map_err(|_| bad(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))?;
    if n <= 0 {
        return Err(bad("limit must be a positive value".into()));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `direction`: `true` for forward; backward by default.
pub(super) fn forward(p: &Params) -> Result<bool, QueryError> {
    match p
        .get("direction")
        .map(|d| d.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("") | Some("BACKWARD") => Ok(false),
        Some("FORWARD") => Ok(true),
        Some(_) => Err(bad(format!(
            "invalid direction '{}'",
            p.get("direction").map_or("", String::as_str)
        ))),
    }
}

/// `step` in ns: given, or `max(floor((end − start) / 250 s), 1)` whole seconds.
pub(super) fn step(p: &Params, start: i64, end: i64) -> Result<i64, QueryError> {
    let step = match p.get("step").filter(|v| !v.is_empty()) {
        Some(v) => duration(v).map_err(bad)?,
        None => ((end - start) / 1_000_000_000 / 250).max(1) * 1_000_000_000,
    };
    if step <= 0 {
        return Err(bad(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_lokis_rules() {
        const S: i64 = 1_000_000_000;
        assert_eq!(timestamp("1700000000"), Ok(1_700_000_000 * S));
        assert_eq!(timestamp("9000000000"), Ok(9_000_000_000 * S));
        assert_eq!(
            timestamp("1700000000123456789"),
            Ok(1_700_000_000_123_456_789)
        );
        assert_eq!(timestamp("1700000000.5"), Ok(1_700_000_000 * S + S / 2));
        // Seconds keep milliseconds only.
        assert_eq!(
            timestamp("1700000000.1234"),
            Ok(1_700_000_000 * S + 123_000_000)
        );
        assert_eq!(
            timestamp("2023-11-14T22:13:20.25Z"),
            Ok(1_700_000_000 * S + S / 4)
        );
        assert!(
            timestamp("yesterday")
                .unwrap_err()
                .contains("invalid syntax")
        );
        assert_eq!(duration("1m"), Ok(60 * S));
        assert_eq!(duration("0.5"), Ok(S / 2));
        assert!(duration("5x").is_err());
        let p: Params = [("direction".to_string(), "Forward".to_string())].into();
        assert_eq!(forward(&p).ok(), Some(true));
        let p: Params = [("limit".to_string(), "5001".to_string())].into();
        assert!(limit(&p, true).is_err());
        assert_eq!(limit(&p, false).ok(), Some(5001));
        let none = Params::new();
        assert_eq!(step(&none, 0, 3600 * S).ok(), Some(14 * S));
        assert_eq!(step(&none, 0, 10 * S).ok(), Some(S));
        assert_eq!(bounds(&none, 7200 * S).ok(), Some((3600 * S, 7200 * S)));
    }
}
