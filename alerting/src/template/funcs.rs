//! Prometheus 2.42's template functions (`template/template.go`), with its semantics as
//! pinned in `alerting/docs/semantics.md` §4: the humanize family with Go's `%.4g`,
//! `query` and the sample helpers (`first`, `label`, `value`, `strvalue`,
//! `sortByLabel`), strings (`title`, `toUpper`, `toLower`, `reReplaceAll`, `match`,
//! `stripPort`, `stripDomain`), links (`graphLink`, `tableLink`, `externalURL`,
//! `pathPrefix`), `args`, `safeHtml`, `parseDuration`, `toTime`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::parse::{DefineNode, ListNode};
use gotmpl::{FuncMap, TemplateError, Value, ValueFunc};
use osprey_logql::gotemplate;

use super::{Context, gofmt};

/// The function `mod.rs` appends to printed pipelines.
pub(super) const PRINT: &str = "__print";

/// One sample of a `query` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// With `__name__` when the series has one.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Runs a PromQL query at the evaluation time for `query`.
pub type QueryFn = Arc<dyn Fn(&str) -> Result<Vec<Sample>, String> + Send + Sync>;

fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

/// A label map as a template value.
pub(super) fn string_map(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    let m: BTreeMap<Arc<str>, Value> = pairs
        .into_iter()
        .map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.into())))
        .collect();
    Value::Map(Arc::new(m))
}

fn sample_value(s: &Sample) -> Value {
    let mut m = BTreeMap::new();
    m.insert(Arc::from("Labels"), string_map(s.labels.clone()));
    m.insert(Arc::from("Value"), Value::Float(s.value));
    Value::Map(Arc::new(m))
}

/// A number argument: a float, an integer, or a string that parses as one.
fn number(name: &str, args: &[Value]) -> gotmpl::Result<f64> {
    match args.first() {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Int(i)) => Ok(*i as f64),
        Some(Value::Uint(u)) => Ok(*u as f64),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| {
            fail(format!(
                "error calling {name}: strconv.ParseFloat: parsing {s:?}: invalid syntax"
            ))
        }),
        _ => Err(fail(format!("error calling {name}: expected a number"))),
    }
}

fn string_arg<'a>(name: &str, args: &'a [Value], i: usize) -> gotmpl::Result<&'a str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(fail(format!(
            "error calling {name}: argument {} must be a string",
            i + 1
        ))),
    }
}

fn text(s: String) -> gotmpl::Result<Value> {
    Ok(Value::String(s.into()))
}

fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return gofmt::g(v, 4);
    }
    let (mut v, mut prefix) = (v, "");
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", gofmt::g(v, 4))
}

fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return gofmt::g(v, 4);
    }
    let (mut v, mut prefix) = (v, "");
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", gofmt::g(v, 4))
}

fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return gofmt::g(v, 4);
    }
    if v == 0.0 {
        return "0s".into();
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let secs = v.abs() as i64;
        let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
        return if d != 0 {
            format!("{sign}{d}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", gofmt::g(v.abs(), 4))
        };
    }
    let (mut v, mut prefix) = (v, "");
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", gofmt::g(v, 4))
}

/// Go's `time.Time.String()` in UTC, to the given fraction (trailing zeros dropped).
fn go_time(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let Some(t) = chrono::DateTime::from_timestamp(secs, frac) else {
        return format!("{secs}");
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s + " +0000 UTC"
}

/// Go's `strings.Title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go treats letters, digits, underscore and marks as inside a word.
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Go's regexp replacement template (`$1`, `${1}`, `$name`) in Rust's syntax, which is
/// the same apart from Go reading `$1x` as the group named `1x`.
fn re_replace_all(pattern: &str, repl: &str, text: &str) -> Result<String, String> {
    let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
    Ok(re.replace_all(text, repl).into_owned())
}

fn strip_port(hostport: &str) -> String {
    if let Some(rest) = hostport.strip_prefix('[')
        && let Some((host, _)) = rest.split_once(']')
    {
        return host.to_string();
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host.to_string()
        }
        _ => hostport.to_string(),
    }
}

fn strip_domain(hostport: &str) -> String {
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (hostport, None),
    };
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return hostport.to_string();
    }
    let first = host.split('.').next().unwrap_or(host);
    match port {
        Some(p) => format!("{first}:{p}"),
        None => first.to_string(),
    }
}

fn as_sample_map(name: &str, v: Option<&Value>) -> gotmpl::Result<Arc<BTreeMap<Arc<str>, Value>>> {
    match v {
        Some(Value::Map(m)) => Ok(Arc::clone(m)),
        _ => Err(fail(format!("error calling {name}: expected a sample"))),
    }
}

