//! LogQL, Loki's query language, as Loki documents it: log queries (a stream selector,
//! line filters, parsers, label filters) and metric queries over them (range and vector
//! aggregations, binary operations), parsed with positioned errors and evaluated at an
//! instant over lines the caller reads from storage.
//!
//! - [`parse`] → [`Query`]: `lex.rs` (tokens with offsets), `parse.rs` (the grammar;
//!   the pipeline's in `parse_pipeline.rs`),
//!   `ast.rs` (the tree), `units.rs` (durations and byte sizes).
//! - [`pipeline`]: one line through its stages (`json`, `logfmt`, `regexp`, label
//!   filters, `drop`, `keep`, `decolorize`, the `__error__` label).
//! - [`evaluate`] at one instant over [`Data`] (the lines of each range's [`window`]):
//!   `eval.rs`, `functions.rs` (range functions, aggregations), `binary.rs`.
//! - [`extractors`]: each range's samples, line by line as a scan reads them, so an
//!   engine need not hold the lines (`extract.rs`); [`prepare`] runs them over [`Data`].
//!
//! - `json.rs`: the `| json` and `| unpack` stages, reading the line in place.
//! - `pattern.rs`: pattern expressions for `| pattern` and the `|>`/`!>` filters.
//! - `streams.rs`: Loki's data model over Osprey's records (stream labels).
//! - [`pretty`]: a query written back, on one line or as `format_query` indents it.
//!
//! Not yet: `| line_format`, `| label_format`,
//! `group_left`/`group_right` (each refused with a clear error naming it).

mod ast;
mod binary;
mod eval;
mod extract;
pub mod format;
mod functions;
mod json;
mod lex;
mod parse;
mod parse_pipeline;
pub mod pattern;
pub mod pipeline;
pub mod pretty;
mod streams;
#[cfg(test)]
mod tests;
mod units;

pub use ast::*;
pub use eval::{
    Data, Extracted, Line, Prepared, Sample, Stream, Value, evaluate, evaluate_at, prepare, window,
};
pub use extract::{Extractor, ParsedLine, extractors};
pub use json::json_labels;
pub use parse::parse;
pub use streams::{
    DETECTED_LEVEL, detected_level, detected_level_pair, selects_stream, stream_labels,
};
pub use units::{humanize_bytes, parse_bytes, parse_duration_ns, parse_go_duration_seconds};

use crate::LogQueryError;

/// Most levels of parentheses a query may nest (the parser recurses once per level).
pub const MAX_DEPTH: usize = 100;

/// Loki's message shape: `parse error at line 1, col 12: syntax error: …`.
pub(crate) fn syntax_error(q: &str, offset: usize, msg: &str) -> LogQueryError {
    let before = &q[..offset.min(q.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    LogQueryError::Syntax(format!(
        "parse error at line {line}, col {col}: syntax error: {msg}"
    ))
}
