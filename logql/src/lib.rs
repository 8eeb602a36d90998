//! Osprey's log query languages, apart from storage and the query engine, as
//! `osprey-promql` is for PromQL: parsing, the syntax tree and matching a record, with
//! no storage or engine dependency, so they build in seconds and are fuzzed
//! (`fuzz/fuzz_targets/log_search.rs`, `logql.rs`).
//!
//! - [`search`]: the log search language of `/api/v1/logs/search` (words, phrases,
//!   prefixes, `field:value`, severities, AND/OR/NOT).
//! - [`tokens`]: how text is cut into words, the same rule as the full-text index
//!   (a property test in `osprey-storage` pins the two equal).
//! - [`level`]: severity numbers and names to levels.
//!
//! - [`logql`]: LogQL, Loki's query language (log and metric queries, evaluated over
//!   lines the caller reads).
//! - [`gotemplate`]: Go `text/template` printing and checks over the `gotmpl` crate,
//!   for LogQL's `line_format`/`label_format` and the alerting templates.

mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gotemplate;
pub mod level;
pub mod logql;
pub mod search;
pub mod tokens;

pub use error::LogQueryError;
pub use level::level_of;
pub use tokens::{Tokenizer, tokens};
