//! Go's time layouts (`2006-01-02 15:04:05.000 MST`), for the template functions that
//! take one (`date`, `toDate`, `toDateInZone`), and `time.Time.String()`.
//!
//! A layout is cut into Go's reference-time elements (`time/format.go`'s
//! `nextStdChunk`: the longest element at each position, everything else literal) and
//! each element is written with chrono, or translated to chrono's parse syntax.
//! Written by hand because no crate speaks Go's layouts. Times are shown in UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// One element of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    ZeroYearDay,
    UnderYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    PmLower,
    Tz,
    /// `-0700` (`colon`: `-07:00`; `secs`: with seconds; `short`: `-07`); `z`: `Z` for UTC.
    Offset {
        z: bool,
        colon: bool,
        secs: bool,
        short: bool,
    },
    /// `.000` (fixed digits) or `.999` (trailing zeros dropped).
    Frac {
        digits: usize,
        trim: bool,
    },
}

const ELEMS: &[(&str, Elem)] = &[
    ("January", Elem::LongMonth),
    ("Jan", Elem::Month),
    ("Monday", Elem::LongWeekDay),
    ("Mon", Elem::WeekDay),
    ("MST", Elem::Tz),
    ("2006", Elem::LongYear),
    ("002", Elem::ZeroYearDay),
    ("__2", Elem::UnderYearDay),
    ("_2", Elem::UnderDay),
    ("01", Elem::ZeroMonth),
    ("02", Elem::ZeroDay),
    ("03", Elem::ZeroHour12),
    ("04", Elem::ZeroMinute),
    ("05", Elem::ZeroSecond),
    ("06", Elem::Year),
    ("15", Elem::Hour),
    ("1", Elem::NumMonth),
    ("2", Elem::Day),
    ("3", Elem::Hour12),
    ("4", Elem::Minute),
    ("5", Elem::Second),
    ("PM", Elem::Pm),
    ("pm", Elem::PmLower),
];

const OFFSETS: &[(&str, bool, bool, bool)] = &[
    // (text after the sign or Z, colon, seconds, short)
    ("070000", false, true, false),
    ("07:00:00", true, true, false),
    ("0700", false, false, false),
    ("07:00", true, false, false),
    ("07", false, false, true),
];

