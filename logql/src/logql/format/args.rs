//! Arguments of the template functions as Go passes them: arity checked with Go's
//! message, typed parameters (`string`, `int`, `time.Time`) refusing other kinds, and
//! `interface{}` parameters converted as sprig's `cast` package does.

use gotmpl::{TemplateError, Value};

use crate::gotemplate::as_time;

pub type R = gotmpl::Result<Value>;

pub fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

/// `error calling NAME: …`, Go's wrapping of a function's error or panic.
pub fn calling(name: &str, msg: impl std::fmt::Display) -> TemplateError {
    fail(format!("error calling {name}: {msg}"))
}

pub fn text(s: impl Into<std::sync::Arc<str>>) -> R {
    Ok(Value::String(s.into()))
}

/// Exactly `n` arguments.
pub fn want(name: &str, args: &[Value], n: usize) -> gotmpl::Result<()> {
    if args.len() == n {
        return Ok(());
    }
    Err(fail(format!(
        "wrong number of args for {name}: want {n} got {}",
        args.len()
    )))
}

/// At least `n` arguments (a variadic function).
pub fn want_at_least(name: &str, args: &[Value], n: usize) -> gotmpl::Result<()> {
    if args.len() >= n {
        return Ok(());
    }
    Err(fail(format!(
        "wrong number of args for {name}: want at least {n} got {}",
        args.len()
    )))
}

/// Go's name of a value's type, as its type errors print it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) if as_time(v).is_some() => "time.Time",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}

fn wrong_type(expected: &str, v: &Value) -> TemplateError {
    fail(format!(
        "wrong type for value; expected {expected}; got {}",
        go_type(v)
    ))
}

/// A `string` parameter.
pub fn string(args: &[Value], i: usize) -> gotmpl::Result<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(wrong_type("string", v)),
        None => Err(fail("missing argument")),
    }
}

/// An `int` parameter: an integer constant or result (a label is a string: refused).
pub fn int(args: &[Value], i: usize) -> gotmpl::Result<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => i64::try_from(*n).map_err(|_| fail("integer overflow")),
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        Some(v) => Err(wrong_type("int", v)),
        None => Err(fail("missing argument")),
    }
}

/// A `time.Time` parameter.
pub fn time(args: &[Value], i: usize) -> gotmpl::Result<chrono::DateTime<chrono::Utc>> {
    match args.get(i) {
        Some(v) => as_time(v).ok_or_else(|| wrong_type("time.Time", v)),
        None => Err(fail("missing argument")),
    }
}

/// cast's `ToInt64`: numbers (floats truncated), booleans, nil → 0, strings parsed
/// in any base Go's `ParseInt(s, 0, 0)` reads (a whole `.0` decimal tail allowed);
/// anything else → 0.
pub fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::Uint(n) => *n as i64,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// cast's `ToFloat64`: numbers, booleans, strings Go's `ParseFloat` reads; else 0.
pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Uint(n) => *n as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, frac))
            if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') =>
        {
            int
        }
        _ => s,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then `0x`, `0o`, `0b` or a leading `0`
/// (octal) prefix, and `_` between digits.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let n = i64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if neg { -n } else { n })
}

/// Go's `strconv.ParseFloat(s, 64)`: Rust's reading plus Go's `inf`/`infinity` spellings.
fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.to_ascii_lowercase();
    let t = t.trim_start_matches('+');
    match t {
        "inf" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if t.bytes()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'n' | b'a'))
    {
        return None;
    }
    s.trim_start_matches('+').parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_like_sprig() {
        let s = |x: &str| Value::String(x.into());
        assert_eq!(to_i64(&s("0x1f")), 31);
        assert_eq!(to_i64(&s("017")), 15);
        assert_eq!(to_i64(&s("1_000")), 1000);
        assert_eq!(to_i64(&s("10.00")), 10);
        assert_eq!(to_i64(&s("10.5")), 0);
        assert_eq!(to_i64(&s(" 1")), 0);
        assert_eq!(to_i64(&Value::Float(-2.7)), -2);
        assert_eq!(to_f64(&s("1e3")), 1000.0);
        assert_eq!(to_f64(&s("inf")), f64::INFINITY);
        assert_eq!(to_f64(&s("abc")), 0.0);
        assert_eq!(to_f64(&Value::Bool(true)), 1.0);
    }
}
