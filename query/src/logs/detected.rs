//! What Grafana's Logs Drilldown asks of a selection of logs, answered as Loki 3 does:
//!
//! - [`fields`]: the fields of the newest lines a log query keeps. Structured metadata
//!   (with `detected_level`) gives fields with no parser; each line is then read as
//!   JSON, else as logfmt, and the parser that read it is the field's; labels the query's
//!   own parsers made are fields too. Stream labels never are (a parsed name that is
//!   one becomes `<name>_extracted`). A field's type is that of its value in the last
//!   line read (int, float, boolean, duration, bytes, else string); its cardinality is
//!   its exact count of distinct values (Loki estimates it).
//! - [`field_values`]: the distinct values of one such field (parsed byte sizes written
//!   as Loki's `humanize.Bytes`, `1024KB` → `1.0MB`).
//! - [`labels`]: the stream labels of a range and their cardinality, without those
//!   whose values are all numbers or UUIDs (but `cluster`, `namespace`, `instance`, `pod`
//!   and 0/1 flags are kept).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use osprey_logql::logql::pipeline::{self, ERROR_DETAILS_LABEL, ERROR_LABEL, Entry};
use osprey_logql::logql::{
    Labels, LogExpr, Stage, humanize_bytes, parse_bytes, parse_go_duration_seconds,
};

use super::logql::{KeptEntry, kept_lines};
use super::streams;
use crate::{QueryError, QueryState};

/// One detected field.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedField {
    pub label: String,
    /// `int`, `float`, `boolean`, `duration`, `bytes` or `string`.
    pub kind: &'static str,
    pub cardinality: usize,
    /// `json`, `logfmt`, in the order first seen; empty for structured metadata.
    pub parsers: Vec<&'static str>,
    /// For a JSON field: its path in the object, as written there.
    pub json_path: Option<Vec<String>>,
}

/// The lines sampled and how many distinct fields (or values) to keep.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub lines: usize,
    pub items: usize,
}

/// A field's value in one line and where it came from.
struct Found {
    name: String,
    value: String,
    parser: Option<&'static str>,
    json_path: Option<Vec<String>>,
}

/// The fields of one kept line: structured metadata, the query's parsed labels, then
/// the line read as JSON, else logfmt.
fn line_fields(e: &KeptEntry) -> Vec<Found> {
    let mut out = Vec::new();
    let mut metadata_names = BTreeSet::new();
    for (k, v) in &e.line.metadata {
        let name = pipeline::sanitize_label_name(k);
        metadata_names.insert(name.clone());
        out.push(Found {
            name,
            value: v.clone(),
            parser: None,
            json_path: None,
        });
    }
    let auto = auto_parse(&e.stream, &e.line.line);
    let parser = auto.as_ref().map(|(p, _)| *p);
    let mut parsed: BTreeMap<String, String> = auto.map(|(_, l)| l).unwrap_or_default();
    // Labels the query's own parsers made (not stream labels, not metadata).
    for (k, v) in &e.labels {
        if !e.stream.contains_key(k)
            && !metadata_names.contains(k)
            && k != ERROR_LABEL
            && k != ERROR_DETAILS_LABEL
            && k != "__preserve_error__"
        {
            parsed.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let paths = if parser == Some("json") {
        json_paths(&e.stream, &e.line.line)
    } else {
        HashMap::new()
    };
    for (name, value) in parsed {
        let json_path = paths.get(&name).cloned();
        out.push(Found {
            name,
            value,
            parser,
            json_path,
        });
    }
    out
}

/// The line's labels as `| json` reads them, else as `| logfmt`; `None` when neither
/// reads it.
fn auto_parse(stream: &Labels, line: &str) -> Option<(&'static str, Labels)> {
    let json = Stage::Json(Vec::new());
    let logfmt = Stage::Logfmt {
        strict: false,
        keep_empty: false,
        fields: Vec::new(),
    };
    for (name, stage) in [("json", json), ("logfmt", logfmt)] {
        let mut e = Entry::new(stream, line);
        pipeline::run(std::slice::from_ref(&stage), &mut e);
        if e.labels.contains_key(ERROR_LABEL) {
            continue;
        }
        let found: Labels = e
            .labels
            .into_iter()
            .filter(|(k, v)| !stream.contains_key(k) && !v.is_empty())
            .collect();
        if !found.is_empty() {
            return Some((name, found));
        }
    }
    None
}

/// Each JSON leaf's label name (as `| json` names it) → its path as written.
fn json_paths(stream: &Labels, line: &str) -> HashMap<String, Vec<String>> {
    fn walk(
        v: &serde_json::Value,
        path: &mut Vec<String>,
        stream: &Labels,
        out: &mut HashMap<String, Vec<String>>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    path.push(k.clone());
                    walk(x, path, stream, out);
                    path.pop();
                }
            }
            serde_json::Value::Array(_) => {}
            _ => {
                let mut name = pipeline::sanitize_label_name(&path.join("_"));
                if stream.contains_key(&name) {
                    name.push_str("_extracted");
                }
                out.insert(name, path.clone());
            }
        }
    }
    let mut out = HashMap::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        walk(&v, &mut Vec::new(), stream, &mut out);
    }
    out
}

