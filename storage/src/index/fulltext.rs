//! Full-text index of a logs file: next to every logs Parquet file, `<file>.fts` holds a
//! tantivy index of the file's rows, one document per row, **document id = row number
//! in the file** (one segment, documents added in file order). A search asks the index
//! for the matching row numbers and reads only those rows of the Parquet file.
//!
//! Fields:
//! - `body`: the body split into lowercase alphanumeric tokens ([`tokens`]), with
//!   positions, so a phrase (consecutive tokens) is answered by the index itself.
//!   Indexes written before positions were kept (document ids only) still open:
//!   [`TextIndex::has_positions`] says which, and a phrase is then answered by the rows
//!   holding all its tokens and checked against the body;
//! - `service`: the service name, one raw term;
//! - `level`: the severity level (1 trace … 6 fatal, 0 unset, see `osprey_logql::level_of`);
//! - `attr`: one raw term `key=value` per attribute and per resource attribute (Loki's
//!   stream labels land there) whose value is at most [`MAX_ATTR_VALUE`] bytes. Indexes
//!   written before resource attributes were added say so
//!   ([`TextIndex::covers_resource`]); a `key:value` search then checks those files'
//!   rows.
//!
//! Nothing is stored in the index: rows are read from the Parquet file.
//!
//! The index is built in memory and written as one packed file (tantivy's own files
//! concatenated, a JSON table of contents and a CRC-32 of everything before it), before
//! the Parquet file is renamed into place, so a live file always has its index. It is
//! rebuilt by compaction from the merged rows and removed with its Parquet file.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use osprey_logql::level_of;

use arrow::array::{AsArray, RecordBatch};
use serde::{Deserialize, Serialize};
use tantivy::directory::RamDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, EnableScoring, Occur, PhraseQuery, Query, RegexQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer, TokenizerManager};
use tantivy::{DocSet, Index, IndexReader, ReloadPolicy, TERMINATED, TantivyDocument, Term};

use crate::StorageError;
use crate::files::blobs::Blobs;
use crate::index::json_fields::{self, Collected, JsonColumns, JsonLabels};
use crate::index::terms::{AnyTermQuery, TermBudget, TermList};

/// Attribute values longer than this are not indexed (they are still stored and
/// searchable by SQL).
pub const MAX_ATTR_VALUE: usize = 128;

const TOKENIZER: &str = "osprey";
const MAGIC: &[u8; 8] = b"OSPFTS01";

/// The index's path (relative, like the Parquet file's).
pub fn sidecar_path(parquet: &str) -> String {
    format!("{parquet}.fts")
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .build()
}

/// The tokens of `text` exactly as the index sees them: maximal runs of alphanumeric
/// characters, lowercased. The languages cut text with `osprey_logql::tokens`, which
/// must agree (pinned by `the_languages_cut_words_as_the_index_does` below).
pub fn tokens(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[derive(Clone, Copy)]
struct Fields {
    body: Field,
    service: Field,
    level: Field,
    attr: Field,
    /// The `| json` labels and whether a body is a JSON object (`json_fields`); not in
    /// indexes written before they were kept.
    json: Option<(Field, Field)>,
}

fn schema(positions: bool) -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str, option: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(option)
                .set_fieldnorms(false),
        )
    };
    let fields = Fields {
        body: b.add_text_field(
            "body",
            text(
                TOKENIZER,
                if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::Basic
                },
            ),
        ),
        service: b.add_text_field("service", text("raw", IndexRecordOption::Basic)),
        level: b.add_u64_field("level", NumericOptions::default().set_indexed()),
        attr: b.add_text_field("attr", text("raw", IndexRecordOption::Basic)),
        json: Some((
            b.add_json_field(
                json_fields::FIELD,
                JsonObjectOptions::default().set_fast("raw"),
            ),
            b.add_bool_field(
                json_fields::ERROR_FIELD,
                NumericOptions::default().set_fast(),
            ),
        )),
    };
    (b.build(), fields)
}

