//! The `| json` labels of a logs file, kept in its full-text index so that LogQL's
//! `sum by (level) (count_over_time({…} | json [1m]))` and the like are answered
//! without reading or parsing the bodies again (see `storage/docs/format/fulltext.md`,
//! "JSON labels").
//!
//! When the index is written, every body goes through `osprey_logql::logql::json_labels`
//! (Loki's `| json`: nested keys joined with `_`, names sanitised, the last of a repeated
//! name). A label with few values in the file ([`MAX_VALUES`], each at most
//! [`MAX_VALUE_LEN`] bytes) is *kept*: a column of the tantivy index's `json` fast field,
//! one dictionary code per row. Every other label is only *named*, so a query knows a
//! file it cannot answer from the columns. Whether each body is a JSON object at all is
//! the `json_error` column.
//!
//! Labels with many values (ids, paths, durations) would cost as much as the bodies
//! and a query grouping by one is rare: those files are read as before.

use std::collections::HashMap;

use arrow::array::{Array, StringArray};
use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;
use tantivy::columnar::{Column, StrColumn};
use tantivy::schema::{Field, OwnedValue};

use crate::StorageError;
use crate::index::fulltext::fts_error;

/// Most distinct values a label may have in a file to be kept as a column.
pub const MAX_VALUES: usize = 256;

/// Longest value a kept label may have.
pub const MAX_VALUE_LEN: usize = 128;

/// The fast field holding the kept labels (a tantivy JSON field, one path per label).
pub(crate) const FIELD: &str = "json";

/// The fast field saying which rows are not JSON objects.
pub(crate) const ERROR_FIELD: &str = "json_error";

/// Each value is written behind this byte, so that an empty value is a term too.
const PREFIX: char = '=';

/// What a file's `| json` labels are, in its index's table of contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonLabels {
    /// Labels kept as columns, sorted.
    pub kept: Vec<String>,
    /// Labels some row has but no column holds, sorted.
    pub other: Vec<String>,
}

/// A label's values while the rows are read: codes in order of appearance, until it
/// has too many.
#[derive(Default)]
struct Values {
    codes: HashMap<String, u16>,
    /// Each code's value as written (behind [`PREFIX`]).
    written: Vec<String>,
    too_many: bool,
}

/// The `| json` labels of every row of a batch, ready to be added to its documents.
pub(crate) struct Collected {
    names: Vec<String>,
    values: Vec<Values>,
    /// Per row, `(name, code)` of its labels with few values so far; rows are
    /// `offsets[row]..offsets[row + 1]`.
    pairs: Vec<(u16, u16)>,
    offsets: Vec<u32>,
    is_object: Vec<bool>,
}

impl Collected {
    /// Parses every body of `body` (one per row, in file order).
    pub(crate) fn new(body: &StringArray) -> Self {
        let mut c = Collected {
            names: Vec::new(),
            values: Vec::new(),
            pairs: Vec::new(),
            offsets: Vec::with_capacity(body.len() + 1),
            is_object: Vec::with_capacity(body.len()),
        };
        let mut ids: HashMap<String, u16> = HashMap::new();
        c.offsets.push(0);
        for row in 0..body.len() {
            let labels = osprey_logql::logql::json_labels(body.value(row));
            c.is_object.push(labels.is_some());
            for (name, value) in labels.unwrap_or_default() {
                let id = match ids.get(&name) {
                    Some(id) => *id,
                    None if c.names.len() < usize::from(u16::MAX) => {
                        let id = c.names.len() as u16;
                        ids.insert(name.clone(), id);
                        c.names.push(name);
                        c.values.push(Values::default());
                        id
                    }
                    // More names than a column set could hold: the file is read.
                    None => continue,
                };
                let v = &mut c.values[usize::from(id)];
                if v.too_many {
                    continue;
                }
                let next = v.codes.len();
                let code = match v.codes.get(&value) {
                    Some(code) => *code,
                    None if next < MAX_VALUES && value.len() <= MAX_VALUE_LEN => {
                        v.written.push(format!("{PREFIX}{value}"));
                        v.codes.insert(value, next as u16);
                        next as u16
                    }
                    None => {
                        *v = Values {
                            too_many: true,
                            ..Values::default()
                        };
                        continue;
                    }
                };
                c.pairs.push((id, code));
            }
            c.offsets.push(c.pairs.len() as u32);
        }
        c
    }

    /// Which labels are kept as columns and which only named.
    pub(crate) fn labels(&self) -> JsonLabels {
        let mut out = JsonLabels::default();
        for (name, v) in self.names.iter().zip(&self.values) {
            if v.too_many {
                out.other.push(name.clone());
            } else {
                out.kept.push(name.clone());
            }
        }
        out.kept.sort();
        out.other.sort();
        out
    }

    /// Adds row `row`'s kept labels and error flag to its document.
    pub(crate) fn add_to(&self, doc: &mut TantivyDocument, row: usize, fields: (Field, Field)) {
        let (json, error) = fields;
        doc.add_bool(error, !self.is_object[row]);
        let (lo, hi) = (self.offsets[row] as usize, self.offsets[row + 1] as usize);
        let mut object = Vec::new();
        for &(id, code) in &self.pairs[lo..hi] {
            let v = &self.values[usize::from(id)];
            if v.too_many {
                continue;
            }
            if let Some(value) = v.written.get(usize::from(code)) {
                object.push((
                    self.names[usize::from(id)].clone(),
                    OwnedValue::Str(value.clone()),
                ));
            }
        }
        if !object.is_empty() {
            doc.add_field_value(json, &OwnedValue::Object(object));
        }
    }
}

