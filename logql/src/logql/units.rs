//! Durations and byte sizes as LogQL writes them: ranges and offsets (`5m`, `1h30m`, `1d`),
//! duration label filters and `unwrap duration()` (Go's `time.ParseDuration`: `1.5s`,
//! `250ms`), byte filters and `unwrap bytes()` (go-humanize: `10KB` = 10,000,
//! `10KiB` = 10,240, case-insensitive, an optional space).

const NS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("μs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
    ("d", 86400e9),
    ("w", 7.0 * 86400e9),
    ("y", 365.0 * 86400e9),
];

/// A duration in nanoseconds: one or more `<number><unit>`, optionally signed.
pub fn parse_duration_ns(s: &str) -> Option<f64> {
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    let mut any = false;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (_, mult) = NS.iter().find(|(u, _)| *u == &rest[..unit_end])?;
        total += n * mult;
        rest = &rest[unit_end..];
        any = true;
    }
    any.then_some(sign * total)
}

/// Seconds, as Loki compares durations and unwraps `duration()`.
pub fn parse_duration_seconds(s: &str) -> Option<f64> {
    parse_duration_ns(s).map(|ns| ns / 1e9)
}

/// A byte size: `10`, `10B`, `1.5 KiB`, `3mb`.
pub fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..num_end].parse().ok()?;
    let unit = s[num_end..].trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let (binary, prefix) = match unit.strip_suffix('i') {
        Some(p) => (true, p),
        None => (false, unit),
    };
    let power = match prefix {
        "" if !binary => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    Some(n * base.powi(power))
}

/// Go's `time.ParseDuration(s).Seconds()`: units ns, us/µs/μs, ms, s, m, h (no days).
pub fn parse_go_duration_seconds(s: &str) -> Result<f64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..n];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Ok(if neg { -total } else { total })
}

/// go-humanize's `Bytes` (SI units, one decimal under 10) without its space:
/// `3000` → `3.0kB`, `1024000000` → `1.0GB`; how Loki writes byte sizes back.
pub fn humanize_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n}B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((n as f64).ln() / 1000f64.ln()).floor().min(6.0);
    let val = (n as f64 / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let unit = SIZES[e as usize];
    if val < 10.0 {
        format!("{val:.1}{unit}")
    } else {
        format!("{val:.0}{unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("5m"), Some(300e9));
        assert_eq!(parse_duration_ns("1h30m"), Some(5400e9));
        assert_eq!(parse_duration_seconds("250ms"), Some(0.25));
        assert_eq!(parse_duration_seconds("1.5s"), Some(1.5));
        assert_eq!(parse_duration_seconds("-2s"), Some(-2.0));
        assert_eq!(parse_duration_ns("1d"), Some(86400e9));
        assert_eq!(parse_duration_ns("5"), None);
        assert_eq!(parse_duration_ns("5x"), None);
        assert_eq!(parse_duration_ns(""), None);
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("10"), Some(10.0));
        assert_eq!(parse_bytes("10B"), Some(10.0));
        assert_eq!(parse_bytes("10KB"), Some(10_000.0));
        assert_eq!(parse_bytes("10kib"), Some(10_240.0));
        assert_eq!(parse_bytes("1.5 MiB"), Some(1.5 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("3mb"), Some(3e6));
        assert_eq!(parse_bytes("3xb"), None);
        assert_eq!(parse_bytes("KB"), None);
    }
}
