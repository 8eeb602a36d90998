//! The notations of promtool's test files: a series as a selector with equality
//! matchers (`up{job="a"}`), and its values in the expanding notation of Prometheus'
//! test language: `a` a value (`Inf`, `NaN` too), `_` a missing sample, `stale` a
//! staleness marker, `a+bxn` / `a-bxn` n+1 values stepping by b, `axn` n+1 copies,
//! `_xn` n missing samples.

use osprey_promql::{Labels, STALE_NAN};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

/// A series' labels, `__name__` included.
pub fn parse_series(text: &str) -> Result<Labels, String> {
    let expr = osprey_promql::parse_selector(text).map_err(|e| format!("{text}: {e}"))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("{text}: not a series"));
    };
    let mut pairs = Vec::new();
    if let Some(n) = vs.name {
        pairs.push(("__name__".to_string(), n));
    }
    for m in vs.matchers.matchers {
        if m.op != MatchOp::Equal {
            return Err(format!("{text}: only = matchers describe a series"));
        }
        pairs.push((m.name, m.value));
    }
    Ok(Labels::new(pairs))
}

fn number(s: &str) -> Result<f64, String> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("invalid value {s:?}")),
    }
}

/// The values of `text`, one slot each (`None`: no sample in that slot).
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        match item {
            "_" => out.push(None),
            "stale" => out.push(Some(f64::from_bits(STALE_NAN))),
            _ => expand_item(item, &mut out)?,
        }
    }
    Ok(out)
}

fn expand_item(item: &str, out: &mut Vec<Option<f64>>) -> Result<(), String> {
    let Some(x) = item.rfind('x') else {
        out.push(Some(number(item)?));
        return Ok(());
    };
    let (head, times) = (&item[..x], &item[x + 1..]);
    let n: usize = times
        .parse()
        .map_err(|_| format!("invalid repetition in {item:?}"))?;
    if head == "_" {
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    // `a+b` / `a-b`: the sign after the first character that is not an exponent's.
    let bytes = head.as_bytes();
    let op = (1..bytes.len())
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (start, step) = match op {
        Some(i) => {
            let step = number(&head[i + 1..])?;
            (
                number(&head[..i])?,
                if bytes[i] == b'-' { -step } else { step },
            )
        }
        None => (number(head)?, 0.0),
    };
    for k in 0..=n {
        out.push(Some(start + step * k as f64));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &str) -> Vec<Option<f64>> {
        expand_values(s).unwrap()
    }

    #[test]
    fn expanding_notation_as_promtool_counts_it() {
        assert_eq!(vals("1x3"), vec![Some(1.0); 4]);
        assert_eq!(vals("-2+4x3"), [-2.0, 2.0, 6.0, 10.0].map(Some));
        assert_eq!(vals("1-2x4"), [1.0, -1.0, -3.0, -5.0, -7.0].map(Some));
        assert_eq!(vals("_x3 5"), vec![None, None, None, Some(5.0)]);
        let v = vals("1 stale 3");
        assert!(osprey_promql::is_stale(v[1].unwrap()));
        assert_eq!(vals("1+0.5x3 1e3 Inf -Inf NaN").len(), 8);
        assert_eq!(vals("0+5000000x2")[2], Some(10_000_000.0));
        assert!(expand_values("abc").is_err());
        let l = parse_series(r#"up{job="a", instance="i"}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("up"));
        assert_eq!(l.get("instance"), Some("i"));
        assert!(parse_series(r#"up{job=~"a"}"#).is_err());
    }
}