/// Loki's `determineType`.
fn kind_of(v: &str) -> &'static str {
    if v.parse::<i64>().is_ok() {
        "int"
    } else if v.parse::<f64>().is_ok() || matches!(v, "Inf" | "+Inf" | "-Inf" | "NaN") {
        "float"
    } else if matches!(
        v,
        "t" | "T" | "TRUE" | "true" | "True" | "f" | "F" | "FALSE" | "false" | "False"
    ) {
        "boolean"
    } else if parse_go_duration_seconds(v).is_ok() {
        "duration"
    } else if parse_bytes(v).is_some() {
        "bytes"
    } else {
        "string"
    }
}

async fn sample(
    st: &QueryState,
    tenant: &str,
    log: &LogExpr,
    range: (i64, i64),
    lines: usize,
) -> Result<Vec<KeptEntry>, QueryError> {
    kept_lines(st, tenant, log, range, lines, false).await
}

/// The detected fields of the newest `limits.lines` lines `log` keeps in `range`, at
/// most `limits.items` of them, sorted by name.
pub async fn fields(
    st: &QueryState,
    tenant: &str,
    log: &LogExpr,
    range: (i64, i64),
    limits: Limits,
) -> Result<Vec<DetectedField>, QueryError> {
    struct Acc {
        kind: &'static str,
        values: BTreeSet<String>,
        parsers: Vec<&'static str>,
        json_path: Option<Vec<String>>,
    }
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for e in sample(st, tenant, log, range, limits.lines).await? {
        for f in line_fields(&e) {
            if !acc.contains_key(&f.name) && acc.len() >= limits.items {
                continue;
            }
            let a = acc.entry(f.name).or_insert_with(|| Acc {
                kind: "string",
                values: BTreeSet::new(),
                parsers: Vec::new(),
                json_path: None,
            });
            a.kind = kind_of(&f.value);
            if let Some(p) = f.parser
                && !a.parsers.contains(&p)
            {
                a.parsers.push(p);
            }
            if f.json_path.is_some() {
                a.json_path = f.json_path;
            }
            a.values.insert(f.value);
        }
    }
    Ok(acc
        .into_iter()
        .map(|(label, a)| DetectedField {
            label,
            kind: a.kind,
            cardinality: a.values.len(),
            parsers: a.parsers,
            json_path: a.json_path,
        })
        .collect())
}

/// The distinct values of field `name` among the lines [`fields`] reads, at most
/// `limits.items` (checked before each line, as Loki does), sorted.
pub async fn field_values(
    st: &QueryState,
    tenant: &str,
    log: &LogExpr,
    range: (i64, i64),
    name: &str,
    limits: Limits,
) -> Result<Vec<String>, QueryError> {
    let mut values = BTreeSet::new();
    for e in sample(st, tenant, log, range, limits.lines).await? {
        if values.len() >= limits.items {
            break;
        }
        for f in line_fields(&e).into_iter().filter(|f| f.name == name) {
            let v = match f.parser {
                Some(_) => humanized_bytes(&f.value).unwrap_or(f.value),
                None => f.value,
            };
            values.insert(v);
        }
    }
    Ok(values.into_iter().collect())
}

