//! Running a log line through its pipeline, with Loki's semantics: line filters, the
//! parsers (`json`, `logfmt`, `regexp`) adding labels (sanitised names; a name taken by a
//! stream label gets `_extracted`; a line a parser cannot read gets
//! `__error__="JSONParserErr"`, …), label filters (a value that is not a number gets
//! `__error__="LabelFilterErr"` and the line is kept, for the query to skip or fail on),
//! `drop`, `keep`, `decolorize`, and `line_format`/`label_format` (`format/`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::value::RawValue;

use super::ast::*;
use super::format::{self, LabelFmt};
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
    /// The line's time (what `__timestamp__` answers in a template).
    pub ts_ns: i64,
    /// When set, parsers add only these labels (see [`required_labels`]).
    pub wanted: Option<&'s [String]>,
}

impl<'s> Entry<'s> {
    pub fn new(stream: &'s Labels, line: &str) -> Self {
        Entry {
            stream,
            labels: stream.clone(),
            line: line.to_string(),
            ts_ns: 0,
            wanted: None,
        }
    }

    /// An entry whose labels start as `labels` (the stream's, or only those of them a
    /// query reads, see [`required_labels`]); `stream` still names every stream label,
    /// so extracted names that collide with one are told apart.
    pub fn with_labels(stream: &'s Labels, labels: Labels, line: &str) -> Self {
        Entry {
            stream,
            labels,
            line: line.to_string(),
            ts_ns: 0,
            wanted: None,
        }
    }

    /// A line's structured metadata: over the stream's labels, under what parsers find.
    /// With [`Self::wanted`] set, only the wanted names are added.
    pub fn add_metadata(&mut self, metadata: &[(String, String)]) {
        for (k, v) in metadata {
            let name = match self.wanted {
                // Most names are label names already: no copy to find that out.
                Some(w) if is_label_name(k) => {
                    if !w.iter().any(|x| x == k) {
                        continue;
                    }
                    k.clone()
                }
                Some(w) => {
                    let name = sanitize_label_name(k);
                    if !w.contains(&name) {
                        continue;
                    }
                    name
                }
                None => sanitize_label_name(k),
            };
            self.labels.insert(name, v.clone());
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
        if self.wanted.is_some_and(|w| !w.contains(&name)) {
            return;
        }
        self.labels.insert(name, value);
    }

    /// Whether a parser should extract `key` (a cheap check before its value is built;
    /// [`Entry::extract`] decides).
    fn may_want(&self, key: &str) -> bool {
        let Some(w) = self.wanted else { return true };
        let name: Cow<'_, str> = if is_label_name(key) {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(sanitize_label_name(key))
        };
        w.iter().any(|x| {
            x.strip_prefix(name.as_ref())
                .is_some_and(|rest| rest.is_empty() || rest == "_extracted")
        })
    }

    fn set_error(&mut self, kind: &str, details: String) {
        if !self.labels.contains_key(ERROR_LABEL) {
            self.replace_error(kind, details);
        }
    }

    /// A template's error replaces an earlier one, as in Loki.
    fn replace_error(&mut self, kind: &str, details: String) {
        self.labels.insert(ERROR_LABEL.into(), kind.into());
        self.labels.insert(ERROR_DETAILS_LABEL.into(), details);
    }
}

/// Runs the stages; `false` when a filter drops the line.
pub fn run(stages: &[Stage], e: &mut Entry<'_>) -> bool {
    stages.iter().all(|s| stage(s, e))
}

/// A log query's line through its pipeline: `None` when a filter drops it, else the
/// labels it is returned under (stream, structured metadata and extracted labels;
/// empty values dropped; `__error__` kept, as Loki keeps it on log lines) and its
/// text after the pipeline.
pub fn process(
    log: &LogExpr,
    stream: &Labels,
    (ts_ns, line): (i64, &str),
    metadata: &[(String, String)],
) -> Option<(Labels, String)> {
    let mut e = Entry::new(stream, line);
    e.ts_ns = ts_ns;
    e.add_metadata(metadata);
    if !run(&log.pipeline, &mut e) {
        return None;
    }
    let Entry {
        mut labels, line, ..
    } = e;
    labels.retain(|_, v| !v.is_empty());
    Some((labels, line))
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
        Stage::LineFormat(t) => {
            match t.render(&t.data(&e.labels), &e.line, e.ts_ns) {
                Ok(line) => e.line = line,
                Err(details) => e.replace_error(format::TEMPLATE_ERROR, details),
            }
            true
        }
        Stage::LabelFormat(entries) => {
            label_format(entries, e);
            true
        }
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
                k == ERROR_LABEL
                    || k == ERROR_DETAILS_LABEL
                    || names
                        .iter()
                        .any(|(n, m)| n == k && m.as_ref().is_none_or(|m| m.matches(v)))
            });
            true
        }
        Stage::Pattern(p) => {
            let found: Vec<(String, String)> = p
                .extract(&e.line)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            for (k, v) in found {
                e.extract(&k, v);
            }
            true
        }
        Stage::Unpack => {
            unpack(e);
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
        LineOp::Pattern => f.patterns.iter().any(|p| p.test(line)),
        LineOp::NotPattern => !f.patterns.iter().any(|p| p.test(line)),
    }
}

