//! LogQL's scan visitors' side of a batch: the columns a line is made of
//! ([`LineColumns`]: body, stream, structured metadata) and the [`Collector`] that feeds
//! each matching line to a range's extractor, bounded by the query's sample budget.
//!
//! A range whose pipeline starts with a parameterless `| json` and reads only labels
//! after it (`sum by (level) (count_over_time({…} | json [1m]))`) takes the labels it
//! needs from each file's full-text index, which keeps the `| json` labels of few
//! values as columns (`osprey_storage::index::json_fields`): the bodies are then
//! neither read nor parsed. Files whose index lacks a label the range needs are read as
//! before. A range that reads no line at all (`count_over_time({…}[1m])`, label filters
//! on stream labels) reads no body either.

use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Int32Array, RecordBatch, StringArray};
use osprey_logql::logql::{
    self, DETECTED_LEVEL, Extractor, Labels, LogExpr, ParsedLine, detected_level_pair,
    selects_stream, stream_labels,
};
use osprey_storage::index::fulltext::TextIndex;
use osprey_storage::index::json_fields::JsonColumns;
use osprey_storage::{FileMeta, Storage};

use super::logql::MAX_SAMPLES;
use super::scan::FromIndex;
use super::search::{Loc, Visitor, storage_err};
use crate::QueryError;
use crate::columns::{Maps, strings};

/// The columns a LogQL scan reads of a batch (body, service, resource, attributes,
/// severity), and the checks every line goes through first. The body is absent from
/// batches read for labels the index answers.
#[derive(Default)]
pub(super) struct LineColumns(Option<(Option<StringArray>, StringArray, Maps, Maps, Int32Array)>);

/// A kept row: its line, stream labels and structured metadata.
type Selected<'a> = (&'a str, Labels, Vec<(String, String)>);

/// A row's line and structured metadata.
type LineOf<'a> = (&'a str, Vec<(String, String)>);

pub(super) const LINE_COLUMNS: &[&str] = &[
    "body",
    "service",
    "resource",
    "attributes",
    "severity_number",
];

/// [`LINE_COLUMNS`] but the body, for lines whose labels the index holds.
const LABEL_COLUMNS: &[&str] = &["service", "resource", "attributes", "severity_number"];

impl LineColumns {
    pub(super) fn load(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        let severity = b
            .column_by_name("severity_number")
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
            .cloned()
            .ok_or_else(|| QueryError::Internal("logs batch has no severity_number".into()))?;
        let body = match b.column_by_name("body") {
            Some(_) => Some(strings(b, "body")?),
            None => None,
        };
        self.0 = Some((
            body,
            strings(b, "service")?,
            Maps::new(b, "resource")?,
            Maps::new(b, "attributes")?,
            severity,
        ));
        Ok(())
    }

    /// Whether rows `i` and `j` are of one stream (same service and resource).
    fn same_stream(&self, i: usize, j: usize) -> bool {
        self.0.as_ref().is_some_and(|(_, service, resource, _, _)| {
            service.value(i) == service.value(j) && resource.same_row(i, j)
        })
    }

    /// Row `i`'s line and structured metadata when the query's leading line filters
    /// keep it, without its stream labels (see [`Self::same_stream`]).
    /// Only the metadata whose name `keep` accepts is copied.
    fn line_of(
        &self,
        log: &LogExpr,
        i: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Option<LineOf<'_>>, QueryError> {
        let Some((Some(body), ..)) = &self.0 else {
            return Err(QueryError::Internal(
                "logql scan visited a line before its batch".into(),
            ));
        };
        let line = body.value(i);
        if !log
            .leading_line_filters()
            .all(|f| logql::pipeline::line_matches(f, line))
        {
            return Ok(None);
        }
        Ok(Some((line, self.metadata_of(i, keep)?)))
    }