fn fields_of(schema: &Schema) -> Result<Fields, StorageError> {
    let f = |name: &str| schema.get_field(name).map_err(|e| fts_error("", e));
    Ok(Fields {
        body: f("body")?,
        service: f("service")?,
        level: f("level")?,
        attr: f("attr")?,
        json: schema
            .get_field(json_fields::FIELD)
            .ok()
            .zip(schema.get_field(json_fields::ERROR_FIELD).ok()),
    })
}

fn tokenizers() -> TokenizerManager {
    let m = TokenizerManager::default();
    m.register(TOKENIZER, analyzer());
    m
}

pub(crate) fn fts_error(path: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Index {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

#[derive(Serialize, Deserialize)]
struct Toc {
    files: Vec<(String, u64, u64)>,
    crc32: u32,
    /// The `attr` field holds resource attributes too.
    #[serde(default)]
    resource: bool,
    /// The file's `| json` labels (absent in indexes written before they were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<JsonLabels>,
}

/// Builds the index of the logs rows in `batch` (file order) and writes it durably
/// next to `parquet`. Returns its size in bytes.
pub fn write_sidecar(
    blobs: &Blobs,
    parquet: &str,
    batch: &RecordBatch,
    positions: bool,
) -> Result<u64, StorageError> {
    let path = sidecar_path(parquet);
    let err = |e: tantivy::TantivyError| fts_error(&path, e);
    let (schema, f) = schema(positions);
    let dir = RamDirectory::create();
    // Nothing is stored, but tantivy writes a record per document to its doc store:
    // compressed (lz4) in big blocks it costs next to nothing (uncompressed it was
    // 5 B/line on the logs workload).
    let settings = tantivy::IndexSettings {
        docstore_blocksize: 1 << 20,
        ..Default::default()
    };
    let mut w = Index::builder()
        .settings(settings)
        .schema(schema)
        .tokenizers(tokenizers())
        .single_segment_index_writer::<TantivyDocument>(dir.clone(), 64 << 20)
        .map_err(err)?;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| fts_error(&path, format!("logs batch has no {name} column")))
    };
    let body = column("body")?.as_string::<i32>();
    let service = column("service")?.as_string::<i32>();
    let severity = column("severity_number")?.as_primitive::<arrow::datatypes::Int32Type>();
    let maps = [column("attributes")?.as_map(), column("resource")?.as_map()];
    let maps: Vec<_> = maps
        .iter()
        .map(|m| {
            (
                m.keys().as_string::<i32>(),
                m.values().as_string::<i32>(),
                m.value_offsets(),
            )
        })
        .collect();
    let json = f.json.map(|fields| (Collected::new(body), fields));
    let mut kv = String::new();
    for row in 0..batch.num_rows() {
        let mut doc = TantivyDocument::new();
        doc.add_text(f.body, body.value(row));
        doc.add_text(f.service, service.value(row));
        doc.add_u64(f.level, level_of(severity.value(row)));
        for (keys, values, offsets) in &maps {
            for i in offsets[row] as usize..offsets[row + 1] as usize {
                let v = values.value(i);
                if v.len() <= MAX_ATTR_VALUE {
                    kv.clear();
                    kv.push_str(keys.value(i));
                    kv.push('=');
                    kv.push_str(v);
                    doc.add_text(f.attr, &kv);
                }
            }
        }
        if let Some((collected, fields)) = &json {
            collected.add_to(&mut doc, row, *fields);
        }
        w.add_document(doc).map_err(err)?;
    }
    let index = w.finalize().map_err(err)?;
    let mut names: Vec<std::path::PathBuf> = index
        .load_metas()
        .map_err(err)?
        .list_segment_files()
        .into_iter()
        .collect();
    names.push("meta.json".into());
    names.sort();
    let mut out = MAGIC.to_vec();
    let mut toc = Toc {
        files: Vec::new(),
        crc32: 0,
        resource: true,
        json: json.map(|(collected, _)| collected.labels()),
    };
    use tantivy::Directory;
    for name in names {
        if !dir.exists(&name).map_err(|e| fts_error(&path, e))? {
            continue;
        }
        let bytes = dir
            .open_read(&name)
            .map_err(|e| fts_error(&path, e))?
            .read_bytes()
            .map_err(|e| fts_error(&path, e))?;
        let bytes = if name.extension().is_some_and(|e| e == "store") {
            tiny_store().map_err(|e| fts_error(&path, e))?
        } else {
            bytes.as_slice()
        };
        toc.files.push((
            name.to_string_lossy().into_owned(),
            out.len() as u64,
            bytes.len() as u64,
        ));
        out.extend_from_slice(bytes);
    }
    toc.crc32 = crc32fast::hash(&out);
    let toc = serde_json::to_vec(&toc).map_err(|e| fts_error(&path, e))?;
    out.extend_from_slice(&toc);
    out.extend_from_slice(&(toc.len() as u32).to_le_bytes());
    out.extend_from_slice(MAGIC);
    let size = out.len() as u64;
    blobs.put(&path, out)?;
    Ok(size)
}