/// The kept labels a query asked for, opened on a file's index.
pub struct JsonColumns {
    error: Column<bool>,
    /// Per label asked for and kept: its name, its column and the column's values.
    columns: Vec<(String, Column<u64>, Vec<String>)>,
}

impl JsonColumns {
    /// Opens the columns of `names` (those kept among them) on `fast`.
    pub(crate) fn open(
        fast: &tantivy::fastfield::FastFieldReaders,
        labels: &JsonLabels,
        names: &[String],
    ) -> Result<Self, StorageError> {
        let err = |e: tantivy::TantivyError| fts_error("", e);
        let error = fast.bool(ERROR_FIELD).map_err(err)?;
        let mut columns = Vec::new();
        for name in names {
            if labels.kept.binary_search(name).is_err() {
                continue;
            }
            let Some(col) = fast.str(&format!("{FIELD}.{name}")).map_err(err)? else {
                continue;
            };
            columns.push((name.clone(), col.ords().clone(), dictionary(&col)?));
        }
        Ok(JsonColumns { error, columns })
    }

    /// Row `row`'s labels among those asked for, into `out`, and a key of them into
    /// `key` (equal keys, equal labels; both cleared first); `false` when its body is
    /// not a JSON object.
    pub fn row<'s>(
        &'s self,
        row: u32,
        out: &mut Vec<(&'s str, &'s str)>,
        key: &mut Vec<u64>,
    ) -> bool {
        out.clear();
        key.clear();
        if self.error.first(row).unwrap_or(true) {
            key.push(u64::MAX);
            return false;
        }
        for (name, col, values) in &self.columns {
            let found = col
                .first(row)
                .and_then(|ord| Some((ord, values.get(ord as usize)?)));
            match found {
                Some((ord, v)) => {
                    out.push((name, v));
                    key.push(ord + 1);
                }
                None => key.push(0),
            }
        }
        true
    }
}

/// A column's values by code, without the prefix they were written with.
fn dictionary(col: &StrColumn) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::with_capacity(col.num_terms());
    let mut text = String::new();
    for ord in 0..col.num_terms() as u64 {
        text.clear();
        col.ord_to_str(ord, &mut text)
            .map_err(|e| fts_error("", e))?;
        out.push(text.strip_prefix(PREFIX).unwrap_or(&text).to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::blobs::Blobs;
    use crate::index::fulltext::{TextIndex, write_sidecar};
    use crate::schema::{LogRow, logs_batch};

    fn rows(bodies: &[String]) -> arrow::array::RecordBatch {
        let rows: Vec<LogRow> = bodies
            .iter()
            .map(|b| LogRow {
                service: "api".into(),
                body: b.clone(),
                ..Default::default()
            })
            .collect();
        logs_batch(&rows).unwrap()
    }

    /// Every row's kept labels read back from the index are what `| json` gives its
    /// body; labels with many values are named, not kept; non-objects are errors.
    #[test]
    fn the_index_answers_json_as_the_stage_does() {
        let mut bodies: Vec<String> = vec![
            r#"{"level":"info","msg":"ok","user":"u-1"}"#.into(),
            r#"{"level":"warn","http":{"status":503,"method":"GET"},"level":"error"}"#.into(),
            r#"{"le-vel":"x","level":"","n":null,"a":[1,2]}"#.into(),
            "plain text line".into(),
            r#"{"level":"info" "#.into(),
            r#"  {"level":"debug","user":"u-2"}  "#.into(),
            "{}".into(),
        ];
        for i in 0..MAX_VALUES + 5 {
            bodies.push(format!(r#"{{"level":"info","user":"u-{i}"}}"#));
        }
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        write_sidecar(&blobs, "f.parquet", &rows(&bodies), true).unwrap();
        let idx = TextIndex::open(&blobs, "f.parquet").unwrap();
        let labels = idx.json_labels().unwrap();
        assert_eq!(
            labels.kept,
            ["http_method", "http_status", "le_vel", "level", "msg"]
        );
        assert_eq!(labels.other, ["user"]);
        let names: Vec<String> = ["level", "http_status", "le_vel", "user", "absent"]
            .map(String::from)
            .to_vec();
        let cols = idx.json_columns(&names).unwrap().unwrap();
        let (mut out, mut key) = (Vec::new(), Vec::new());
        let mut keys = std::collections::HashMap::new();
        for (row, body) in bodies.iter().enumerate() {
            let ok = cols.row(row as u32, &mut out, &mut key);
            let want = osprey_logql::logql::json_labels(body);
            assert_eq!(ok, want.is_some(), "row {row}: {body}");
            let mut want: Vec<(String, String)> = want
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| labels.kept.contains(k) && names.contains(k))
                .collect();
            want.sort();
            let mut got: Vec<(String, String)> = out
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            got.sort();
            assert_eq!(got, want, "row {row}: {body}");
            // One key, one set of labels.
            let seen = keys.entry(key.clone()).or_insert_with(|| (ok, got.clone()));
            assert_eq!(*seen, (ok, got), "row {row}: key {key:?}");
        }
        assert!(keys.len() > 3 && keys.len() < bodies.len());
        // The repeated name's last value, and an empty value kept as one.
        cols.row(1, &mut out, &mut key);
        assert!(out.contains(&("level", "error")));
        cols.row(2, &mut out, &mut key);
        assert!(out.contains(&("level", "")));
    }
}