/// A byte size with a unit written as go-humanize's `Bytes` (SI, one decimal under 10,
/// no space): `1024 MB` → `1.0GB`; `None` for anything else.
fn humanized_bytes(v: &str) -> Option<String> {
    const UNITS: [&str; 25] = [
        "kib", "kb", "mib", "mb", "gib", "gb", "tib", "tb", "pib", "pb", "eib", "eb", "ki", "k",
        "mi", "m", "gi", "g", "ti", "t", "pi", "p", "ei", "e", "b",
    ];
    let lower = v.to_ascii_lowercase();
    if !UNITS.iter().any(|u| lower.ends_with(u)) {
        return None;
    }
    Some(humanize_bytes(parse_bytes(v)?.trunc() as u64))
}

/// The stream labels of `range` (those `selector` selects) worth breaking down by, with
/// their cardinality, sorted by name.
pub async fn labels(
    st: &QueryState,
    tenant: &str,
    selector: Option<LogExpr>,
    range: (i64, i64),
) -> Result<Vec<(String, usize)>, QueryError> {
    let list = streams::list(st, tenant, range.0, range.1, selector.into_iter().collect()).await?;
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for stream in list {
        for (k, v) in stream {
            values.entry(k).or_default().insert(v);
        }
    }
    Ok(values
        .into_iter()
        .filter(|(k, vs)| {
            matches!(k.as_str(), "cluster" | "namespace" | "instance" | "pod") || !reject(vs)
        })
        .map(|(k, vs)| (k, vs.len()))
        .collect())
}

/// Loki's `shouldRejectLabel`: values that are all ids (numbers or UUIDs), except a
/// 0/1 flag.
fn reject(values: &BTreeSet<String>) -> bool {
    if values.is_empty() {
        return true;
    }
    if values.len() <= 2 && values.iter().all(|v| v == "0" || v == "1") {
        return false;
    }
    values
        .iter()
        .all(|v| v.parse::<f64>().is_ok() || is_uuid(v))
}

fn is_uuid(v: &str) -> bool {
    let hex: String = v.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) && v.len() == 36
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_bytes_and_labels_like_loki() {
        for (v, want) in [
            ("5", "int"),
            ("10.000000", "float"),
            ("true", "boolean"),
            ("256ms", "duration"),
            ("50MB", "bytes"),
            ("line 1", "string"),
        ] {
            assert_eq!(kind_of(v), want, "{v}");
        }
        assert_eq!(humanized_bytes("1024 MB").as_deref(), Some("1.0GB"));
        assert_eq!(humanized_bytes("1024KB").as_deref(), Some("1.0MB"));
        assert_eq!(humanized_bytes("1024"), None);
        assert_eq!(humanized_bytes("250kB").as_deref(), Some("250kB"));
        let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert!(reject(&set(&["200", "404", "500"])));
        assert!(reject(&set(&["8f14e45f-ceea-467f-a9d6-3d4b2c6e7f10"])));
        assert!(!reject(&set(&["0", "1"])));
        assert!(!reject(&set(&["prod"])));
    }

    #[test]
    fn a_line_is_read_as_json_else_logfmt() {
        let stream: Labels = [("name".to_string(), "bob".to_string())].into();
        let (p, l) = auto_parse(&stream, r#"{"a":{"b-c":1},"name":"x"}"#).unwrap();
        assert_eq!(p, "json");
        assert_eq!(l.keys().collect::<Vec<_>>(), ["a_b_c", "name_extracted"]);
        assert_eq!(
            json_paths(&stream, r#"{"a":{"b-c":1}}"#)["a_b_c"],
            ["a", "b-c"]
        );
        let (p, l) = auto_parse(&stream, "level=info took=5ms").unwrap();
        assert_eq!((p, l.len()), ("logfmt", 2));
        assert!(auto_parse(&stream, "just words").is_none());
    }
}
