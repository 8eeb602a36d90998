//! Alertmanager's dispatcher (`dispatch/dispatch.go`, `notify/notify.go`;
//! `alerting/docs/semantics.md` §6): alerts are routed into aggregation groups (a
//! route and the values of its `group_by` labels); a new group waits `group_wait`, then
//! flushes every `group_interval`; a flush sends, per integration of the route's
//! receiver, what the notification log says is due (new firing alerts, newly resolved
//! ones when `send_resolved`, or everything again after `repeat_interval`), retrying
//! failed sends with backoff until the next flush is due; resolved alerts leave the
//! group after a successful flush.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::alert::{NotifyAlert, order};
use super::inhibit::InhibitRule;
use super::route::{Route, group_key};
use super::timeinterval::RouteTimes;

/// One aggregation group.
#[derive(Debug, Clone)]
pub struct AggrGroup {
    pub key: String,
    pub route_id: String,
    pub receiver: String,
    pub group_labels: BTreeMap<String, String>,
    pub group_interval_ns: i64,
    pub repeat_interval_ns: i64,
    /// The route's mute and active time intervals, checked at each flush.
    pub times: RouteTimes,
    pub alerts: HashMap<u64, NotifyAlert>,
    pub next_flush: i64,
    pub flushed: bool,
    pub in_flight: bool,
    /// When it last held no alert (removed 30 s later).
    pub empty_since: Option<i64>,
}

/// What the notification log keeps per group, receiver and integration.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    pub at: i64,
    pub firing: HashSet<u64>,
    pub resolved: HashSet<u64>,
}

