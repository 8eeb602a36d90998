//! The alert history: each alert's transitions (fired, resolved), per tenant, kept in
//! memory up to [`KEEP`] entries (oldest dropped) beside the notifier's deliveries
//! (notified, failed), both answered by `GET /api/v1/alerts/history`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use osprey_promql::Labels;

use crate::eval::{AlertState, Group, Rule};

/// Transitions kept (oldest dropped).
pub const KEEP: usize = 10_000;

/// An alert that began firing or was resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub at: i64,
    pub tenant: String,
    pub group: String,
    pub rule: String,
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    /// `fired` or `resolved`.
    pub event: &'static str,
    pub value: f64,
}

/// Per rule index: each alert's (firing, resolved).
pub type States = HashMap<(usize, Labels), (bool, bool)>;

/// The alert states of a group, to compare after its next evaluation.
pub fn states(g: &Group) -> States {
    let mut out = HashMap::new();
    for (i, (rule, _)) in g.rules.iter().enumerate() {
        if let Rule::Alerting(a) = rule {
            for (labels, alert) in &a.active {
                let firing = alert.state == AlertState::Firing;
                out.insert((i, labels.clone()), (firing, alert.resolved_at.is_some()));
            }
        }
    }
    out
}

/// What changed between `before` and the group as it is now, at `ts`.
pub fn transitions(before: &States, g: &Group, ts: i64) -> Vec<Transition> {
    let mut out = Vec::new();
    for (i, (rule, _)) in g.rules.iter().enumerate() {
        let Rule::Alerting(a) = rule else { continue };
        for (labels, alert) in &a.active {
            let (was_firing, was_resolved) = before
                .get(&(i, labels.clone()))
                .copied()
                .unwrap_or((false, false));
            let event = if alert.state == AlertState::Firing && !was_firing {
                "fired"
            } else if alert.resolved_at.is_some() && !was_resolved && was_firing {
                "resolved"
            } else {
                continue;
            };
            out.push(Transition {
                at: ts,
                tenant: g.key.tenant.clone(),
                group: g.key.name.clone(),
                rule: a.name.clone(),
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                event,
                value: alert.value,
            });
        }
    }
    out
}

/// The transitions of every tenant, newest last.
#[derive(Default)]
pub struct History(Mutex<VecDeque<Transition>>);

impl History {
    pub fn record(&self, t: Vec<Transition>) {
        if t.is_empty() {
            return;
        }
        if let Ok(mut h) = self.0.lock() {
            h.extend(t);
            while h.len() > KEEP {
                h.pop_front();
            }
        }
    }

    /// `tenant`'s transitions in `start..=end`.
    pub fn query(&self, tenant: &str, start: i64, end: i64) -> Vec<Transition> {
        self.0
            .lock()
            .map(|h| {
                h.iter()
                    .filter(|e| e.tenant == tenant && (start..=end).contains(&e.at))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
