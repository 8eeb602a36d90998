//! Go's number formatting where Prometheus' templates and APIs show it: `%v`/`%g` of a
//! float64 (shortest round-trip digits, exponent form when the decimal exponent is
//! below −4 or at least the precision, 6 for shortest), `%.Ng`, and
//! `strconv.FormatFloat(v, 'e', -1, 64)` (the `value` of `/api/v1/alerts`).
//!
//! Written here because Rust's float formatting never switches to exponent form by
//! itself and writes exponents as `e6`, where Go writes `e+06`.

/// `%v` of a float64 (`1234567` → `1.234567e+06`, `100000` → `100000`, `NaN`, `+Inf`).
pub fn v(x: f64) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let e = format!("{x:e}");
    let (mantissa, exp) = split_exp(&e);
    if !(-4..6).contains(&exp) {
        return format!("{mantissa}e{}", exp_text(exp));
    }
    format!("{x}")
}

/// `%.<prec>g` of a float64 (`%.4g`: `1235`, `1.234e+04`, `0.5`).
pub fn g(x: f64, prec: usize) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, x);
    let (mantissa, exp) = split_exp(&e);
    if exp < -4 || exp >= prec as i32 {
        return format!("{}e{}", trim_zeros(mantissa), exp_text(exp));
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    // Round once, at the significant digits, then lay out in fixed notation.
    let rounded: f64 = e.parse().unwrap_or(x);
    trim_zeros(&format!("{rounded:.decimals$}")).to_string()
}

/// `strconv.FormatFloat(x, 'e', -1, 64)`: shortest digits, always exponent form
/// (`3e+00`, `5e-01`, `1.234567e+06`).
pub fn e(x: f64) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let e = format!("{x:e}");
    let (mantissa, exp) = split_exp(&e);
    format!("{mantissa}e{}", exp_text(exp))
}

/// Go's `time.Time` as RFC 3339 with nanoseconds in UTC (`time.RFC3339Nano`, what its
/// JSON writes): the fraction's trailing zeros dropped, none when whole.
pub fn rfc3339_nano(ns: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(ns);
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = ns.rem_euclid(1_000_000_000);
    if frac != 0 {
        s.push('.');
        s.push_str(format!("{frac:09}").trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// A printed PromQL expression with its number literals as Prometheus prints them
/// (Go's `%v`: `1796402720` → `1.79640272e+09`, `1000000` → `1e+06`); quoted strings,
/// identifiers and durations (`5m`) are left as they are.
pub fn promql_numbers(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            // A quoted string, escapes included.
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
            continue;
        }
        let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
        if c.is_ascii_digit() && (i == 0 || !word_char(chars[i - 1]) && chars[i - 1] != '.') {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len()
                && (chars[i] == 'e' || chars[i] == 'E')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == '+' || *n == '-')
            {
                i += 2;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let text: String = chars[start..i].iter().collect();
            // Followed by a letter: a duration (`5m`) or part of a name.
            if i < chars.len() && word_char(chars[i]) {
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                out.extend(&chars[start..i]);
                continue;
            }
            match text.parse::<f64>() {
                Ok(x) => out.push_str(&v(x)),
                Err(_) => out.push_str(&text),
            }
            continue;
        }
        if word_char(c) {
            while i < chars.len() && word_char(chars[i]) {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn special(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// `1.5e6` → (`1.5`, 6).
fn split_exp(s: &str) -> (&str, i32) {
    match s.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

/// Go's exponent: sign and at least two digits.
fn exp_text(exp: i32) -> String {
    format!("{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        // Pinned against Prometheus 2.42 (alerting/docs/semantics.md §4).
        for (x, want) in [
            (1234567.0, "1.234567e+06"),
            (100000.0, "100000"),
            (123456.7, "123456.7"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (12345678.9, "1.23456789e+07"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.000123, "0.000123"),
            (0.00001, "1e-05"),
            (3.5, "3.5"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(v(x), want, "{x}");
        }
        for (x, want) in [
            (1234.5, "1234"),
            (12345.0, "1.234e+04"),
            (0.5, "0.5"),
            (100.0, "100"),
            (1.2345, "1.234"),
            (999.95, "1000"),
            (1.235, "1.235"),
            (0.00012345, "0.0001234"),
            (0.0, "0"),
        ] {
            assert_eq!(g(x, 4), want, "{x}");
        }
        assert_eq!(
            rfc3339_nano(1_764_860_505_560_000_000),
            "2025-12-04T15:01:45.56Z"
        );
        assert_eq!(
            rfc3339_nano(1_764_860_505_000_000_000),
            "2025-12-04T15:01:45Z"
        );
        assert_eq!(
            rfc3339_nano(1_764_860_505_151_810_036),
            "2025-12-04T15:01:45.151810036Z"
        );
        assert_eq!(
            promql_numbers("vector(time()) > 1796402720"),
            "vector(time()) > 1.79640272e+09"
        );
        assert_eq!(
            promql_numbers(r#"sum(rate(http_2xx{a="1000000"}[5m] offset 1h)) * 1000000 > 0.5"#),
            r#"sum(rate(http_2xx{a="1000000"}[5m] offset 1h)) * 1e+06 > 0.5"#
        );
        assert_eq!(promql_numbers("topk(5, x) / 1e-05"), "topk(5, x) / 1e-05");
        assert_eq!(e(3.0), "3e+00");
        assert_eq!(e(0.5), "5e-01");
        assert_eq!(e(1234567.0), "1.234567e+06");
    }
}
