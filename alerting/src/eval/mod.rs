//! Rule evaluation with Prometheus 2.42's semantics (`alerting/docs/semantics.md` §1.5,
//! §1.6, §2): a group's rules evaluated in order at one timestamp per evaluation
//! (`group.rs`), recording rules (`recording.rs`), alerting rules and their alerts
//! (`alerting.rs`), the restore of `for` state after a start (`restore.rs`), alert state
//! saved across restarts (`saved.rs`), through
//! the storage and query engines (`backend.rs`).

mod alerting;
mod backend;
mod group;
mod recording;
mod restore;
pub mod saved;

use osprey_promql::Labels;

pub use alerting::{Alert, AlertState, AlertingRule, RESOLVED_RETENTION};
pub use backend::{Backend, SampleOutput};
pub use group::{Group, GroupKey, Health, Outgoing, Rule, RuleStatus, slot_offset};
pub use recording::RecordingRule;

/// One sample of a query's result (labels with `__name__` when it has one).
pub use crate::template::Sample;

/// A sample a rule writes: its whole label set, `__name__` included.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSample {
    pub labels: Labels,
    pub value: f64,
}