/// The doc store of a one-document index. Nothing is stored in our indexes, yet
/// tantivy's doc store keeps a 4-byte offset per document (4.3 B/line on the logs
/// workload, a third of the index). Searching never reads the store, but opening a
/// segment parses it, so each packed index carries this small valid store instead.
fn tiny_store() -> Result<&'static [u8], String> {
    static STORE: std::sync::LazyLock<Result<Vec<u8>, String>> = std::sync::LazyLock::new(|| {
        let build = || -> tantivy::Result<Vec<u8>> {
            use tantivy::Directory;
            let (schema, f) = schema(false);
            let dir = RamDirectory::create();
            let mut w = Index::builder()
                .schema(schema)
                .tokenizers(tokenizers())
                .single_segment_index_writer::<TantivyDocument>(dir.clone(), 16 << 20)?;
            let mut doc = TantivyDocument::new();
            doc.add_u64(f.level, 0);
            w.add_document(doc)?;
            let index = w.finalize()?;
            let metas = index.load_metas()?;
            let name = metas
                .list_segment_files()
                .into_iter()
                .find(|p| p.extension().is_some_and(|e| e == "store"))
                .ok_or_else(|| tantivy::TantivyError::InternalError("no store file".into()))?;
            Ok(dir.open_read(&name)?.read_bytes()?.as_slice().to_vec())
        };
        build().map_err(|e| e.to_string())
    });
    STORE.as_ref().map(|v| v.as_slice()).map_err(Clone::clone)
}

/// What to find. Tokens and terms are matched exactly: callers normalise them with
/// [`tokens`] (body) or pass raw values (service, attributes).
#[derive(Debug, Clone, PartialEq)]
pub enum TextQuery {
    All,
    /// A body token.
    Token(String),
    /// Consecutive body tokens (two or more); only for an index with positions.
    Phrase(Vec<String>),
    /// Body tokens starting with this.
    Prefix(String),
    /// Body tokens containing this.
    Contains(String),
    Service(String),
    /// Services matching a regex (whole names). A regex the term automaton cannot
    /// express (anchors, word boundaries) matches every row.
    ServiceMatches(String),
    /// Severity levels in `min..=max` (see `osprey_logql::level_of`).
    Levels {
        min: u64,
        max: u64,
    },
    /// An attribute `key=value`.
    Attr {
        key: String,
        value: String,
    },
    And(Vec<TextQuery>),
    Or(Vec<TextQuery>),
    Not(Box<TextQuery>),
}

