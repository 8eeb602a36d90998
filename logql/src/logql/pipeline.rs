//! Running a log line through its pipeline, with Loki's semantics: line filters, the
//! parsers (`json`, `logfmt`, `regexp`) adding labels (sanitised names; a name taken by a
//! stream label gets `_extracted`; a line a parser cannot read gets
//! `__error__="JSONParserErr"`, …), label filters (a value that is not a number gets
//! `__error__="LabelFilterErr"` and the line is kept, for the query to skip or fail on),
//! `drop`, `keep` and `decolorize`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::ast::*;
use super::units::{parse_bytes, parse_duration_seconds};

pub const ERROR_LABEL: &str = "__error__";
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";

/// One line on its way through the pipeline.
pub struct Entry<'s> {
    /// The stream's own labels, to tell extracted names that collide with them.
    pub stream: &'s Labels,
    /// Stream and extracted labels so far.
    pub labels: Labels,
    pub line: String,
}

impl<'s> Entry<'s> {
    pub fn new(stream: &'s Labels, line: &str) -> Self {
        Entry {
            stream,
            labels: stream.clone(),
            line: line.to_string(),
        }
    }

    fn extract(&mut self, key: &str, value: String) {
        let mut name = sanitize_label_name(key);
        if name.is_empty() {
            return;
        }
        if self.stream.contains_key(&name) {
            name.push_str("_extracted");
        }
        self.labels.insert(name, value);
    }

    fn set_error(&mut self, kind: &str, details: String) {
        if !self.labels.contains_key(ERROR_LABEL) {
            self.labels.insert(ERROR_LABEL.into(), kind.into());
            self.labels.insert(ERROR_DETAILS_LABEL.into(), details);
        }
    }
}

/// Runs the stages; `false` when a filter drops the line.
pub fn run(stages: &[Stage], e: &mut Entry<'_>) -> bool {
    stages.iter().all(|s| stage(s, e))
}

fn stage(s: &Stage, e: &mut Entry<'_>) -> bool {
    match s {
        Stage::LineFilter(f) => line_matches(f, &e.line),
        Stage::Json(params) => {
            json(params, e);
            true
        }
        Stage::Logfmt {
            strict,
            keep_empty,
            fields,
        } => {
            logfmt(*strict, *keep_empty, fields, e);
            true
        }
        Stage::Regexp(re) => {
            if let Some(caps) = re.captures(&e.line) {
                let found: Vec<(String, String)> = re
                    .capture_names()
                    .flatten()
                    .filter_map(|n| {
                        caps.name(n)
                            .map(|m| (n.to_string(), m.as_str().to_string()))
                    })
                    .collect();
                for (n, v) in found {
                    e.extract(&n, v);
                }
            }
            true
        }
        Stage::LabelFilter(f) => label_filter(f, e),
        Stage::Drop(names) => {
            e.labels.retain(|k, v| {
                !names
                    .iter()
                    .any(|(n, m)| n == k && m.as_ref().is_none_or(|m| m.matches(v)))
            });
            true
        }
        Stage::Keep(names) => {
            e.labels.retain(|k, v| {
                names
                    .iter()
                    .any(|(n, m)| n == k && m.as_ref().is_none_or(|m| m.matches(v)))
            });
            true
        }
        Stage::Decolorize => {
            static ANSI: LazyLock<Option<Regex>> =
                LazyLock::new(|| Regex::new("\x1b\\[[0-9;]*[a-zA-Z]").ok());
            if let Some(re) = ANSI.as_ref() {
                e.line = re.replace_all(&e.line, "").into_owned();
            }
            true
        }
    }
}

pub fn line_matches(f: &LineFilter, line: &str) -> bool {
    match f.op {
        LineOp::Contains => f.values.iter().any(|v| line.contains(v.as_str())),
        LineOp::NotContains => !f.values.iter().any(|v| line.contains(v.as_str())),
        LineOp::Regex => f.res.iter().any(|re| re.is_match(line)),
        LineOp::NotRegex => !f.res.iter().any(|re| re.is_match(line)),
    }
}

