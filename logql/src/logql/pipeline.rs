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

    /// A line's structured metadata: over the stream's labels, under what parsers find.
    /// With [`Self::wanted`] set, only the wanted names are added.
    pub fn add_metadata(&mut self, metadata: &[(String, String)]) {
        for (k, v) in metadata {
            let name = match self.wanted {
                Some(w) => match wanted_name(w, k) {
                    Some(name) => name.into_owned(),
                    None => continue,
                },
                None => sanitize_label_name(k),
            };
            self.labels.insert(name, v.clone());
        }
    }

    pub(super) fn extract(&mut self, key: &str, value: String) {
        let mut name = label_name(key);
        if name.is_empty() {
            return;
        }
        if self.stream.contains_key(name.as_ref()) {
            name.to_mut().push_str("_extracted");
        }
        if self.wanted.is_some_and(|w| !w.iter().any(|x| *x == name)) {
            return;
        }
        match self.labels.get_mut(name.as_ref()) {
            Some(v) => *v = value,
            None => {
                self.labels.insert(name.into_owned(), value);
            }
        }
    }

    /// Whether a parser should extract field `key` as a label, and whether it should
    /// look into it when it is an object (its fields named `key_…`): a cheap check
    /// before a value is built ([`Entry::extract`] decides).
    pub(super) fn may_want(&self, key: &str) -> (bool, bool) {
        let Some(w) = self.wanted else {
            return (true, true);
        };
        let name = label_name(key);
        let (mut field, mut under) = (false, false);
        for x in w {
            if let Some(rest) = x.strip_prefix(name.as_ref()) {
                field |= rest.is_empty() || rest == "_extracted";
                under |= rest.starts_with('_');
            }
        }
        (field, under)
    }

    pub(super) fn set_error(&mut self, kind: &str, details: String) {
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

/// Structured metadata `key` as the label it becomes, when it is one of `wanted`.
pub(crate) fn wanted_name<'k>(wanted: &[String], key: &'k str) -> Option<Cow<'k, str>> {
    let name = label_name(key);
    wanted.iter().any(|x| *x == name).then_some(name)
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
            super::json::json(params, e);
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
            super::json::unpack(e);
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

/// `key` as a label name ([`sanitize_label_name`]); most keys are label names
/// already, and are borrowed, not copied.
pub(super) fn label_name(key: &str) -> Cow<'_, str> {
    if is_label_name(key) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(sanitize_label_name(key))
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
