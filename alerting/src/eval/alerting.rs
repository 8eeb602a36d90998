//! An alerting rule and its alerts, with Prometheus 2.42's state machine
//! (`rules/alerting.go`; `alerting/docs/semantics.md` §2): pending after the first
//! true evaluation, firing once `for` has passed, kept firing for `keep_firing_for`
//! after the condition stops, resolved alerts kept (and re-sent) for 15 minutes; the
//! `ALERTS` and `ALERTS_FOR_STATE` series once the rule's state is restored.

use std::collections::HashMap;
use std::time::Duration;

use osprey_promql::Labels;

use super::{OutSample, Sample};
use crate::template::{self, Context};

/// How long a resolved alert is kept, and re-sent as resolved.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: a label set the expression returned. Times are Unix ns.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub value: f64,
    pub state: AlertState,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: Option<i64>,
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether it goes to the notifier at `ts` (Prometheus' `needsSending`): never while
    /// pending; at once when newly resolved; else when the last send is more than
    /// `resend_delay` ago.
    pub fn needs_sending(&self, ts: i64, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at;
        if let Some(r) = self.resolved_at
            && last.is_none_or(|l| r > l)
        {
            return true;
        }
        last.is_none_or(|l| l + (resend_delay.as_nanos() as i64) < ts)
    }
}

/// An alerting rule as loaded, with its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub name: String,
    pub expr: String,
    pub hold: Duration,
    pub keep_firing_for: Duration,
    /// As written (templates unexpanded), group labels included.
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// By label set.
    pub active: HashMap<Labels, Alert>,
    /// Whether `for` state has been restored after a start; `ALERTS` is written only then.
    pub restored: bool,
}

impl AlertingRule {
    /// The rule's state: the most advanced of its alerts'.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .filter(|a| a.resolved_at.is_none())
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// One evaluation at `ts` with the query's result: updates the alerts and returns
    /// the `ALERTS`/`ALERTS_FOR_STATE` samples to write, or Prometheus' error.
    pub fn eval(
        &mut self,
        ts: i64,
        result: Vec<Sample>,
        tmpl: &Context,
        limit: usize,
    ) -> Result<Vec<OutSample>, String> {
        let mut fresh: HashMap<Labels, Alert> = HashMap::new();
        let template_name = format!("__alert_{}", self.name);
        for s in result {
            let expand =
                |text: &str| template::expand(tmpl, &template_name, text, &s.labels, s.value);
            let mut pairs: Vec<(String, String)> = s
                .labels
                .iter()
                .filter(|(k, _)| k != "__name__")
                .cloned()
                .collect();
            for (k, v) in &self.labels {
                pairs.retain(|(x, _)| x != k);
                pairs.push((k.clone(), expand(v)));
            }
            pairs.retain(|(k, _)| k != "alertname");
            pairs.push(("alertname".into(), self.name.clone()));
            let labels = Labels::new(pairs);
            let annotations = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand(v)))
                .collect();
            if fresh.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    value: s.value,
                    state: AlertState::Pending,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }
        for (k, a) in &fresh {
            match self.active.get_mut(k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations.clone();
                }
                _ => {
                    self.active.insert(k.clone(), a.clone());
                }
            }
        }
        self.advance(ts, &fresh, limit)
    }

    /// Resolves, keeps firing, promotes and retires alerts after an evaluation.
    fn advance(
        &mut self,
        ts: i64,
        fresh: &HashMap<Labels, Alert>,
        limit: usize,
    ) -> Result<Vec<OutSample>, String> {
        let mut active_count = 0;
        let mut out = Vec::new();
        let keep_for = self.keep_firing_for.as_nanos() as i64;
        let hold = self.hold.as_nanos() as i64;
        let retention = RESOLVED_RETENTION.as_nanos() as i64;
        let mut retire = Vec::new();
        for (k, a) in self.active.iter_mut() {
            if !fresh.contains_key(k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < keep_for;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at.is_some_and(|r| ts - r > retention)
                {
                    retire.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if self.restored {
                out.push(self_sample(&self.labels, a, "ALERTS", 1.0));
                out.push(self_sample(
                    &self.labels,
                    a,
                    "ALERTS_FOR_STATE",
                    (a.active_at.div_euclid(1_000_000_000)) as f64,
                ));
            }
        }
        for k in retire {
            self.active.remove(&k);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            ));
        }
        Ok(out)
    }
}

/// An `ALERTS` (with `alertstate`) or `ALERTS_FOR_STATE` sample: the rule's raw labels
/// overlaid with the alert's, as Prometheus builds them.
pub(super) fn self_sample(
    rule_labels: &[(String, String)],
    a: &Alert,
    name: &str,
    value: f64,
) -> OutSample {
    let mut pairs: Vec<(String, String)> = rule_labels.to_vec();
    for (k, v) in a.labels.pairs() {
        pairs.retain(|(x, _)| x != k);
        pairs.push((k.clone(), v.clone()));
    }
    pairs.push(("__name__".into(), name.into()));
    if name == "ALERTS" {
        pairs.push(("alertstate".into(), a.state.as_str().into()));
    }
    OutSample {
        labels: Labels::new(pairs),
        value,
    }
}

#[cfg(test)]
mod tests;
