//! Times: `now`, `date`, `toDate`, `toDateInZone`, `unixEpoch…`, `unixToTime` and the
//! line's `__timestamp__`, with Go's layouts (`gotemplate::gotime`). Osprey's server
//! zone is UTC, so Go's `Local` is UTC here.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gotmpl::Value;

use super::super::args::{R, calling, string, text, time, want};
use super::Funcs;
use crate::gotemplate::{as_time, gotime, time_value};

pub(super) fn register(f: &mut Funcs) {
    f.add("now", |a| {
        want("now", a, 0)?;
        Ok(time_value(Utc::now()))
    });
    f.add("date", |a| {
        want("date", a, 2)?;
        let layout = string(a, 0)?;
        // sprig formats the current time for anything but a time or seconds.
        let t = match &a[1] {
            Value::Int(s) => DateTime::from_timestamp(*s, 0).unwrap_or_else(Utc::now),
            v => as_time(v).unwrap_or_else(Utc::now),
        };
        text(gotime::format(layout, t))
    });
    f.add("toDate", |a| {
        want("toDate", a, 2)?;
        let t = gotime::parse(string(a, 0)?, string(a, 1)?, chrono_tz::UTC);
        Ok(time_value(t.unwrap_or_else(gotime::zero_time)))
    });
    f.add("toDateInZone", |a| {
        want("toDateInZone", a, 3)?;
        let zone = chrono_tz::Tz::from_str(string(a, 1)?).unwrap_or(chrono_tz::UTC);
        let t = gotime::parse(string(a, 0)?, string(a, 2)?, zone);
        Ok(time_value(t.unwrap_or_else(gotime::zero_time)))
    });
    f.add("unixEpoch", |a| {
        want("unixEpoch", a, 1)?;
        text(time(a, 0)?.timestamp().to_string())
    });
    f.add("unixEpochMillis", |a| {
        want("unixEpochMillis", a, 1)?;
        text(time(a, 0)?.timestamp_millis().to_string())
    });
    f.add("unixEpochNanos", |a| {
        want("unixEpochNanos", a, 1)?;
        let t = time(a, 0)?;
        let ns = i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
        text(ns.to_string())
    });
    f.add("unixToTime", |a| {
        want("unixToTime", a, 1)?;
        let s = string(a, 0)?;
        unix_to_time(s)
            .map(time_value)
            .map_err(|e| calling("unixToTime", e))
    });
}

/// Loki's `unixToTime`: the epoch's unit told by its length (5 digits: days, 10:
/// seconds, 13: ms, 16: µs, 19: ns).
fn unix_to_time(s: &str) -> Result<DateTime<Utc>, String> {
    let n: i64 = s.parse().map_err(|_| {
        format!("unable to parse time '{s}': strconv.ParseInt: parsing {s:?}: invalid syntax")
    })?;
    let t = match s.trim_start_matches('-').len() {
        5 => DateTime::from_timestamp(n.saturating_mul(86_400), 0),
        10 => DateTime::from_timestamp(n, 0),
        13 => DateTime::from_timestamp_millis(n),
        16 => DateTime::from_timestamp_micros(n),
        19 => Some(DateTime::from_timestamp_nanos(n)),
        _ => None,
    };
    t.ok_or_else(|| format!("unable to parse time '{s}': %!w(<nil>)"))
}

/// The line's timestamp as a template value.
pub(super) fn timestamp(ns: i64) -> R {
    Ok(time_value(DateTime::from_timestamp_nanos(ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_by_length() {
        let t = |s| unix_to_time(s).map(gotime::time_string);
        assert_eq!(
            t("1656353124").as_deref(),
            Ok("2022-06-27 18:05:24 +0000 UTC")
        );
        assert_eq!(
            t("1656353124120").as_deref(),
            Ok("2022-06-27 18:05:24.12 +0000 UTC")
        );
        assert_eq!(t("19000").as_deref(), Ok("2022-01-08 00:00:00 +0000 UTC"));
        assert!(t("123").is_err());
        assert!(t("abc").is_err());
    }
}