fn insert(
    m: &mut FuncMap,
    name: &str,
    f: impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static,
) {
    let f: ValueFunc = Arc::new(f);
    m.insert(name.to_string(), f);
}

/// Every function of Prometheus' rule templates, bound to `ctx`.
pub(super) fn map(ctx: &Context) -> FuncMap {
    let mut m = FuncMap::new();
    insert(&mut m, PRINT, |a| {
        Ok(match a.last() {
            Some(Value::Float(f)) => Value::String(gofmt::v(*f).into()),
            Some(Value::Nil) | None => Value::String("".into()),
            Some(other) => other.clone(),
        })
    });
    insert(&mut m, "humanize", |a| {
        text(humanize(number("humanize", a)?))
    });
    insert(&mut m, "humanize1024", |a| {
        text(humanize1024(number("humanize1024", a)?))
    });
    insert(&mut m, "humanizeDuration", |a| {
        text(humanize_duration(number("humanizeDuration", a)?))
    });
    insert(&mut m, "humanizePercentage", |a| {
        text(format!(
            "{}%",
            gofmt::g(number("humanizePercentage", a)? * 100.0, 4)
        ))
    });
    insert(&mut m, "humanizeTimestamp", |a| {
        let v = number("humanizeTimestamp", a)?;
        if !v.is_finite() {
            return text(gofmt::g(v, 4));
        }
        text(go_time((v * 1000.0) as i128 * 1_000_000))
    });
    insert(&mut m, "toTime", |a| {
        let v = number("toTime", a)?;
        text(go_time((v * 1e9) as i128))
    });
    insert(&mut m, "parseDuration", |a| {
        let s = string_arg("parseDuration", a, 0)?;
        crate::duration::parse(s)
            .map(|d| Value::Float(d.as_secs_f64()))
            .ok_or_else(|| {
                fail(format!(
                    "error calling parseDuration: not a valid duration string: {s:?}"
                ))
            })
    });
    insert(&mut m, "title", |a| text(title(string_arg("title", a, 0)?)));
    insert(&mut m, "toUpper", |a| {
        text(string_arg("toUpper", a, 0)?.to_uppercase())
    });
    insert(&mut m, "toLower", |a| {
        text(string_arg("toLower", a, 0)?.to_lowercase())
    });
    insert(&mut m, "safeHtml", |a| {
        text(string_arg("safeHtml", a, 0)?.to_string())
    });
    insert(&mut m, "stripPort", |a| {
        text(strip_port(string_arg("stripPort", a, 0)?))
    });
    insert(&mut m, "stripDomain", |a| {
        text(strip_domain(string_arg("stripDomain", a, 0)?))
    });
    insert(&mut m, "reReplaceAll", |a| {
        let (p, r, t) = (
            string_arg("reReplaceAll", a, 0)?,
            string_arg("reReplaceAll", a, 1)?,
            string_arg("reReplaceAll", a, 2)?,
        );
        re_replace_all(p, r, t)
            .map(|s| Value::String(s.into()))
            .map_err(|e| fail(format!("error calling reReplaceAll: {e}")))
    });
    insert(&mut m, "match", |a| {
        let (p, s) = (string_arg("match", a, 0)?, string_arg("match", a, 1)?);
        regex::Regex::new(p)
            .map(|re| Value::Bool(re.is_match(s)))
            .map_err(|e| fail(format!("error calling match: {e}")))
    });
    insert(&mut m, "graphLink", |a| {
        text(format!(
            "/graph?g0.expr={}&g0.tab=0",
            gotmpl::url_encode(string_arg("graphLink", a, 0)?)
        ))
    });
    insert(&mut m, "tableLink", |a| {
        text(format!(
            "/graph?g0.expr={}&g0.tab=1",
            gotmpl::url_encode(string_arg("tableLink", a, 0)?)
        ))
    });
    insert(&mut m, "args", |a| {
        let m: BTreeMap<Arc<str>, Value> = a
            .iter()
            .enumerate()
            .map(|(i, v)| (Arc::from(format!("arg{i}").as_str()), v.clone()))
            .collect();
        Ok(Value::Map(Arc::new(m)))
    });
    sample_funcs(&mut m);
    url_funcs(&mut m, ctx);
    let query = ctx.query.clone();
    insert(&mut m, "query", move |a| {
        let q = string_arg("query", a, 0)?;
        let Some(run) = &query else {
            return Err(fail("error calling query: queries are not available here"));
        };
        let samples = run(q).map_err(|e| fail(format!("error calling query: {e}")))?;
        Ok(Value::List(samples.iter().map(sample_value).collect()))
    });
    m
}