    /// Row `i`'s structured metadata (its attributes and `detected_level`) whose name
    /// `keep` accepts.
    fn metadata_of(
        &self,
        i: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>, QueryError> {
        let Some((_, _, _, attributes, severity)) = &self.0 else {
            return Err(QueryError::Internal(
                "logql scan visited a row before its batch".into(),
            ));
        };
        let mut metadata = attributes.row_where(i, &keep);
        if keep(DETECTED_LEVEL) {
            metadata.push(detected_level_pair(severity.value(i)));
        }
        Ok(metadata)
    }

    /// Row `i`'s stream labels, when the query's selector keeps its stream.
    fn stream_of(&self, log: &LogExpr, i: usize) -> Option<Labels> {
        let (_, service, resource, _, _) = self.0.as_ref()?;
        let service = service.value(i);
        let labels = stream_labels(resource.row(i), service);
        selects_stream(log, &labels, service).then_some(labels)
    }

    /// Row `i`'s line, stream labels and structured metadata (its attributes and
    /// `detected_level`), when the query's leading line filters and its selector keep it.
    pub(super) fn selected(
        &self,
        log: &LogExpr,
        i: usize,
    ) -> Result<Option<Selected<'_>>, QueryError> {
        let Some((line, metadata)) = self.line_of(log, i, |_| true)? else {
            return Ok(None);
        };
        Ok(self
            .stream_of(log, i)
            .map(|labels| (line, labels, metadata)))
    }
}

/// Feeds the lines a scan visits to one range's extractor (see the module doc).
pub(super) struct Collector<'a> {
    x: Extractor<'a>,
    cols: LineColumns,
    /// The last row whose stream was decided in this batch, and whether the selector
    /// kept it: the next row of the same stream reuses that.
    last: Option<(usize, bool)>,
    /// Samples this collector kept that `held` does not count yet (it is told in
    /// blocks, not per line).
    unclaimed: usize,
    /// Samples all the range's collectors hold, and the most they may.
    held: &'a AtomicUsize,
    limit: usize,
    /// The range reads no line (nor its `| json` labels): no body is read.
    lineless: bool,
    /// The `| json` labels the range needs, when lines may be fed parsed.
    json_labels: Option<Vec<String>>,
    /// The file being visited, when its index answers `| json`.
    parsed: Option<Parsed>,
    /// The current row's key of its parsed labels (see `Extractor::push_parsed`).
    key: Vec<u64>,
    storage: Storage,
}

/// A file whose lines are fed parsed: its index's columns of the labels needed.
struct Parsed {
    file: FileMeta,
    columns: JsonColumns,
}

/// How a row reaches the extractor.
#[derive(Clone, Copy)]
enum Feed {
    /// Its line, read.
    Line,
    /// Nothing of its line: the range reads none.
    Lineless,
    /// The `| json` labels of row `.0` of the file, from its index.
    Json(u32),
}

/// Samples a collector keeps before it adds them to the shared count.
const CLAIM: usize = 4096;

impl<'a> Collector<'a> {
    pub(super) fn new(
        storage: &Storage,
        x: Extractor<'a>,
        held: &'a AtomicUsize,
        limit: usize,
    ) -> Self {
        Collector {
            lineless: !x.reads_line(),
            json_labels: x.parsed_json_labels(),
            x,
            cols: LineColumns::default(),
            last: None,
            unclaimed: 0,
            held,
            limit,
            parsed: None,
            key: Vec::new(),
            storage: storage.clone(),
        }
    }

