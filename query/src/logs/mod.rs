//! The log engines, over the `logs` signal of a tenant's snapshot: search
//! (`search.rs`: newest-first scan through the full-text index, `textquery.rs` turning
//! a search expression into its index query), counts over time and field summaries
//! (`stats.rs`), pattern mining (`patterns.rs`), live tail (`tail.rs`) and LogQL metric
//! queries at an instant (`logql.rs`). The language
//! itself is `osprey-logql`'s; results are typed values that `api/logs.rs` renders.

pub mod logql;
pub mod patterns;
pub mod search;
pub mod stats;
pub mod tail;
mod textquery;