fn sample_funcs(m: &mut FuncMap) {
    insert(m, "first", |a| match a.first() {
        Some(Value::List(l)) => l
            .first()
            .cloned()
            .ok_or_else(|| fail("error calling first: first() called on vector with no elements")),
        _ => Err(fail("error calling first: expected a query result")),
    });
    insert(m, "label", |a| {
        let name = string_arg("label", a, 0)?;
        let s = as_sample_map("label", a.get(1))?;
        Ok(match s.get("Labels") {
            Some(Value::Map(l)) => l.get(name).cloned().unwrap_or(Value::String("".into())),
            _ => Value::String("".into()),
        })
    });
    insert(m, "value", |a| {
        let s = as_sample_map("value", a.first())?;
        Ok(s.get("Value").cloned().unwrap_or(Value::Float(0.0)))
    });
    insert(m, "strvalue", |a| {
        let s = as_sample_map("strvalue", a.first())?;
        Ok(match s.get("Labels") {
            Some(Value::Map(l)) => l
                .get("__value__")
                .cloned()
                .unwrap_or(Value::String("".into())),
            _ => Value::String("".into()),
        })
    });
    insert(m, "sortByLabel", |a| {
        let name = string_arg("sortByLabel", a, 0)?;
        let Some(Value::List(l)) = a.get(1) else {
            return Err(fail("error calling sortByLabel: expected a query result"));
        };
        let key = |v: &Value| -> String {
            if let Value::Map(s) = v
                && let Some(Value::Map(l)) = s.get("Labels")
                && let Some(Value::String(x)) = l.get(name)
            {
                return x.to_string();
            }
            String::new()
        };
        let mut items: Vec<Value> = l.iter().cloned().collect();
        items.sort_by_key(key);
        Ok(Value::List(items.into()))
    });
}

fn url_funcs(m: &mut FuncMap, ctx: &Context) {
    let url = ctx.external_url.clone();
    insert(m, "externalURL", move |_| match &url {
        Some(u) => text(u.clone()),
        None => Err(fail(
            "error calling externalURL: no external URL is configured",
        )),
    });
    let url = ctx.external_url.clone();
    insert(m, "pathPrefix", move |_| match &url {
        Some(u) => {
            let after_scheme = u.split_once("://").map_or(u.as_str(), |(_, r)| r);
            text(
                after_scheme
                    .find('/')
                    .map_or(String::new(), |i| after_scheme[i..].to_string()),
            )
        }
        None => Err(fail(
            "error calling pathPrefix: no external URL is configured",
        )),
    });
}

/// Every function a template calls must exist (Go checks this when parsing).
pub(super) fn check_names(tree: &ListNode, defines: &[DefineNode]) -> Result<(), String> {
    let known = map(&Context::default());
    let names = gotemplate::names(tree, defines);
    match gotemplate::undefined_function(&names, |f| known.contains_key(f)) {
        Some(name) => Err(format!("function {name:?} not defined")),
        None => Ok(()),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn humanize_family_like_prometheus() {
        for (v, want) in [
            (1234567.0, "1.235M"),
            (1234.5, "1.234k"),
            (0.000123, "123u"),
            (0.0, "0"),
            (1e30, "1e+06Y"),
            (-1500.0, "-1.5k"),
            (999.95, "1000"),
        ] {
            assert_eq!(humanize(v), want, "{v}");
        }
        assert_eq!(humanize1024(1536.0), "1.5ki");
        assert_eq!(humanize1024(-2048.0), "-2ki");
        assert_eq!(humanize1024(1.0), "1");
        for (v, want) in [
            (90061.0, "1d 1h 1m 1s"),
            (-3725.0, "-1h 2m 5s"),
            (60.0, "1m 0s"),
            (3600.0, "1h 0m 0s"),
            (1.5, "1.5s"),
            (59.999, "60s"),
            (0.0012, "1.2ms"),
            (1e-6, "1us"),
            (0.0, "0s"),
        ] {
            assert_eq!(humanize_duration(v), want, "{v}");
        }
        assert_eq!(
            go_time(1_700_000_000_122_000_000),
            "2023-11-14 22:13:20.122 +0000 UTC"
        );
        assert_eq!(
            go_time(1_700_000_000_000_000_000),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(title("hello wORLD foo-bar"), "Hello WORLD Foo-Bar");
        assert_eq!(title("élan ñu"), "Élan Ñu");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("host:9100"), "host");
        assert_eq!(strip_domain("host1.example.com:9100"), "host1:9100");
        assert_eq!(strip_domain("10.0.0.1:9100"), "10.0.0.1:9100");
        assert_eq!(gotmpl::url_encode("m > 0"), "m+%3E+0");
    }
}
