//! Alertmanager 0.25's time intervals (`timeinterval/timeinterval.go`, `notify/notify.go`'s
//! `TimeActiveStage` and `TimeMuteStage`; `alerting/docs/semantics.md` §6.4, §7): an entry
//! of a named `time_intervals` list as written, checked with Alertmanager's messages, and
//! whether an instant falls in it. Inside an entry every field given must match (an
//! absent field matches everything, an empty list nothing); a named interval holds an
//! instant when any of its entries does; a route's flush is dropped when the instant is
//! in one of its `mute_time_intervals`, or outside all of its `active_time_intervals`.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use serde::Deserialize;

use crate::rules::file::Scalar;

/// One entry of a named interval as written (Go's YAML reads any scalar as text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    #[serde(default)]
    pub times: Option<Vec<TimeRangeConfig>>,
    #[serde(default)]
    pub weekdays: Option<Vec<Scalar>>,
    #[serde(default)]
    pub days_of_month: Option<Vec<Scalar>>,
    #[serde(default)]
    pub months: Option<Vec<Scalar>>,
    #[serde(default)]
    pub years: Option<Vec<Scalar>>,
    #[serde(default)]
    pub location: Option<Scalar>,
}

/// `{start_time: "HH:MM", end_time: "HH:MM"}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    #[serde(default)]
    pub start_time: Option<Scalar>,
    #[serde(default)]
    pub end_time: Option<Scalar>,
}

/// An inclusive range (for `times`, minutes of the day with the end excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    begin: i64,
    end: i64,
}

/// Where an entry's fields are read: UTC unless `location` names a zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Location {
    Utc,
    /// The machine's zone (`Local`, as Go's `time.Local`).
    Local,
    Zone(chrono_tz::Tz),
}

/// One entry, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeInterval {
    times: Option<Vec<Range>>,
    weekdays: Option<Vec<Range>>,
    days_of_month: Option<Vec<Range>>,
    months: Option<Vec<Range>>,
    years: Option<Vec<Range>>,
    location: Location,
}

/// A named interval: its entries.
pub type Intervals = Arc<[TimeInterval]>;

/// A route's own time intervals (children do not inherit them).
#[derive(Debug, Clone, Default)]
pub struct RouteTimes {
    pub mute: Vec<Intervals>,
    pub active: Vec<Intervals>,
}

impl RouteTimes {
    /// Whether a flush at `t` sends nothing: the route has active intervals and `t` is
    /// in none of them, or `t` is in one of its mute intervals.
    pub fn mutes(&self, t: DateTime<Utc>) -> bool {
        let inside = |lists: &[Intervals]| lists.iter().any(|l| l.iter().any(|i| i.contains(t)));
        (!self.active.is_empty() && !inside(&self.active)) || inside(&self.mute)
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Go's `strconv.Atoi`, with its messages.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {s:?}: {why}")
    })
}

fn weekday(s: &str) -> Result<i64, String> {
    match WEEKDAYS.iter().position(|d| *d == s) {
        Some(i) => Ok(i as i64),
        None => Err(format!("{s} is not a valid weekday")),
    }
}

fn month(s: &str) -> Result<i64, String> {
    match MONTHS.iter().position(|m| *m == s) {
        Some(i) => Ok(i as i64 + 1),
        None => s
            .parse::<i64>()
            .map_err(|_| format!("{s} is not a valid month")),
    }
}

fn month_name(n: i64) -> &'static str {
    n.checked_sub(1)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("")
}

/// `a` or `a:b`, lower-cased, each side read by `member`.
fn range(raw: &str, member: fn(&str) -> Result<i64, String>) -> Result<Range, String> {
    let s = raw.to_lowercase();
    if !s.contains(':') {
        let v = member(&s)?;
        return Ok(Range { begin: v, end: v });
    }
    let parts: Vec<&str> = s.split(':').collect();
    let [a, b] = parts.as_slice() else {
        return Err(format!("couldn't parse range {s}, invalid format"));
    };
    Ok(Range {
        begin: member(a)?,
        end: member(b)?,
    })
}

fn weekday_range(raw: &str) -> Result<Range, String> {
    let r = range(raw, weekday)?;
    if r.begin > r.end {
        return Err("start day cannot be before end day".into());
    }
    Ok(r)
}