/// An opened index.
pub struct TextIndex {
    reader: IndexReader,
    fields: Fields,
    bytes: usize,
    /// The body field holds token positions (indexes written since phrases are exact).
    positions: bool,
    /// The `attr` field holds resource attributes too.
    resource: bool,
    /// The file's `| json` labels, when the index keeps them.
    json: Option<JsonLabels>,
    /// The body terms of each segment, laid flat for substring lookups; built the first
    /// time a fragment is asked ([`TextQuery::Contains`]) and kept while `term_budget`
    /// has room for them.
    body_terms: RwLock<Option<Arc<[TermList]>>>,
    term_budget: Option<TermBudget>,
}

impl Drop for TextIndex {
    fn drop(&mut self) {
        let kept = self.body_terms.get_mut().ok().and_then(|t| t.take());
        if let (Some(lists), Some(budget)) = (kept, &self.term_budget) {
            budget.give(lists.iter().map(TermList::bytes).sum());
        }
    }
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextIndex({} bytes)", self.bytes)
    }
}

impl TextIndex {
    /// Reads and checks `parquet`'s index.
    pub fn open(blobs: &Blobs, parquet: &str) -> Result<Self, StorageError> {
        let path = sidecar_path(parquet);
        let data = blobs.get(&path)?;
        Self::from_bytes(&path, &data)
    }

    fn from_bytes(path: &str, data: &[u8]) -> Result<Self, StorageError> {
        let bad = |why: &str| fts_error(path, format!("corrupt full-text index: {why}"));
        let n = data.len();
        if n < 20 || &data[..8] != MAGIC || &data[n - 8..] != MAGIC {
            return Err(bad("bad magic"));
        }
        let toc_len =
            u32::from_le_bytes(data[n - 12..n - 8].try_into().map_err(|_| bad("toc"))?) as usize;
        let toc_start = (n - 12)
            .checked_sub(toc_len)
            .ok_or_else(|| bad("toc length"))?;
        let toc: Toc = serde_json::from_slice(&data[toc_start..n - 12]).map_err(|_| bad("toc"))?;
        if crc32fast::hash(&data[..toc_start]) != toc.crc32 {
            return Err(bad("checksum mismatch"));
        }
        let dir = RamDirectory::create();
        use tantivy::Directory;
        for (name, off, len) in &toc.files {
            let (off, len) = (*off as usize, *len as usize);
            let end = off.checked_add(len).filter(|e| *e <= toc_start);
            let end = end.ok_or_else(|| bad("file range"))?;
            dir.atomic_write(Path::new(name), &data[off..end])
                .map_err(|e| fts_error(path, e))?;
        }
        let mut index = Index::open(dir).map_err(|e| fts_error(path, e))?;
        index.set_tokenizers(tokenizers());
        let schema = index.schema();
        let fields = fields_of(&schema)?;
        let positions = match schema.get_field_entry(fields.body).field_type() {
            tantivy::schema::FieldType::Str(o) => o
                .get_indexing_options()
                .is_some_and(|i| i.index_option().has_positions()),
            _ => false,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| fts_error(path, e))?;
        Ok(TextIndex {
            reader,
            fields,
            bytes: data.len(),
            positions,
            resource: toc.resource,
            json: toc.json,
            body_terms: RwLock::new(None),
            term_budget: None,
        })
    }

    /// Bytes per component and field, for measuring (`examples/fts_usage.rs`).
    pub fn space_usage(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let Ok(usage) = self.reader.searcher().space_usage() else {
            return out;
        };
        for seg in usage.segments() {
            for (what, per_field) in [("postings", seg.postings()), ("terms", seg.termdict())] {
                for f in per_field.fields() {
                    out.push((format!("{what} {}", f.field_name()), f.total().get_bytes()));
                }
            }
            out.push(("store data".into(), seg.store().data_usage().get_bytes()));
            out.push((
                "store offsets".into(),
                seg.store().offsets_usage().get_bytes(),
            ));
        }
        out
    }

