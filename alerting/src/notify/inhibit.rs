//! Inhibition rules (`inhibit/inhibit.go`): an alert matching a rule's target matchers
//! is not notified while an unresolved alert matches its source matchers with the same
//! values of the `equal` labels (a missing label equals a missing one). A source that
//! also matches the target side does not inhibit a target that matches both sides.

use super::alert::NotifyAlert;
use super::config::InhibitRuleConfig;
use super::matcher::{Matcher, collect};

#[derive(Debug, Clone)]
pub struct InhibitRule {
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    pub equal: Vec<String>,
}

fn all_match(ms: &[Matcher], a: &NotifyAlert) -> bool {
    ms.iter().all(|m| m.matches_labels(&a.labels))
}

impl InhibitRule {
    pub fn build(c: &InhibitRuleConfig) -> Result<Self, String> {
        Ok(InhibitRule {
            source: collect(&c.source_match, &c.source_match_re, &c.source_matchers)?,
            target: collect(&c.target_match, &c.target_match_re, &c.target_matchers)?,
            equal: c.equal.clone(),
        })
    }

    /// The alert that inhibits `t`, if any, among `alerts`.
    pub fn inhibitor<'a>(
        &self,
        t: &NotifyAlert,
        alerts: impl Iterator<Item = &'a NotifyAlert>,
        now: i64,
    ) -> Option<&'a NotifyAlert> {
        if !all_match(&self.target, t) {
            return None;
        }
        let two_sided = all_match(&self.source, t);
        let get = |a: &'a NotifyAlert, l: &str| a.labels.get(l).map_or("", |v| v.as_str());
        alerts.into_iter().find(|s| {
            !s.resolved_at(now)
                && all_match(&self.source, s)
                && !(two_sided && all_match(&self.target, s))
                && self
                    .equal
                    .iter()
                    .all(|l| get(s, l) == t.labels.get(l).map_or("", String::as_str))
        })
    }

    pub fn inhibits<'a>(
        &self,
        t: &NotifyAlert,
        alerts: impl Iterator<Item = &'a NotifyAlert>,
        now: i64,
    ) -> bool {
        self.inhibitor(t, alerts, now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::notify::config::parse;

    fn alert(p: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert {
            labels: p
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: 0,
            ends_at: None,
            generator_url: String::new(),
            updated_at: 0,
        }
    }

    #[test]
    fn a_page_inhibits_warnings_of_the_same_cluster() {
        let cfg = parse("route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules:\n  - source_matchers: [severity=page]\n    target_matchers: [severity=warn]\n    equal: [cluster]\n").unwrap();
        let r = InhibitRule::build(&cfg.inhibit_rules[0]).unwrap();
        let page = alert(&[("severity", "page"), ("cluster", "a")]);
        let warn_a = alert(&[("severity", "warn"), ("cluster", "a")]);
        let warn_b = alert(&[("severity", "warn"), ("cluster", "b")]);
        let all = [page.clone(), warn_a.clone(), warn_b.clone()];
        assert!(r.inhibits(&warn_a, all.iter(), 0));
        assert!(!r.inhibits(&warn_b, all.iter(), 0));
        assert!(!r.inhibits(&page, all.iter(), 0));
        let mut resolved = page;
        resolved.ends_at = Some(0);
        assert!(!r.inhibits(&warn_a, [resolved].iter(), 0));
    }
}