/// Alertmanager's `DedupStage.needsUpdate`.
pub fn needs_update(
    entry: Option<&LogEntry>,
    firing: &HashSet<u64>,
    resolved: &HashSet<u64>,
    send_resolved: bool,
    repeat_ns: i64,
    now: i64,
) -> bool {
    let Some(e) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    if firing.is_empty() {
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.at < now - repeat_ns
}

/// One tenant's notifier state: the alerts it was given, its groups and its log.
#[derive(Debug, Default)]
pub struct TenantState {
    pub alerts: HashMap<u64, NotifyAlert>,
    pub groups: HashMap<(String, u64), AggrGroup>,
    /// By (group key, receiver, integration index).
    pub log: HashMap<(String, String, usize), LogEntry>,
    pub silences: super::silence::Silences,
}

impl TenantState {
    /// Takes in alerts (Alertmanager's `Put` and the dispatcher's insert).
    pub fn put(&mut self, root: &Route, alerts: Vec<NotifyAlert>, now: i64) {
        for a in alerts {
            let fp = a.fingerprint();
            let merged = match self.alerts.get_mut(&fp) {
                Some(old) => {
                    old.merge(a);
                    old.clone()
                }
                None => {
                    self.alerts.insert(fp, a.clone());
                    a
                }
            };
            for route in root.matching(&merged.labels) {
                let labels = route.group_labels(&merged.labels);
                let gfp = super::alert::fingerprint(&labels);
                let group = self
                    .groups
                    .entry((route.id.clone(), gfp))
                    .or_insert_with(|| AggrGroup {
                        key: group_key(route, &labels),
                        route_id: route.id.clone(),
                        receiver: route.receiver.clone(),
                        group_labels: labels.clone(),
                        group_interval_ns: route.group_interval.as_nanos() as i64,
                        repeat_interval_ns: route.repeat_interval.as_nanos() as i64,
                        times: route.times.clone(),
                        alerts: HashMap::new(),
                        next_flush: now + route.group_wait.as_nanos() as i64,
                        flushed: false,
                        in_flight: false,
                        empty_since: None,
                    });
                // An old alert into a group that has not sent yet: flush at once.
                if !group.flushed
                    && merged
                        .starts_at
                        .saturating_add(route.group_wait.as_nanos() as i64)
                        < now
                {
                    group.next_flush = now;
                }
                group.empty_since = None;
                group.alerts.insert(fp, merged.clone());
            }
        }
    }

    /// The groups due at `now`, marked as flushing (their next flush set).
    pub fn due(&mut self, now: i64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (k, g) in self.groups.iter_mut() {
            if !g.in_flight && g.next_flush <= now && !g.alerts.is_empty() {
                g.in_flight = true;
                g.flushed = true;
                g.next_flush = now + g.group_interval_ns;
                out.push(k.clone());
            }
        }
        out
    }

    /// Removes groups that have been empty for 30 s, and resolved alerts no group holds.
    pub fn collect_garbage(&mut self, now: i64) {
        let grace = 30 * 1_000_000_000;
        for g in self.groups.values_mut() {
            if g.alerts.is_empty() && g.empty_since.is_none() {
                g.empty_since = Some(now);
            }
        }
        self.groups
            .retain(|_, g| g.in_flight || g.empty_since.is_none_or(|t| now - t < grace));
        let held: HashSet<u64> = self
            .groups
            .values()
            .flat_map(|g| g.alerts.keys().copied())
            .collect();
        self.alerts
            .retain(|fp, a| held.contains(fp) || !a.resolved_at(now));
    }

    /// What a flush of group `k` sends: its alerts that no silence mutes and no rule
    /// inhibits, in order.
    pub fn snapshot(
        &self,
        k: &(String, u64),
        inhibit: &[InhibitRule],
        now: i64,
    ) -> Vec<NotifyAlert> {
        let Some(g) = self.groups.get(k) else {
            return Vec::new();
        };
        let mut alerts: Vec<NotifyAlert> = g
            .alerts
            .values()
            .filter(|a| self.silences.muting(&a.labels, now).is_empty())
            .filter(|a| {
                !inhibit
                    .iter()
                    .any(|r| r.inhibits(a, self.alerts.values(), now))
            })
            .cloned()
            .collect();
        alerts.sort_by(order);
        alerts
    }

    /// After a flush: clears the in-flight mark and, when every send succeeded, drops
    /// the alerts that were resolved in the snapshot and not updated since.
    pub fn flushed(&mut self, k: &(String, u64), sent: &[NotifyAlert], ok: bool, now: i64) {
        let Some(g) = self.groups.get_mut(k) else {
            return;
        };
        g.in_flight = false;
        if !ok {
            return;
        }
        for a in sent {
            if a.resolved_at(now) {
                let fp = a.fingerprint();
                if g.alerts
                    .get(&fp)
                    .is_some_and(|cur| cur.updated_at == a.updated_at)
                {
                    g.alerts.remove(&fp);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::parse;

    const S: i64 = 1_000_000_000;

    fn alert(name: &str, starts: i64, ends: Option<i64>, updated: i64) -> NotifyAlert {
        NotifyAlert {
            labels: [("alertname".to_string(), name.to_string())].into(),
            annotations: BTreeMap::new(),
            starts_at: starts,
            ends_at: ends,
            generator_url: String::new(),
            updated_at: updated,
        }
    }

    fn root() -> Route {
        let cfg = parse("route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 4h\nreceivers: [{name: r}]\n").unwrap();
        Route::build(cfg.route.as_ref().unwrap(), None, 0).unwrap()
    }

    #[test]
    fn group_wait_then_group_interval_and_old_alerts_at_once() {
        let r = root();
        let mut t = TenantState::default();
        t.put(
            &r,
            vec![alert("A", 100 * S, Some(400 * S), 100 * S)],
            100 * S,
        );
        assert!(t.due(129 * S).is_empty());
        let due = t.due(130 * S);
        assert_eq!(due.len(), 1);
        assert_eq!(t.groups[&due[0]].next_flush, 430 * S);
        t.flushed(&due[0], &[], true, 130 * S);
        // A new alert in the same (flushed) group waits for the group's next interval.
        t.put(
            &r,
            vec![alert("A", 200 * S, Some(500 * S), 200 * S)],
            200 * S,
        );
        assert!(t.due(250 * S).is_empty());
        // An alert that started long ago, into a new group: flushed at once.
        t.put(&r, vec![alert("B", 0, None, 300 * S)], 300 * S);
        assert_eq!(t.due(300 * S).len(), 1);
    }

    #[test]
    fn a_group_carries_its_routes_time_intervals() {
        let c = crate::notify::compile(
            "time_intervals:\n  - name: weekend\n    time_intervals: [{weekdays: ['saturday', 'sunday']}]\nroute:\n  receiver: r\n  routes:\n    - {matchers: ['alertname=\"A\"'], mute_time_intervals: [weekend]}\nreceivers: [{name: r}]\n",
        )
        .unwrap();
        let mut t = TenantState::default();
        t.put(&c.root, vec![alert("A", 100 * S, None, 100 * S)], 100 * S);
        t.put(&c.root, vec![alert("B", 100 * S, None, 100 * S)], 100 * S);
        let saturday = chrono::DateTime::from_timestamp_nanos(1_704_542_400 * S);
        let monday = saturday + chrono::TimeDelta::days(2);
        let muted: Vec<(bool, bool)> = {
            let mut v: Vec<_> = t
                .groups
                .values()
                .map(|g| (g.times.mutes(saturday), g.times.mutes(monday)))
                .collect();
            v.sort();
            v
        };
        // A's group (the child route) is muted on Saturday; B's (the root) never.
        assert_eq!(muted, [(false, false), (true, false)]);
    }

    #[test]
    fn a_silenced_alert_is_left_out_of_its_flush() {
        let r = root();
        let mut t = TenantState::default();
        t.put(&r, vec![alert("A", 100 * S, None, 100 * S)], 100 * S);
        let k = t.groups.keys().next().unwrap().clone();
        assert_eq!(t.snapshot(&k, &[], 101 * S).len(), 1);
        let s = crate::notify::silence::Silence {
            id: String::new(),
            matchers: vec![crate::notify::silence::SilenceMatcher {
                name: "alertname".into(),
                value: "A".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: 100 * S,
            ends_at: 200 * S,
            updated_at: 0,
            created_by: "a".into(),
            comment: "c".into(),
        };
        t.silences.set(s, 100 * S).unwrap();
        assert!(t.snapshot(&k, &[], 150 * S).is_empty());
        assert_eq!(t.snapshot(&k, &[], 201 * S).len(), 1);
    }

    #[test]
    fn the_notification_log_decides_what_is_due() {
        let set = |v: &[u64]| v.iter().copied().collect::<HashSet<u64>>();
        let e = LogEntry {
            at: 0,
            firing: set(&[1, 2]),
            resolved: set(&[]),
        };
        let h = 3600 * S;
        assert!(needs_update(None, &set(&[1]), &set(&[]), true, h, 0));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, h, 0));
        assert!(!needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            false,
            h,
            10 * S
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1, 3]),
            &set(&[]),
            false,
            h,
            10 * S
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[2]),
            true,
            h,
            10 * S
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[]),
            &set(&[1, 2]),
            false,
            h,
            10 * S
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            false,
            h,
            h + 1
        ));
    }
}
