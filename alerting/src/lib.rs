//! Alerting: Prometheus rule files (and Loki-ruler files), their evaluation through
//! the query crate's typed PromQL seam, alert state, and the Prometheus `rules` and
//! `alerts` APIs, and the built-in notifier.
//!
//! - `rules/`: the rule file format (`file.rs`), Prometheus' checks (`validate.rs`),
//!   finding and loading files (`load.rs`).
//! - `eval/`: evaluation with Prometheus 2.42's semantics (groups, recording and
//!   alerting rules, restore of `for` state) through `backend.rs`.
//! - `manager.rs`: every tenant's groups on their own tasks; reload all or nothing.
//! - `forward.rs`: alerts to external Alertmanagers (API v2), as Prometheus sends them.
//! - `history.rs`: the alerts' transitions (fired, resolved) for the history API.
//! - `notify/`: the built-in notifier (an unchanged `alertmanager.yml`: routes,
//!   grouping, timers, inhibition, webhooks), Alertmanager 0.25's behaviour.
//! - `api/`: `/api/v1/rules`, `/api/v1/alerts`, `/-/reload`, the ruler and
//!   Alertmanager APIs; on a cluster's querier, passed on to the compactor
//!   (`remote.rs`).
//! - `unittest/`: `osprey rules test`, promtool's rule unit tests.
//! - `template/`: Prometheus' template language for labels and annotations.
//! - `duration.rs`: Prometheus' duration syntax.

pub mod api;
mod duration;
mod error;
pub mod eval;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod manager;
pub mod metrics;
pub mod notify;
pub mod rules;
pub mod template;
pub mod unittest;

pub use api::{remote_router, router};
pub use error::AlertingError;
pub use manager::RuleManager;
pub use metrics::AlertingMetrics;
