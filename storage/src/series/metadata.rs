//! Metric metadata (type, help, unit per metric family and tenant), as remote_write
//! senders and scraped expositions give it, for `/api/v1/metadata`. Bounded: at most
//! [`MAX_FAMILIES`] families per tenant (later ones are not kept), help cut to
//! [`MAX_HELP`] bytes and unit to [`MAX_UNIT`]; the newest description of a family
//! wins. In memory only: senders resend it (Prometheus every
//! minute) and scrapes carry it each time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub const MAX_FAMILIES: usize = 20_000;
pub const MAX_HELP: usize = 1024;
pub const MAX_UNIT: usize = 64;

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "type")]
    pub kind: String,
    pub help: String,
    pub unit: String,
}

#[derive(Default)]
pub struct MetadataStore {
    /// (tenant, metric family) → metadata.
    families: Mutex<BTreeMap<(String, String), Metadata>>,
    /// Families per tenant.
    counts: Mutex<std::collections::HashMap<String, usize>>,
}

impl MetadataStore {
    pub fn set(&self, tenant: &str, family: &str, m: Metadata) {
        if family.is_empty() {
            return;
        }
        let Ok(mut f) = self.families.lock() else {
            return;
        };
        let key = (tenant.to_string(), family.to_string());
        let m = Metadata {
            kind: cut(m.kind, MAX_UNIT),
            help: cut(m.help, MAX_HELP),
            unit: cut(m.unit, MAX_UNIT),
        };
        if let Some(existing) = f.get_mut(&key) {
            *existing = m;
            return;
        }
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        let n = counts.entry(tenant.to_string()).or_insert(0);
        if *n >= MAX_FAMILIES {
            return;
        }
        *n += 1;
        f.insert(key, m);
    }

    /// The tenant's families (one, when `metric` is given), at most `limit`.
    pub fn list(
        &self,
        tenant: &str,
        metric: Option<&str>,
        limit: Option<usize>,
    ) -> BTreeMap<String, Vec<Metadata>> {
        let Ok(f) = self.families.lock() else {
            return BTreeMap::new();
        };
        f.iter()
            .filter(|((t, name), _)| t == tenant && metric.is_none_or(|m| m == name))
            .take(limit.unwrap_or(usize::MAX))
            .map(|((_, name), m)| (name.clone(), vec![m.clone()]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_wins_per_tenant() {
        let s = MetadataStore::default();
        let m = |h: &str| Metadata {
            kind: "counter".into(),
            help: h.into(),
            unit: String::new(),
        };
        s.set("t", "http_requests_total", m("old"));
        s.set("t", "http_requests_total", m("Requests."));
        s.set("t", "up", m("Up."));
        s.set("other", "up", m("x"));
        let l = s.list("t", None, None);
        assert_eq!(l.len(), 2);
        assert_eq!(l["http_requests_total"][0].help, "Requests.");
        assert_eq!(s.list("t", Some("up"), None).len(), 1);
        assert_eq!(s.list("t", None, Some(1)).len(), 1);
    }
}
