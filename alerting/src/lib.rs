//! Alerting: Prometheus rule files (and Loki-ruler files), their evaluation through
//! the query crate's typed PromQL seam, alert state, and the Prometheus `rules` and
//! `alerts` APIs. The notifier (routes, grouping, webhooks, silences) lands here next.
//!
//! - `rules/`: the rule file format (`file.rs`), Prometheus' checks (`validate.rs`).
//! - `template/`: Prometheus' template language for labels and annotations.
//! - `duration.rs`: Prometheus' duration syntax.

mod duration;
mod error;
pub mod eval;
pub mod rules;
pub mod template;

pub use error::AlertingError;
