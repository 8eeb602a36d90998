//! Alert state kept across restarts: each tenant's active alerts (pending, firing, and
//! resolved ones still re-sent) per group and rule, saved as the tenant's durable
//! document `alert-state.json` when it changes, and given back to the same rules at
//! start. A firing alert therefore stays firing with its `startsAt` after a restart
//! (Prometheus re-fires it after `for`); pending alerts of rules with a long `for`
//! then also get Prometheus' restore from `ALERTS_FOR_STATE` (`restore.rs`). Restored
//! alerts go out again at the first evaluation, so the notifier (whose alerts live in
//! memory) and external Alertmanagers have them at once; the saved notification log
//! keeps that from paging twice.

use std::collections::{BTreeMap, HashMap};

use osprey_promql::Labels;
use serde::{Deserialize, Serialize};

use super::alerting::{Alert, AlertState};
use super::group::{Group, Rule};

/// The document's name.
pub const DOCUMENT: &str = "alert-state.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedAlert {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub value: f64,
    pub state: String,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: Option<i64>,
    pub keep_firing_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRule {
    pub name: String,
    /// The rule's labels as written, sorted: with the name, which rule it was.
    pub labels: Vec<(String, String)>,
    pub alerts: Vec<SavedAlert>,
}

/// A tenant's document: by group (`<file>;<name>`, Prometheus' group key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub groups: BTreeMap<String, Vec<SavedRule>>,
}

fn state_name(s: AlertState) -> &'static str {
    s.as_str()
}

fn parse_state(s: &str) -> AlertState {
    match s {
        "firing" => AlertState::Firing,
        "pending" => AlertState::Pending,
        _ => AlertState::Inactive,
    }
}

fn sorted(mut l: Vec<(String, String)>) -> Vec<(String, String)> {
    l.sort();
    l
}

/// The group's key in the document.
pub fn group_id(g: &Group) -> String {
    format!("{};{}", g.key.file, g.key.name)
}

/// What `g`'s alerting rules hold now.
pub fn save_group(g: &Group) -> Vec<SavedRule> {
    g.rules
        .iter()
        .filter_map(|(r, _)| match r {
            Rule::Alerting(a) => {
                let mut alerts: Vec<SavedAlert> = a
                    .active
                    .values()
                    .map(|x| SavedAlert {
                        labels: x.labels.pairs().to_vec(),
                        annotations: x.annotations.clone(),
                        value: x.value,
                        state: state_name(x.state).to_string(),
                        active_at: x.active_at,
                        fired_at: x.fired_at,
                        resolved_at: x.resolved_at,
                        last_sent_at: x.last_sent_at,
                        valid_until: x.valid_until,
                        keep_firing_since: x.keep_firing_since,
                    })
                    .collect();
                alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
                Some(SavedRule {
                    name: a.name.clone(),
                    labels: sorted(a.labels.clone()),
                    alerts,
                })
            }
            Rule::Recording(_) => None,
        })
        .collect()
}

/// A rule by name and sorted labels.
type RuleKey = (String, Vec<(String, String)>);

/// Gives `g`'s alerting rules the alerts saved for them (same name and labels).
pub fn restore_group(g: &mut Group, saved: &[SavedRule]) -> usize {
    let mut restored = 0;
    let mut by_rule: HashMap<RuleKey, &SavedRule> = saved
        .iter()
        .map(|r| ((r.name.clone(), r.labels.clone()), r))
        .collect();
    for (r, _) in &mut g.rules {
        let Rule::Alerting(a) = r else { continue };
        let Some(s) = by_rule.remove(&(a.name.clone(), sorted(a.labels.clone()))) else {
            continue;
        };
        for x in &s.alerts {
            let labels = Labels::new(x.labels.clone());
            a.active.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations: x.annotations.clone(),
                    value: x.value,
                    state: parse_state(&x.state),
                    active_at: x.active_at,
                    fired_at: x.fired_at,
                    resolved_at: x.resolved_at,
                    // Sent again at the first evaluation: the notifier's alerts were
                    // in memory (its log keeps it from paging twice).
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: x.keep_firing_since,
                },
            );
            restored += 1;
        }
    }
    restored
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rules::file::parse;
    use crate::rules::load::{Language, LoadedGroup};
    use crate::template::Context;

    fn group() -> Group {
        let f = parse("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n        labels: {severity: page}\n").unwrap();
        let lg = LoadedGroup {
            file: "r.yml".into(),
            spec: f.groups[0].clone(),
            language: Language::PromQL,
        };
        Group::new("default", &lg, Duration::from_secs(60), Duration::ZERO)
    }

    #[test]
    fn alerts_come_back_to_the_same_rule_firing_and_to_be_sent() {
        let mut g = group();
        if let Rule::Alerting(a) = &mut g.rules[0].0 {
            let s = crate::eval::Sample {
                labels: vec![("__name__".into(), "up".into()), ("job".into(), "x".into())],
                value: 0.0,
            };
            a.eval(0, vec![s.clone()], &Context::default(), 0).unwrap();
            a.eval(60_000_000_000, vec![s], &Context::default(), 0)
                .unwrap();
            let alert = a.active.values_mut().next().unwrap();
            assert_eq!(alert.state, AlertState::Firing);
            alert.last_sent_at = Some(60_000_000_000);
        }
        let saved = save_group(&g);
        let text = serde_json::to_string(&SavedState {
            groups: [(group_id(&g), saved)].into(),
        })
        .unwrap();
        let back: SavedState = serde_json::from_str(&text).unwrap();
        let mut fresh = group();
        assert_eq!(restore_group(&mut fresh, &back.groups["r.yml;g"]), 1);
        let Rule::Alerting(a) = &fresh.rules[0].0 else {
            panic!("alerting rule")
        };
        let alert = a.active.values().next().unwrap();
        assert_eq!(
            (alert.state, alert.active_at, alert.fired_at),
            (AlertState::Firing, 0, Some(60_000_000_000))
        );
        assert_eq!(alert.last_sent_at, None);
        assert_eq!(alert.labels.get("severity"), Some("page"));
    }
}