    /// Keeps body term lists only within `budget` (without one, lists are always kept:
    /// for tools and tests).
    pub fn with_term_budget(mut self, budget: TermBudget) -> Self {
        self.term_budget = Some(budget);
        self
    }

    /// The file's `| json` labels, when its index keeps them (see `json_fields`).
    pub fn json_labels(&self) -> Option<&JsonLabels> {
        self.json.as_ref()
    }

    /// The columns of the kept `| json` labels among `names`; `None` when the index
    /// keeps none (written before they were kept).
    pub fn json_columns(&self, names: &[String]) -> Result<Option<JsonColumns>, StorageError> {
        let Some(labels) = &self.json else {
            return Ok(None);
        };
        let searcher = self.reader.searcher();
        let Some(segment) = searcher.segment_readers().first() else {
            return Ok(None);
        };
        JsonColumns::open(segment.fast_fields(), labels, names).map(Some)
    }

    /// Size of the index in memory (its term lists are counted by their own budget).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The body terms holding `fragment`, through each segment's [`TermList`].
    fn body_terms_containing(&self, fragment: &str) -> Result<Vec<Term>, StorageError> {
        let lists = self.body_term_lists()?;
        Ok(lists
            .iter()
            .flat_map(|l| l.containing(fragment))
            .map(|t| Term::from_field_text(self.fields.body, t))
            .collect())
    }

    /// The kept term lists, or new ones (kept if the budget has room).
    fn body_term_lists(&self) -> Result<Arc<[TermList]>, StorageError> {
        if let Some(lists) = self.body_terms.read().ok().and_then(|t| t.clone()) {
            return Ok(lists);
        }
        let searcher = self.reader.searcher();
        let lists: Arc<[TermList]> = searcher
            .segment_readers()
            .iter()
            .map(|s| TermList::build(s, self.fields.body))
            .collect::<Result<_, _>>()
            .map_err(|e| fts_error("", format!("reading the body terms: {e}")))?;
        let Ok(mut kept) = self.body_terms.write() else {
            return Ok(lists);
        };
        if let Some(other) = kept.as_ref() {
            return Ok(other.clone()); // another query built them meanwhile
        }
        let bytes = lists.iter().map(TermList::bytes).sum();
        if self.term_budget.as_ref().is_none_or(|b| b.take(bytes)) {
            *kept = Some(lists.clone());
        }
        Ok(lists)
    }

    /// Whether phrases can be asked of this index ([`TextQuery::Phrase`]).
    pub fn has_positions(&self) -> bool {
        self.positions
    }

    /// Whether [`TextQuery::Attr`] finds resource attributes too (indexes written
    /// before they were added find attributes only).
    pub fn covers_resource(&self) -> bool {
        self.resource
    }