/// The labels a pipeline's later stages and the caller (`also`: grouping labels, an
/// unwrapped label) read, when they can be known: a parser need extract no other.
/// `None` when a stage may read any label (`line_format`, `label_format`).
pub fn required_labels<'a>(
    stages: &[Stage],
    also: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<String>> {
    let mut out: HashSet<String> = also.into_iter().map(str::to_string).collect();
    for s in stages {
        match s {
            Stage::LabelFilter(f) => out.extend(f.names().into_iter().map(str::to_string)),
            Stage::LineFormat(_) | Stage::LabelFormat(_) => return None,
            _ => {}
        }
    }
    let mut out: Vec<String> = out.into_iter().collect();
    out.sort();
    Some(out)
}

/// A valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
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

/// A JSON object's fields, values as written (numbers keep their text, as Loki
/// keeps them).
/// A JSON object's members in document order, values unparsed, keys borrowed from the
/// line unless they hold escapes (no map is built: a line's object is read once).
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawObject<'a> {
    /// The last member named `k` (a repeated key's last value wins, as in Go).
    fn get(&self, k: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| *v)
    }
}

impl<'de> serde::Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key<'a>(Cow<'a, str>);
        impl<'de> serde::Deserialize<'de> for Key<'de> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Key<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Borrowed(v)))
                    }
                    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Owned(v.to_string())))
                    }
                }
                d.deserialize_str(V)
            }
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k.0, v));
                }
                Ok(RawObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn json(params: &[(String, Vec<PathPart>)], e: &mut Entry<'_>) {
    let line = std::mem::take(&mut e.line);
    match serde_json::from_str::<RawObject<'_>>(&line) {
        Ok(obj) if params.is_empty() => {
            let mut found = Vec::new();
            flatten("", &obj, &|k| e.may_want(k), &mut found);
            for (k, val) in found {
                e.extract(&k, val);
            }
        }
        Ok(obj) => {
            for (label, path) in params {
                let value = lookup(&obj, path).map(scalar_text).unwrap_or_default();
                e.extract(label, value);
            }
        }
        Err(err) => e.set_error("JSONParserErr", err.to_string()),
    }
    e.line = line;
}

/// `| unpack`: the string fields of a JSON object as labels (Promtail's `pack` stage
/// wrote them), its `_entry` as the line; anything else is a `JSONParserErr`.
fn unpack(e: &mut Entry<'_>) {
    let line = std::mem::take(&mut e.line);
    match serde_json::from_str::<RawObject<'_>>(&line) {
        Ok(obj) => {
            let mut entry = None;
            for (k, v) in obj.0 {
                let Ok(text) = serde_json::from_str::<String>(v.get()) else {
                    continue;
                };
                if k == "_entry" {
                    entry = Some(text);
                } else {
                    e.extract(&k, text);
                }
            }
            e.line = entry.unwrap_or(line);
        }
        Err(err) => {
            e.set_error("JSONParserErr", err.to_string());
            e.line = line;
        }
    }
}

/// The value at a `| json` parameter's path.
fn lookup<'a>(obj: &RawObject<'a>, path: &[PathPart]) -> Option<&'a RawValue> {
    let (first, rest) = path.split_first()?;
    let PathPart::Key(k) = first else { return None };
    let mut cur: &RawValue = obj.get(k)?;
    for part in rest {
        cur = match part {
            PathPart::Key(k) => serde_json::from_str::<RawObject<'_>>(cur.get())
                .ok()?
                .get(k)?,
            PathPart::Index(i) => serde_json::from_str::<Vec<&RawValue>>(cur.get())
                .ok()?
                .get(*i)
                .copied()?,
        };
    }
    Some(cur)
}

/// A value as a label: strings unquoted, `null` empty, anything else as written.
fn scalar_text(v: &RawValue) -> String {
    let text = v.get();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).unwrap_or_default()
    } else if text == "null" {
        String::new()
    } else {
        text.to_string()
    }
}

/// Every scalar field, nested objects' keys joined with `_`; arrays and nulls are not
/// extracted.
fn flatten(
    prefix: &str,
    obj: &RawObject<'_>,
    want: &dyn Fn(&str) -> bool,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in &obj.0 {
        let key = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}_{k}")
        };
        let text = v.get();
        if text.starts_with('{') {
            if let Ok(inner) = serde_json::from_str::<RawObject<'_>>(text) {
                flatten(&key, &inner, want, out);
            }
        } else if !text.starts_with('[') && text != "null" && want(&key) {
            out.push((key, scalar_text(v)));
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
            // After an earlier error only string filters drop a line (Loki's rule).
            if e.labels.contains_key(ERROR_LABEL) {
                return true;
            }
            let Some(text) = e.labels.get(name) else {
                return false;
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

/// `| label_format`: renames on the live labels in order; templates over the labels as
/// they were at the stage's first template (Loki builds that map once per line).
fn label_format(entries: &[LabelFmt], e: &mut Entry<'_>) {
    let mut snapshot: Option<Labels> = None;
    for entry in entries {
        match entry {
            LabelFmt::Rename { dst, src } => {
                // The error label is not a label a rename can read.
                if src == ERROR_LABEL {
                    continue;
                }
                if let Some(v) = e.labels.get(src).cloned() {
                    e.labels.insert(dst.clone(), v);
                    e.labels.remove(src);
                }
            }
            LabelFmt::Template { dst, tmpl } => {
                let snap = snapshot.get_or_insert_with(|| e.labels.clone());
                match tmpl.render(&tmpl.data(snap), &e.line, e.ts_ns) {
                    Ok(v) => {
                        e.labels.insert(dst.clone(), v);
                    }
                    Err(details) => e.replace_error(format::TEMPLATE_ERROR, details),
                }
            }
        }
    }
}