/// A layout cut into literal text and elements.
fn chunks(layout: &str) -> Vec<Result<&str, Elem>> {
    let mut out = Vec::new();
    let (mut lit, mut i) = (0, 0);
    let b = layout.as_bytes();
    while i < b.len() {
        let rest = &layout[i..];
        let found = element(rest, b, i);
        match found {
            Some((len, e)) => {
                if lit < i {
                    out.push(Ok(&layout[lit..i]));
                }
                out.push(Err(e));
                i += len;
                lit = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if lit < b.len() {
        out.push(Ok(&layout[lit..]));
    }
    out
}

/// The element at the start of `rest` (byte `i` of the layout `b`) and its length.
fn element(rest: &str, b: &[u8], i: usize) -> Option<(usize, Elem)> {
    if let Some(sign) = rest.chars().next().filter(|c| *c == '-' || *c == 'Z') {
        for (text, colon, secs, short) in OFFSETS {
            if rest[1..].starts_with(text) {
                let e = Elem::Offset {
                    z: sign == 'Z',
                    colon: *colon,
                    secs: *secs,
                    short: *short,
                };
                return Some((1 + text.len(), e));
            }
        }
    }
    if (b[i] == b'.' || b[i] == b',') && matches!(b.get(i + 1), Some(b'0' | b'9')) {
        let d = b[i + 1];
        let mut j = i + 1;
        while b.get(j) == Some(&d) {
            j += 1;
        }
        if !b.get(j).is_some_and(u8::is_ascii_digit) {
            let e = Elem::Frac {
                digits: j - i - 1,
                trim: d == b'9',
            };
            return Some((j - i, e));
        }
    }
    // `_2006` is a literal `_` and the year, as Go reads it.
    if rest.starts_with("_2006") {
        return None;
    }
    ELEMS
        .iter()
        .find(|(text, _)| rest.starts_with(text))
        .map(|(text, e)| (text.len(), *e))
}

/// `t` (UTC) written with a Go layout.
pub fn format(layout: &str, t: DateTime<Utc>) -> String {
    let mut s = String::new();
    for c in chunks(layout) {
        match c {
            Ok(text) => s.push_str(text),
            Err(e) => write_elem(&mut s, e, &t),
        }
    }
    s
}

fn write_elem(s: &mut String, e: Elem, t: &DateTime<Utc>) {
    let h12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let text = match e {
        Elem::LongMonth => t.format("%B").to_string(),
        Elem::Month => t.format("%b").to_string(),
        Elem::NumMonth => t.month().to_string(),
        Elem::ZeroMonth => format!("{:02}", t.month()),
        Elem::LongWeekDay => t.format("%A").to_string(),
        Elem::WeekDay => t.format("%a").to_string(),
        Elem::Day => t.day().to_string(),
        Elem::UnderDay => format!("{:>2}", t.day()),
        Elem::ZeroDay => format!("{:02}", t.day()),
        Elem::ZeroYearDay => format!("{:03}", t.ordinal()),
        Elem::UnderYearDay => format!("{:>3}", t.ordinal()),
        Elem::Hour => format!("{:02}", t.hour()),
        Elem::Hour12 => h12.to_string(),
        Elem::ZeroHour12 => format!("{h12:02}"),
        Elem::Minute => t.minute().to_string(),
        Elem::ZeroMinute => format!("{:02}", t.minute()),
        Elem::Second => t.second().to_string(),
        Elem::ZeroSecond => format!("{:02}", t.second()),
        Elem::LongYear => format!("{:04}", t.year()),
        Elem::Year => format!("{:02}", t.year().rem_euclid(100)),
        Elem::Pm => if t.hour() >= 12 { "PM" } else { "AM" }.into(),
        Elem::PmLower => if t.hour() >= 12 { "pm" } else { "am" }.into(),
        Elem::Tz => "UTC".into(),
        Elem::Offset { z: true, .. } => "Z".into(),
        Elem::Offset {
            colon, secs, short, ..
        } => match (short, colon, secs) {
            (true, _, _) => "+00".into(),
            (_, true, true) => "+00:00:00".into(),
            (_, true, false) => "+00:00".into(),
            (_, false, true) => "+000000".into(),
            (_, false, false) => "+0000".into(),
        },
        Elem::Frac { digits, trim } => {
            let f = format!("{:09}", t.nanosecond() % 1_000_000_000);
            let mut f = f[..digits.min(9)].to_string();
            if trim {
                f = f.trim_end_matches('0').to_string();
                if f.is_empty() {
                    return;
                }
            }
            format!(".{f}")
        }
    };
    s.push_str(&text);
}

/// Parses `text` with a Go layout, in `zone` when it names no offset; `None` when it
/// does not fit (Go's `toDate` then answers the zero time).
pub fn parse(layout: &str, text: &str, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let mut fmt = String::new();
    let (mut has_offset, mut has_time, mut has_date) = (false, false, false);
    for c in chunks(layout) {
        match c {
            Ok(lit) => fmt.push_str(&lit.replace('%', "%%")),
            Err(e) => {
                let spec = match e {
                    Elem::LongMonth => "%B",
                    Elem::Month => "%b",
                    Elem::NumMonth | Elem::ZeroMonth => "%m",
                    Elem::LongWeekDay => "%A",
                    Elem::WeekDay => "%a",
                    Elem::Day | Elem::ZeroDay => "%d",
                    Elem::UnderDay => "%e",
                    Elem::ZeroYearDay | Elem::UnderYearDay => "%j",
                    Elem::Hour => "%H",
                    Elem::Hour12 | Elem::ZeroHour12 => "%I",
                    Elem::Minute | Elem::ZeroMinute => "%M",
                    Elem::Second | Elem::ZeroSecond => "%S",
                    Elem::LongYear => "%Y",
                    Elem::Year => "%y",
                    Elem::Pm | Elem::PmLower => "%p",
                    // A zone name says nothing chrono can resolve: it is skipped as
                    // letters would be in Go when the zone is unknown.
                    Elem::Tz => "%Z",
                    Elem::Offset { colon: true, .. } => "%:z",
                    Elem::Offset { .. } => "%z",
                    Elem::Frac { .. } => "%.f",
                };
                has_offset |= matches!(e, Elem::Offset { .. });
                has_time |= matches!(
                    e,
                    Elem::Hour | Elem::Hour12 | Elem::ZeroHour12 | Elem::Minute | Elem::ZeroMinute
                );
                has_date |= !matches!(e, Elem::Frac { .. } | Elem::Tz | Elem::Offset { .. });
                // A fraction in Go follows the seconds' dot, which chrono's `%.f` writes.
                if let Elem::Frac { .. } = e
                    && fmt.ends_with('.')
                {
                    fmt.pop();
                }
                fmt.push_str(spec);
            }
        }
    }
    if !has_date {
        return None;
    }
    if has_offset {
        return DateTime::parse_from_str(text, &fmt)
            .ok()
            .map(|t| t.with_timezone(&Utc));
    }
    let naive = if has_time {
        NaiveDateTime::parse_from_str(text, &fmt).ok()?
    } else {
        NaiveDate::parse_from_str(text, &fmt)
            .ok()?
            .and_hms_opt(0, 0, 0)?
    };
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Go's `time.Time.String()` of a UTC time: `2022-06-27 18:05:24.12 +0000 UTC`.
pub fn time_string(t: DateTime<Utc>) -> String {
    format("2006-01-02 15:04:05.999999999 -0700 MST", t)
}

/// Go's zero `time.Time` (January 1, year 1, UTC).
pub fn zero_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 6, 7, 18, 5, 4).unwrap() + chrono::Duration::milliseconds(120)
    }

    #[test]
    fn formats_go_layouts() {
        assert_eq!(time_string(t()), "2022-06-07 18:05:04.12 +0000 UTC");
        assert_eq!(
            format("2006-01-02T15:04:05Z07:00", t()),
            "2022-06-07T18:05:04Z"
        );
        assert_eq!(format("Jan _2 3:04PM .000", t()), "Jun  7 6:05PM .120");
        assert_eq!(format("Monday 02/01/06 pm", t()), "Tuesday 07/06/22 pm");
        assert_eq!(format("002 __2 -07:00", t()), "158 158 +00:00");
        assert_eq!(
            format("year: 2006, literal x", t()),
            "year: 2022, literal x"
        );
        assert_eq!(time_string(zero_time()), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn parses_go_layouts() {
        let utc = chrono_tz::UTC;
        let p = |l: &str, s: &str| parse(l, s, utc).map(time_string);
        assert_eq!(
            p("2006-01-02 15:04:05", "2022-06-07 18:05:04").as_deref(),
            Some("2022-06-07 18:05:04 +0000 UTC")
        );
        assert_eq!(
            p(
                "2006-01-02T15:04:05.000Z07:00",
                "2022-06-07T20:05:04.120+02:00"
            )
            .as_deref(),
            Some("2022-06-07 18:05:04.12 +0000 UTC")
        );
        assert_eq!(
            p("2006-01-02", "2022-06-07").as_deref(),
            Some("2022-06-07 00:00:00 +0000 UTC")
        );
        assert_eq!(p("2006-01-02", "June 7"), None);
        let berlin = parse(
            "2006-01-02 15:04",
            "2022-06-07 20:05",
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(
            berlin.map(time_string).as_deref(),
            Some("2022-06-07 18:05:00 +0000 UTC")
        );
    }
}
