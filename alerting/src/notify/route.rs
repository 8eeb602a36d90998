//! The route tree (`dispatch/route.go`): each route's matchers, receiver, grouping and
//! timers (children inherit what they do not set), matching depth first where a
//! matching child stops its parent (`continue` only lets later siblings try), and the
//! group key Alertmanager shows (`{}/{severity="page"}:{alertname="X"}`). A route's
//! `mute_time_intervals` and `active_time_intervals` are its own (not inherited), resolved
//! by name once the whole configuration is read.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::config::RouteConfig;
use super::matcher::{Matcher, collect};
use super::timeinterval::{Intervals, RouteTimes};

/// Alertmanager's defaults (`DefaultRouteOpts`).
pub const GROUP_WAIT: Duration = Duration::from_secs(30);
pub const GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    /// These labels (none: one group for the route).
    Labels(Vec<String>),
    /// `...`: every label.
    All,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Its place in the tree (`0`, `0.1`, …), which with the group labels names a group.
    pub id: String,
    /// `{}` for the root, `{}/{m1,m2}` below it.
    pub key: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub matchers: Vec<Matcher>,
    pub continue_: bool,
    /// The time interval names as written.
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    /// Those intervals, once resolved (`resolve_time_intervals`).
    pub times: RouteTimes,
    pub routes: Vec<Route>,
}

impl Route {
    /// The tree of `cfg` (the root: `parent` None).
    pub fn build(cfg: &RouteConfig, parent: Option<&Route>, index: usize) -> Result<Route, String> {
        let matchers = collect(&cfg.match_, &cfg.match_re, &cfg.matchers)?;
        let ms = matchers
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let own_key = format!("{{{ms}}}");
        let (id, key) = match parent {
            Some(p) => (format!("{}.{index}", p.id), format!("{}/{own_key}", p.key)),
            None => ("0".to_string(), own_key),
        };
        let group_by = match &cfg.group_by {
            None => parent.map_or(GroupBy::Labels(Vec::new()), |p| p.group_by.clone()),
            Some(g) if g.iter().any(|l| l == "...") => {
                if g.len() > 1 {
                    return Err("cannot have wildcard group_by (`...`) and other other labels at the same time".into());
                }
                GroupBy::All
            }
            Some(g) => {
                let mut seen = std::collections::HashSet::new();
                for l in g {
                    if !seen.insert(l) {
                        return Err(format!("duplicated label {l:?} in group_by"));
                    }
                }
                GroupBy::Labels(g.clone())
            }
        };
        let pick = |own: Option<Duration>, inherited: Option<Duration>, default: Duration| {
            own.or(inherited).unwrap_or(default)
        };
        let mut route = Route {
            id,
            key,
            receiver: cfg
                .receiver
                .clone()
                .or_else(|| parent.map(|p| p.receiver.clone()))
                .unwrap_or_default(),
            group_by,
            group_wait: pick(cfg.group_wait, parent.map(|p| p.group_wait), GROUP_WAIT),
            group_interval: pick(
                cfg.group_interval,
                parent.map(|p| p.group_interval),
                GROUP_INTERVAL,
            ),
            repeat_interval: pick(
                cfg.repeat_interval,
                parent.map(|p| p.repeat_interval),
                REPEAT_INTERVAL,
            ),
            matchers,
            continue_: cfg.continue_,
            mute_time_intervals: cfg.mute_time_intervals.clone(),
            active_time_intervals: cfg.active_time_intervals.clone(),
            times: RouteTimes::default(),
            routes: Vec::new(),
        };
        if route.group_interval.is_zero() {
            return Err("group_interval cannot be zero".into());
        }
        if route.repeat_interval.is_zero() {
            return Err("repeat_interval cannot be zero".into());
        }
        for (i, child) in cfg.routes.iter().enumerate() {
            let c = Route::build(child, Some(&route), i)?;
            route.routes.push(c);
        }
        Ok(route)
    }

    /// The routes an alert goes to.
    pub fn matching<'a>(&'a self, labels: &BTreeMap<String, String>) -> Vec<&'a Route> {
        if !self.matchers.iter().all(|m| m.matches_labels(labels)) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let m = child.matching(labels);
            let matched = !m.is_empty();
            all.extend(m);
            if matched && !child.continue_ {
                break;
            }
        }
        if all.is_empty() { vec![self] } else { all }
    }

    /// The labels an alert is grouped by on this route.
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// Gives every route of the tree the named intervals it uses (Alertmanager's
    /// `checkTimeInterval`: children first, then active, then mute intervals).
    pub fn resolve_time_intervals(
        &mut self,
        named: &HashMap<String, Intervals>,
    ) -> Result<(), String> {
        for child in &mut self.routes {
            child.resolve_time_intervals(named)?;
        }
        let lookup = |names: &[String]| {
            names
                .iter()
                .map(|n| {
                    named
                        .get(n)
                        .cloned()
                        .ok_or_else(|| format!("undefined time interval {n:?} used in route"))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        self.times.active = lookup(&self.active_time_intervals)?;
        self.times.mute = lookup(&self.mute_time_intervals)?;
        Ok(())
    }

    /// Every receiver name the tree uses.
    pub fn receivers(&self) -> Vec<&str> {
        let mut out = vec![self.receiver.as_str()];
        for c in &self.routes {
            out.extend(c.receivers());
        }
        out
    }
}

/// Go's `%q` of a label value: `\"`, `\\` and control characters escaped.
fn go_quote(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// `LabelSet.String()`: `{a="x", b="y"}`.
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// The group key of a route and group labels.
pub fn group_key(route: &Route, group_labels: &BTreeMap<String, String>) -> String {
    format!("{}:{}", route.key, label_set_string(group_labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::parse;

    fn labels(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn routing_inheritance_and_group_keys() {
        let cfg = parse(
            r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['severity="page"', 'alertname=~"A|R"']
      receiver: pager
      continue: true
      routes:
        - match: {team: db}
          receiver: db
    - match: {severity: page}
      receiver: second
      group_by: ['...']
    - receiver: never
receivers: [{name: default}, {name: pager}, {name: db}, {name: second}, {name: never}]
"#,
        )
        .unwrap();
        let root = Route::build(cfg.route.as_ref().unwrap(), None, 0).unwrap();
        let a = labels(&[("alertname", "A"), ("severity", "page"), ("inst", "b")]);
        let got: Vec<&str> = root
            .matching(&a)
            .iter()
            .map(|r| r.receiver.as_str())
            .collect();
        // continue lets the next sibling match too; the last catch-all is not reached.
        assert_eq!(got, ["pager", "second"]);
        let pager = root.matching(&a)[0];
        assert_eq!(pager.group_wait, Duration::from_secs(10));
        assert_eq!(pager.group_interval, GROUP_INTERVAL);
        assert_eq!(
            group_key(pager, &pager.group_labels(&a)),
            r#"{}/{alertname=~"A|R",severity="page"}:{alertname="A"}"#
        );
        let second = root.matching(&a)[1];
        assert_eq!(
            group_key(second, &second.group_labels(&a)),
            r#"{}/{severity="page"}:{alertname="A", inst="b", severity="page"}"#
        );
        // A matching child stops the parent: db, not pager.
        let db = labels(&[("alertname", "A"), ("severity", "page"), ("team", "db")]);
        assert_eq!(root.matching(&db)[0].receiver, "db");
        // Nothing below matches: the catch-all child.
        let other = labels(&[("alertname", "Z")]);
        assert_eq!(root.matching(&other)[0].receiver, "never");
        assert_eq!(label_set_string(&labels(&[("a", "x\"y")])), r#"{a="x\"y"}"#);
    }
}
