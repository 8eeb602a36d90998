//! The accepted time window: a record dated before its signal's retention would be
//! deleted by retention's next run (after it was acknowledged), and one dated far
//! ahead sits outside every sensible search. So every protocol treats such times
//! alike:
//! - log records and spans are stored at arrival time, with the time they claim in
//!   the attribute [`ORIGINAL_TIME`] (a span keeps its duration: start and end move
//!   together), and the answer says how many were moved;
//! - metric samples are refused with their reason (`samplegate.rs`): moving a
//!   sample in time would corrupt its series.
//!
//! Times are compared as `i128` so that OTLP's `u64` nanoseconds beyond `i64::MAX`
//! (2262) are outside the window rather than clamped into it.

use std::time::Duration;

/// How far ahead of now a record may be dated.
pub const MAX_FUTURE: Duration = Duration::from_secs(86_400);

/// The attribute holding the time a re-dated record claimed (RFC 3339).
pub const ORIGINAL_TIME: &str = "osprey.original_time";

/// The times accepted as they are, for one signal at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    now_ns: i64,
    oldest_ns: i128,
    newest_ns: i128,
    retention: Duration,
}

fn nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

impl Window {
    /// The window at `now_ns` for a signal kept `retention`.
    pub fn new(now_ns: i64, retention: Duration) -> Self {
        Self {
            now_ns,
            oldest_ns: i128::from(now_ns).saturating_sub(nanos(retention)),
            newest_ns: i128::from(now_ns).saturating_add(nanos(MAX_FUTURE)),
            retention,
        }
    }

    /// The window now.
    pub fn now(retention: Duration) -> Self {
        Self::new(crate::otlp::common::now_nanos(), retention)
    }

    /// Arrival time: where records outside the window are moved.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    pub fn contains(&self, ts_ns: i128) -> bool {
        ts_ns >= self.oldest_ns && ts_ns <= self.newest_ns
    }

    /// Why `ts_ns` is outside the window (`None` when it is inside).
    pub fn outside(&self, ts_ns: i128) -> Option<String> {
        if ts_ns < self.oldest_ns {
            Some(format!(
                "{} is before the retention of {}",
                rfc3339(ts_ns),
                human(self.retention)
            ))
        } else if ts_ns > self.newest_ns {
            Some(format!(
                "{} is more than {} ahead of the server's clock",
                rfc3339(ts_ns),
                human(MAX_FUTURE)
            ))
        } else {
            None
        }
    }
}

/// A duration as `15d`, `6h`, `90s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{s}s"),
    }
}

/// Unix nanoseconds as RFC 3339 (UTC), for any `u64` or `i64` time; the number itself
/// when no calendar date fits.
pub fn rfc3339(ts_ns: i128) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let sub = ts_ns.rem_euclid(1_000_000_000);
    i64::try_from(secs)
        .ok()
        .zip(u32::try_from(sub).ok())
        .and_then(|(s, n)| chrono::DateTime::from_timestamp(s, n))
        .map_or_else(
            || format!("{ts_ns} ns"),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_341_600_000_000_000;
    const DAY: i128 = 86_400_000_000_000;

    #[test]
    fn window_bounds_and_reasons() {
        let w = Window::new(NOW, Duration::from_secs(7 * 86_400));
        let now = i128::from(NOW);
        assert!(w.contains(now));
        assert!(w.contains(now - 7 * DAY));
        assert!(!w.contains(now - 7 * DAY - 1));
        assert!(w.contains(now + DAY));
        assert!(!w.contains(now + DAY + 1));
        assert!(!w.contains(1));
        assert!(!w.contains(i128::from(u64::MAX)));
        let why = w.outside(1).unwrap();
        assert_eq!(
            why,
            "1970-01-01T00:00:00.000000001Z is before the retention of 7d"
        );
        let why = w.outside(i128::from(u64::MAX)).unwrap();
        assert!(why.starts_with("2554-07-21T23:34:33.709551615Z is more than 1d ahead"));
        assert_eq!(w.outside(now), None);
    }

    #[test]
    fn formats_every_u64() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(i128::from(u64::MAX)),
            "2554-07-21T23:34:33.709551615Z"
        );
        assert_eq!(rfc3339(-1_000_000_000), "1969-12-31T23:59:59Z");
    }
}