/// Loki's rule: characters other than letters, digits and `_` become `_`; a leading
/// digit gets a `_` before it.
pub fn sanitize_label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn json(params: &[(String, Vec<PathPart>)], e: &mut Entry<'_>) {
    let v: Value = match serde_json::from_str(&e.line) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return e.set_error("JSONParserErr", "not a JSON object".into()),
        Err(err) => return e.set_error("JSONParserErr", err.to_string()),
    };
    if params.is_empty() {
        let mut found = Vec::new();
        flatten("", &v, &mut found);
        for (k, val) in found {
            e.extract(&k, val);
        }
        return;
    }
    for (label, path) in params {
        let mut cur = Some(&v);
        for part in path {
            cur = match (cur, part) {
                (Some(Value::Object(m)), PathPart::Key(k)) => m.get(k),
                (Some(Value::Array(a)), PathPart::Index(i)) => a.get(*i),
                _ => None,
            };
        }
        let value = match cur {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        e.extract(label, value);
    }
}

/// Every scalar field, nested objects' keys joined with `_`; arrays are not extracted.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let Value::Object(m) = v else { return };
    for (k, v) in m {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}_{k}")
        };
        match v {
            Value::Object(_) => flatten(&key, v, out),
            Value::Array(_) => {}
            Value::String(s) => out.push((key, s.clone())),
            Value::Null => out.push((key, String::new())),
            other => out.push((key, other.to_string())),
        }
    }
}

fn logfmt(strict: bool, keep_empty: bool, fields: &[(String, String)], e: &mut Entry<'_>) {
    let pairs = match logfmt_pairs(&e.line, strict) {
        Ok(p) => p,
        Err(msg) => return e.set_error("LogfmtParserErr", msg),
    };
    if fields.is_empty() {
        for (k, v) in pairs {
            if !v.is_empty() || keep_empty {
                e.extract(&k, v);
            }
        }
        return;
    }
    for (label, key) in fields {
        if let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == key) {
            e.extract(label, v.clone());
        }
    }
}

/// `key=value key="quoted value" flag`: malformed pairs are skipped, or in strict mode
/// end the parse with an error.
fn logfmt_pairs(line: &str, strict: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut key_end = line.len();
        let mut has_eq = false;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' {
                key_end = i;
                has_eq = c == '=';
                break;
            }
            chars.next();
        }
        let key = &line[start..key_end];
        if has_eq {
            chars.next();
        }
        let mut value = String::new();
        if has_eq && chars.peek().is_some_and(|(_, c)| *c == '"') {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, c)) => value.push(c),
                        None => {}
                    },
                    c => value.push(c),
                }
            }
            if !closed && strict {
                return Err(format!(
                    "logfmt syntax error at pos {}: unterminated quoted value",
                    start + 1
                ));
            }
        } else if has_eq {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let bad_key = key.is_empty() || key.contains('"');
        if bad_key {
            if strict {
                return Err(format!(
                    "logfmt syntax error at pos {}: invalid key",
                    start + 1
                ));
            }
            continue;
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Applies a label filter; a value that is not a number (duration, size) sets
/// `__error__="LabelFilterErr"` and keeps the line.
pub fn label_filter(f: &LabelFilter, e: &mut Entry<'_>) -> bool {
    match f {
        LabelFilter::And(a, b) => label_filter(a, e) && label_filter(b, e),
        LabelFilter::Or(a, b) => label_filter(a, e) || label_filter(b, e),
        LabelFilter::String(m) => m.matches(e.labels.get(&m.name).map_or("", String::as_str)),
        LabelFilter::Number {
            name,
            op,
            value,
            kind,
        } => {
            let Some(text) = e.labels.get(name) else {
                return *op == CmpOp::Neq;
            };
            match number_of(text, *kind) {
                Some(v) => op.holds(v, *value),
                None => {
                    let details = format!("cannot convert {text:?} of label {name} to a {kind:?}");
                    e.set_error("LabelFilterErr", details);
                    true
                }
            }
        }
    }
}

/// A label's value as a number, duration (seconds) or byte size.
pub fn number_of(text: &str, kind: NumberKind) -> Option<f64> {
    match kind {
        NumberKind::Number => text.trim().parse().ok(),
        NumberKind::Duration => parse_duration_seconds(text.trim()),
        NumberKind::Bytes => parse_bytes(text),
    }
}