    pub(super) fn into_extractor(self) -> Extractor<'a> {
        self.x
    }

    /// Feeds row `row` of the file whose index answers `| json`; on a
    /// pipeline error the line itself is fed, so that the error names its series as
    /// it would have.
    fn push_parsed(
        &mut self,
        ts: i64,
        row: u32,
        metadata: &[(String, String)],
    ) -> Result<(), QueryError> {
        let Some(p) = &self.parsed else {
            return Err(QueryError::Internal("no parsed file".into()));
        };
        let mut fields = Vec::new();
        let object = p.columns.row(row, &mut fields, &mut self.key);
        let parsed = ParsedLine {
            labels: object.then_some(&fields[..]),
            key: Some(&self.key[..]),
        };
        let Err(err) = self.x.push_parsed(ts, parsed, metadata) else {
            return Ok(());
        };
        let batches = self
            .storage
            .read_rows(&p.file, Some(&["body"]), Some(&[row]))
            .map_err(storage_err)?;
        let line = match batches.first() {
            Some(b) if b.num_rows() == 1 => strings(b, "body")?.value(0).to_string(),
            _ => return Err(err.into()),
        };
        self.x.push(ts, &line, metadata)?;
        Err(err.into())
    }
}

impl Visitor for Collector<'_> {
    fn columns(&self) -> &[&'static str] {
        LINE_COLUMNS
    }

    fn index_reads(&self) -> Option<FromIndex> {
        if self.lineless {
            return Some(FromIndex {
                json_labels: None,
                columns: LABEL_COLUMNS,
            });
        }
        self.json_labels.clone().map(|json_labels| FromIndex {
            json_labels: Some(json_labels),
            columns: LABEL_COLUMNS,
        })
    }

    fn begin_file(
        &mut self,
        file: Option<&FileMeta>,
        index: Option<&TextIndex>,
    ) -> Result<(), QueryError> {
        self.parsed = match (file, index, &self.json_labels) {
            (Some(file), Some(index), Some(names)) => index
                .json_columns(names)
                .map_err(storage_err)?
                .map(|columns| Parsed {
                    file: file.clone(),
                    columns,
                }),
            _ => None,
        };
        // Keys are codes of one file's columns.
        self.x.forget_keys();
        Ok(())
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.last = None;
        self.cols.load(b)
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, loc: Loc) -> Result<(), QueryError> {
        if !self.x.in_a_window(ts) {
            return Ok(());
        }
        let log = &self.x.range().log;
        let x = &self.x;
        let feed = match loc {
            _ if self.lineless => Feed::Lineless,
            Loc::File(_, row) if self.parsed.is_some() => Feed::Json(row),
            _ => Feed::Line,
        };
        let (line, metadata) = match feed {
            Feed::Lineless | Feed::Json(_) => {
                ("", self.cols.metadata_of(i, |k| x.wants_metadata(k))?)
            }
            Feed::Line => match self.cols.line_of(log, i, |k| x.wants_metadata(k))? {
                Some((line, metadata)) => (line, metadata),
                None => return Ok(()),
            },
        };
        // Rows of a stream mostly come together: its labels are set once per run.
        let kept = match self.last.take() {
            Some((j, kept)) if self.cols.same_stream(i, j) => kept,
            _ => match self.cols.stream_of(log, i) {
                Some(labels) => {
                    self.x.set_stream(&labels);
                    true
                }
                None => false,
            },
        };
        self.last = Some((i, kept));
        if !kept {
            return Ok(());
        }
        let before = self.x.samples();
        match feed {
            // Lines of a stream with the same metadata give one answer.
            Feed::Lineless => {
                let unread = ParsedLine {
                    labels: None,
                    key: Some(&[]),
                };
                self.x.push_parsed(ts, unread, &metadata)?
            }
            Feed::Json(row) => self.push_parsed(ts, row, &metadata)?,
            Feed::Line => self.x.push(ts, line, &metadata)?,
        }
        self.unclaimed += self.x.samples() - before;
        if self.unclaimed < CLAIM {
            return Ok(());
        }
        let held = self.held.fetch_add(self.unclaimed, Ordering::Relaxed) + self.unclaimed;
        self.unclaimed = 0;
        if held > self.limit {
            return Err(QueryError::Execution(format!(
                "the query's ranges hold more than {MAX_SAMPLES} samples ({} MiB): narrow the selector, add line filters or shorten the range",
                (MAX_SAMPLES * 16) >> 20
            )));
        }
        Ok(())
    }
}
