//! Alertmanager's label matchers (`pkg/labels`): `name="v"`, `!=`, `=~`, `!~`, in the
//! string syntax of `matchers:` (several per string, comma-separated, optional `{}`,
//! values quoted or not), and the older `match` / `match_re` maps. Regexes are
//! anchored (`^(?:re)$`); a missing label matches as the empty string.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    fn op(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub kind: MatchType,
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        (&self.name, self.kind, &self.value) == (&o.name, o.kind, &o.value)
    }
}

impl Matcher {
    pub fn new(name: &str, kind: MatchType, value: &str) -> Result<Self, String> {
        let re = match kind {
            MatchType::Regexp | MatchType::NotRegexp => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("error parsing regexp: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            kind,
            value: value.to_string(),
            re,
        })
    }

    pub fn matches(&self, v: &str) -> bool {
        match (self.kind, &self.re) {
            (MatchType::Equal, _) => v == self.value,
            (MatchType::NotEqual, _) => v != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(v),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }

    /// Whether the label set matches (a missing label is "").
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches(labels.get(&self.name).map_or("", String::as_str))
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with `\`, `"` and newlines escaped (how group keys show it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self
            .value
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('"', "\\\"");
        write!(f, "{}{}\"{v}\"", self.name, self.kind.op())
    }
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// Splits on commas outside double quotes.
fn split_matchers(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut escaped) = (String::new(), false, false);
    for c in s.chars() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                cur.push(c);
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        escaped = false;
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(v: &str, whole: &str) -> Result<String, String> {
    let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else {
        if v.contains('"') {
            return Err(format!(
                "matcher value contains unescaped double quote: {whole}"
            ));
        }
        return Ok(v.to_string());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            },
            '"' => {
                return Err(format!(
                    "matcher value contains unescaped double quote: {whole}"
                ));
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Parses one `matchers:` string (one or several matchers).
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    let t = s.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(t);
    let mut out = Vec::new();
    for part in split_matchers(t) {
        let p = part.trim();
        let name_end = p
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(p.len());
        let name = &p[..name_end];
        let rest = p[name_end..].trim_start();
        let (kind, value) = [
            ("=~", MatchType::Regexp),
            ("!~", MatchType::NotRegexp),
            ("!=", MatchType::NotEqual),
            ("=", MatchType::Equal),
        ]
        .iter()
        .find_map(|(op, k)| rest.strip_prefix(op).map(|v| (*k, v.trim())))
        .ok_or_else(|| format!("bad matcher format: {p}"))?;
        if !is_label_name(name) {
            return Err(format!("bad matcher format: {p}"));
        }
        out.push(Matcher::new(name, kind, &unquote(value, p)?)?);
    }
    Ok(out)
}

/// The matchers of a route or inhibition side: `match` (=), `match_re` (=~) and
/// `matchers`, sorted by name, value and type as Alertmanager keeps them.
pub fn collect(
    eq: &BTreeMap<String, crate::rules::file::Scalar>,
    re: &BTreeMap<String, crate::rules::file::Scalar>,
    strings: &[String],
) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    for (k, v) in eq {
        out.push(Matcher::new(k, MatchType::Equal, v.as_str())?);
    }
    for (k, v) in re {
        out.push(Matcher::new(k, MatchType::Regexp, v.as_str())?);
    }
    for s in strings {
        out.extend(parse_matchers(s)?);
    }
    out.sort_by(|a, b| (&a.name, &a.value, a.kind).cmp(&(&b.name, &b.value, b.kind)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matcher_syntax() {
        let m = parse_matchers(r#"{severity="page", team=~"a|b", env!=prod, x!~"y.*"}"#).unwrap();
        let shown: Vec<String> = m.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"severity="page""#,
                r#"team=~"a|b""#,
                r#"env!="prod""#,
                r#"x!~"y.*""#
            ]
        );
        assert!(m[1].matches("a") && !m[1].matches("ab"));
        assert!(m[2].matches(""));
        let m = parse_matchers(r#"msg="a, \"b\"""#).unwrap();
        assert_eq!(m[0].value, r#"a, "b""#);
        assert!(
            parse_matchers("nope")
                .unwrap_err()
                .contains("bad matcher format")
        );
        assert!(
            parse_matchers(r#"a=b"c"#)
                .unwrap_err()
                .contains("unescaped double quote")
        );
        assert!(
            parse_matchers("a=~(")
                .unwrap_err()
                .contains("error parsing regexp")
        );
    }
}