    fn to_tantivy(&self, q: &TextQuery) -> Result<Box<dyn Query>, StorageError> {
        let f = self.fields;
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        Ok(match q {
            TextQuery::All => Box::new(AllQuery),
            TextQuery::Token(t) => term(Term::from_field_text(f.body, t)),
            TextQuery::Phrase(ts) if ts.len() >= 2 && self.positions => Box::new(PhraseQuery::new(
                ts.iter()
                    .map(|t| Term::from_field_text(f.body, t))
                    .collect(),
            )),
            TextQuery::Phrase(ts) => {
                return Err(fts_error(
                    "",
                    format!("phrase {ts:?} needs an index with positions and two or more tokens"),
                ));
            }
            TextQuery::Prefix(p) => {
                let pattern = format!("{}.*", regex_escape(p));
                Box::new(RegexQuery::from_regex(term_regex(&pattern)?, f.body))
            }
            TextQuery::Contains(p) => {
                Box::new(AnyTermQuery::new(f.body, self.body_terms_containing(p)?))
            }
            TextQuery::Service(s) => term(Term::from_field_text(f.service, s)),
            TextQuery::ServiceMatches(re) => match term_regex(re) {
                Ok(re) => Box::new(RegexQuery::from_regex(re, f.service)),
                Err(_) => Box::new(AllQuery),
            },
            TextQuery::Levels { min, max } => Box::new(BooleanQuery::new(
                (*min..=*max)
                    .map(|l| (Occur::Should, term(Term::from_field_u64(f.level, l))))
                    .collect(),
            )),
            TextQuery::Attr { key, value } => {
                term(Term::from_field_text(f.attr, &format!("{key}={value}")))
            }
            TextQuery::And(qs) if qs.is_empty() => Box::new(AllQuery),
            TextQuery::And(qs) => {
                // `a AND NOT b`: b excludes; only an all-negative AND needs a base set.
                let positive = qs.iter().any(|q| !matches!(q, TextQuery::Not(_)));
                let mut clauses = Vec::with_capacity(qs.len() + 1);
                if !positive {
                    clauses.push((Occur::Must, Box::new(AllQuery) as Box<dyn Query>));
                }
                for q in qs {
                    clauses.push(match q {
                        TextQuery::Not(inner) => (Occur::MustNot, self.to_tantivy(inner)?),
                        q => (Occur::Must, self.to_tantivy(q)?),
                    });
                }
                Box::new(BooleanQuery::new(clauses))
            }
            TextQuery::Or(qs) => Box::new(BooleanQuery::new(
                qs.iter()
                    .map(|q| Ok((Occur::Should, self.to_tantivy(q)?)))
                    .collect::<Result<_, StorageError>>()?,
            )),
            TextQuery::Not(q) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, self.to_tantivy(q)?),
            ])),
        })
    }

    /// Row numbers (ascending) of the rows that match `q`.
    pub fn rows(&self, q: &TextQuery) -> Result<Vec<u32>, StorageError> {
        let query = self.to_tantivy(q)?;
        let searcher = self.reader.searcher();
        let err = |e: tantivy::TantivyError| fts_error("", e);
        let weight = query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(err)?;
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            let mut scorer = weight.scorer(segment, 1.0).map_err(err)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                out.push(doc);
                doc = scorer.advance();
            }
        }
        Ok(out)
    }
}

/// Term patterns of recent queries, compiled: a search asks every file's index with the
/// same pattern, and building its automaton costs more than a file's lookup.
static TERM_REGEXES: Mutex<VecDeque<(String, Arc<tantivy_fst::Regex>)>> =
    Mutex::new(VecDeque::new());

/// Patterns [`TERM_REGEXES`] keeps, and the longest it keeps (a long needle's automaton
/// is large; it is built per file instead).
const TERM_REGEXES_KEPT: usize = 16;
const TERM_REGEX_MAX_LEN: usize = 256;

/// The compiled automaton of a term pattern (whole terms), from [`TERM_REGEXES`] when a
/// recent query used it.
fn term_regex(pattern: &str) -> Result<Arc<tantivy_fst::Regex>, StorageError> {
    let compile = || {
        tantivy_fst::Regex::new(pattern)
            .map(Arc::new)
            .map_err(|e| fts_error("", format!("term pattern {pattern:?}: {e}")))
    };
    if pattern.len() > TERM_REGEX_MAX_LEN {
        return compile();
    }
    let lock = || TERM_REGEXES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, re)) = lock().iter().find(|(p, _)| p == pattern) {
        return Ok(re.clone());
    }
    let re = compile()?;
    let mut recent = lock();
    if recent.len() >= TERM_REGEXES_KEPT {
        recent.pop_front();
    }
    recent.push_back((pattern.to_string(), re.clone()));
    Ok(re)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Opened indexes by Parquet path, up to a byte budget.
pub type TextIndexCache = crate::index::cache::IndexCache<TextIndex>;

impl crate::index::cache::Cached for TextIndex {
    fn bytes(&self) -> usize {
        TextIndex::bytes(self)
    }
}

#[cfg(test)]
mod tests;
