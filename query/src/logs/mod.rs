//! The log engines, over the `logs` signal of a tenant's snapshot: the logs view's
//! filter in either language (`filter.rs`), the scan under all of them (`scan.rs`:
//! the full-text index's candidates, files newest first or in parallel), search
//! (`search.rs`: newest-first pages through that scan, `textquery.rs` turning
//! a search expression into its index query), counts over time and field summaries
//! (`stats.rs`), pattern mining (`patterns.rs`), live tail (`tail.rs`), LogQL metric
//! and log queries (`logql.rs`, its lines fed by `lines.rs`) and the streams of a time range (`streams.rs`, for
//! Loki's label and series endpoints). The language itself is `osprey-logql`'s;
//! results are typed values that `api/logs.rs` and `api/loki/` render.

pub mod detected;
pub mod filter;
mod lines;
pub mod logql;
pub mod patterns;
mod scan;
pub mod search;
pub mod stats;
pub mod streams;
pub mod tail;
pub(crate) mod textquery;
