//! Numbers: sprig's integer math (`add`, `sub`, `mul`, `div`, `mod`, `max`, `min`,
//! `int`) over cast's `ToInt64`, its float math (`addf`, `subf`, `mulf`, `divf`,
//! `maxf`, `minf`, `ceil`, `floor`, `round`, `float64`) over `ToFloat64`, and Loki's
//! unit readers (`bytes`, `duration`).

use gotmpl::Value;

use super::super::args::{R, calling, int, string, to_f64, to_i64, want, want_at_least};
use super::Funcs;
use crate::logql::units::{parse_bytes, parse_go_duration_seconds};

pub(super) fn register(f: &mut Funcs) {
    f.add("int", |a| {
        want("int", a, 1)?;
        Ok(Value::Int(to_i64(&a[0])))
    });
    f.add("float64", |a| {
        want("float64", a, 1)?;
        Ok(Value::Float(to_f64(&a[0])))
    });
    f.add("add", |a| {
        Ok(Value::Int(a.iter().map(to_i64).fold(0, i64::wrapping_add)))
    });
    f.add("mul", |a| {
        want_at_least("mul", a, 1)?;
        Ok(Value::Int(a.iter().map(to_i64).fold(1, i64::wrapping_mul)))
    });
    f.add("sub", |a| {
        want("sub", a, 2)?;
        Ok(Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    f.add("div", |a| int_div(a, "div", i64::wrapping_div));
    f.add("mod", |a| int_div(a, "mod", i64::wrapping_rem));
    f.add("max", |a| {
        want_at_least("max", a, 1)?;
        Ok(Value::Int(a.iter().map(to_i64).max().unwrap_or(0)))
    });
    f.add("min", |a| {
        want_at_least("min", a, 1)?;
        Ok(Value::Int(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    f.add("addf", |a| Ok(Value::Float(a.iter().map(to_f64).sum())));
    f.add("subf", |a| fold_f(a, "subf", |x, y| Ok(x - y)));
    f.add("mulf", |a| fold_f(a, "mulf", |x, y| Ok(x * y)));
    f.add("divf", |a| {
        fold_f(a, "divf", |x, y| {
            if y == 0.0 {
                return Err(calling("divf", "decimal division by 0"));
            }
            Ok(x / y)
        })
    });
    f.add("maxf", |a| fold_f(a, "maxf", |x, y| Ok(go_max(x, y))));
    f.add("minf", |a| fold_f(a, "minf", |x, y| Ok(go_min(x, y))));
    f.add("ceil", |a| {
        want("ceil", a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    });
    f.add("floor", |a| {
        want("floor", a, 1)?;
        Ok(Value::Float(to_f64(&a[0]).floor()))
    });
    f.add("round", |a| {
        want_at_least("round", a, 2)?;
        let on = a.get(2).map_or(0.5, to_f64);
        Ok(Value::Float(round(to_f64(&a[0]), int(a, 1)?, on)))
    });
    f.add("bytes", |a| {
        want("bytes", a, 1)?;
        let s = string(a, 0)?;
        match parse_bytes(&s.replace(',', "")) {
            Some(b) => Ok(Value::Float(b.trunc())),
            None => Err(calling("bytes", format!("unhandled size name: {s}"))),
        }
    });
    for name in ["duration", "duration_seconds"] {
        f.add(name, move |a| {
            want(name, a, 1)?;
            parse_go_duration_seconds(string(a, 0)?)
                .map(Value::Float)
                .map_err(|e| calling(name, e))
        });
    }
}

fn int_div(a: &[Value], name: &str, op: fn(i64, i64) -> i64) -> R {
    want(name, a, 2)?;
    let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
    if y == 0 {
        return Err(calling(name, "runtime error: integer divide by zero"));
    }
    Ok(Value::Int(op(x, y)))
}

/// `f(f(a0, a1), a2)…` over the arguments as floats.
fn fold_f(a: &[Value], name: &str, f: impl Fn(f64, f64) -> gotmpl::Result<f64>) -> R {
    want_at_least(name, a, 1)?;
    let mut acc = to_f64(&a[0]);
    for v in &a[1..] {
        acc = f(acc, to_f64(v))?;
    }
    Ok(Value::Float(acc))
}

/// Go's `math.Max`: NaN wins.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.max(y)
    }
}

fn go_min(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.min(y)
    }
}

/// sprig's `round`: to `places` decimals, up when the dropped fraction is at least
/// `on` (away from zero for negatives, as `math.Modf` keeps the sign).
fn round(v: f64, places: i64, on: f64) -> f64 {
    let pow = 10f64.powi(places.clamp(-300, 300) as i32);
    let d = v * pow;
    let frac = d.fract();
    let r = if frac >= on {
        d.ceil()
    } else if frac <= -on {
        d.floor()
    } else {
        d.trunc()
    };
    r / pow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_rounding_like_go() {
        assert_eq!(parse_go_duration_seconds("3m10s"), Ok(190.0));
        assert_eq!(parse_go_duration_seconds("3ms"), Ok(0.003));
        assert_eq!(parse_go_duration_seconds("-1.5h"), Ok(-5400.0));
        assert_eq!(
            parse_go_duration_seconds("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
        assert_eq!(
            parse_go_duration_seconds("1"),
            Err("time: missing unit in duration \"1\"".into())
        );
        assert_eq!(round(123.88571428571, 5, 0.2), 123.88572);
        assert_eq!(round(-1.5, 0, 0.5), -2.0);
        assert_eq!(round(2.4, 0, 0.5), 2.0);
    }
}