fn day_of_month_range(raw: &str) -> Result<Range, String> {
    let r = range(raw, atoi)?;
    for d in [r.begin, r.end] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    // Counted in a 28-day month, which catches the ranges that are always empty.
    let in_shortest = |d: i64| if d < 0 { 28 + d } else { d };
    if in_shortest(r.begin) > in_shortest(r.end) {
        return Err(format!(
            "end day {} is always before start day {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

/// Month numbers are not checked against 1..12, as in Alertmanager 0.25.
fn month_range(raw: &str) -> Result<Range, String> {
    let r = range(raw, month)?;
    if r.begin > r.end {
        return Err(format!(
            "end month {} is before start month {}",
            month_name(r.end),
            month_name(r.begin)
        ));
    }
    Ok(r)
}

fn year_range(raw: &str) -> Result<Range, String> {
    let r = range(raw, atoi)?;
    if r.begin > r.end {
        return Err(format!(
            "end year {} is before start year {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

/// `HH:MM` (`24:00` allowed) as minutes of the day.
fn minutes(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let valid = s == "24:00"
        || (b.len() == 5
            && matches!(
                (b[0], b[1]),
                (b'0'..=b'1', b'0'..=b'9') | (b'2', b'0'..=b'3')
            )
            && b[2] == b':'
            && matches!(b[3], b'0'..=b'5')
            && b[4].is_ascii_digit());
    if !valid {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let digit = |i: usize| i64::from(b[i] - b'0');
    Ok((digit(0) * 10 + digit(1)) * 60 + digit(3) * 10 + digit(4))
}

fn time_range(c: &TimeRangeConfig) -> Result<Range, String> {
    let text = |v: &Option<Scalar>| v.as_ref().map_or("", Scalar::as_str).to_string();
    let (start, end) = (text(&c.start_time), text(&c.end_time));
    if start.is_empty() || end.is_empty() {
        return Err("both start and end times must be provided".into());
    }
    let (begin, end) = (minutes(&start)?, minutes(&end)?);
    if begin >= end {
        return Err("start time cannot be equal or greater than end time".into());
    }
    Ok(Range { begin, end })
}

/// Go's `time.LoadLocation`: empty or `UTC`, `Local`, or a zone of the IANA database.
fn location(s: &str) -> Result<Location, String> {
    match s {
        "" | "UTC" => Ok(Location::Utc),
        "Local" => Ok(Location::Local),
        _ if s.split('/').any(|e| e == "..") || s.starts_with(['/', '\\']) => {
            Err("time: invalid location name".into())
        }
        _ => s
            .parse::<chrono_tz::Tz>()
            .map(Location::Zone)
            .map_err(|_| format!("unknown time zone {s}")),
    }
}

fn ranges(
    list: &Option<Vec<Scalar>>,
    parse: fn(&str) -> Result<Range, String>,
) -> Result<Option<Vec<Range>>, String> {
    list.as_ref()
        .map(|l| {
            l.iter()
                .map(|s| parse(s.as_str()))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
}

impl TimeIntervalConfig {
    /// The entry checked, with Alertmanager's messages.
    pub fn compile(&self) -> Result<TimeInterval, String> {
        let times = self
            .times
            .as_ref()
            .map(|l| l.iter().map(time_range).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        Ok(TimeInterval {
            times,
            weekdays: ranges(&self.weekdays, weekday_range)?,
            days_of_month: ranges(&self.days_of_month, day_of_month_range)?,
            months: ranges(&self.months, month_range)?,
            years: ranges(&self.years, year_range)?,
            location: location(self.location.as_ref().map_or("", Scalar::as_str))?,
        })
    }
}

/// An instant as read in an entry's location.
#[derive(Debug, Clone, Copy)]
struct Civil {
    minute: i64,
    day: i64,
    days_in_month: i64,
    month: i64,
    weekday: i64,
    year: i64,
}

fn civil<Z: TimeZone>(t: DateTime<Utc>, z: &Z) -> Civil {
    let l = t.with_timezone(z);
    Civil {
        minute: i64::from(l.hour() * 60 + l.minute()),
        day: i64::from(l.day()),
        days_in_month: days_in_month(z, l.year(), l.month()),
        month: i64::from(l.month()),
        weekday: i64::from(l.weekday().num_days_from_sunday()),
        year: i64::from(l.year()),
    }
}

/// Midnight starting the month in `z` (past a gap, the first instant after it).
fn month_start<Z: TimeZone>(z: &Z, year: i32, month: u32) -> Option<DateTime<Z>> {
    let naive = NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)?;
    z.from_local_datetime(&naive).earliest().or_else(|| {
        let later = naive.checked_add_signed(TimeDelta::hours(1))?;
        z.from_local_datetime(&later).earliest()
    })
}

/// Alertmanager 0.25's `daysInMonth`: the whole days elapsed from this month's first
/// midnight to the next one's in the zone, so a month where clocks go forward counts
/// one day short (March in Europe/Amsterdam: 30), which moves negative `days_of_month`
/// a day earlier there. Alertmanager fixed this much later; Osprey matches 0.25.
fn days_in_month<Z: TimeZone>(z: &Z, year: i32, month: u32) -> i64 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (
        month_start(z, year, month),
        month_start(z, next_year, next_month),
    ) {
        (Some(a), Some(b)) => b.signed_duration_since(a).num_seconds() / 86_400,
        _ => calendar_days(year, month),
    }
}

fn calendar_days(year: i32, month: u32) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    }
}

fn within(list: Option<&[Range]>, v: i64) -> bool {
    list.is_none_or(|l| l.iter().any(|r| (r.begin..=r.end).contains(&v)))
}

/// A `days_of_month` range on the day of `c` (negative days count from the month's end;
/// a range starting past the month's end holds nothing; the rest is clamped to it).
fn day_within(r: Range, c: &Civil) -> bool {
    let dim = c.days_in_month.max(1);
    let resolve = |d: i64| if d < 0 { dim + d + 1 } else { d };
    let begin = resolve(r.begin);
    if begin > dim {
        return false;
    }
    let begin = begin.clamp(-dim, dim);
    let end = resolve(r.end).clamp(-dim, dim);
    (begin..=end).contains(&c.day)
}

impl TimeInterval {
    /// Whether `t` falls in this entry.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let c = match self.location {
            Location::Utc => civil(t, &Utc),
            Location::Local => civil(t, &chrono::Local),
            Location::Zone(z) => civil(t, &z),
        };
        let in_times = self
            .times
            .as_deref()
            .is_none_or(|l| l.iter().any(|r| (r.begin..r.end).contains(&c.minute)));
        let in_days = self
            .days_of_month
            .as_deref()
            .is_none_or(|l| l.iter().any(|r| day_within(*r, &c)));
        in_times
            && in_days
            && within(self.months.as_deref(), c.month)
            && within(self.weekdays.as_deref(), c.weekday)
            && within(self.years.as_deref(), c.year)
    }
}

#[cfg(test)]
mod tests;
