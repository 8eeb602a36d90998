//! Prometheus' duration syntax (`model.Duration`): one or more `<n><unit>` parts, units
//! `y` (365 d), `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each at most once, or `0`.
//! Rule files and promtool's test files write `for`, `interval`, `eval_time` with it.

use std::time::Duration;

/// The units, largest first, in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses `30s`, `1h30m`, `2d`, `0`; `None` for anything else.
pub fn parse(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // `ms` before `m`: the longest unit that matches.
        let (i, (unit, ms)) = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())?;
        rest = &rest[unit.len()..];
        total = total.checked_add(n.checked_mul(*ms)?)?;
        next_unit = i + 1;
    }
    Some(Duration::from_millis(total))
}

/// Formats as Prometheus prints a duration (`1h30m`, `5m`, `0s`).
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Serde for `Option<Duration>` fields written in Prometheus' syntax.
pub mod serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| {
            super::parse(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "not a valid duration string: {s:?} (expected e.g. 30s, 5m, 1h30m)"
                ))
            })
        })
        .transpose()
    }

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&super::format(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        let ms = |s| parse(s).map(|d| d.as_millis() as u64);
        assert_eq!(ms("0"), Some(0));
        assert_eq!(ms("30s"), Some(30_000));
        assert_eq!(ms("1h30m"), Some(5_400_000));
        assert_eq!(ms("1m500ms"), Some(60_500));
        assert_eq!(ms("2d"), Some(172_800_000));
        assert_eq!(ms("1y"), Some(31_536_000_000));
        for bad in ["", "5", "m", "1.5m", "30m1h", "1s1s", "-1m", "1 m"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(format(Duration::from_millis(5_400_000)), "1h30m");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_millis(60_500)), "1m500ms");
    }
}
