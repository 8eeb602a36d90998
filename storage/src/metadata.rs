//! Metric metadata (type, help, unit per metric family and tenant), as remote_write
//! senders and scraped expositions give it, for `/api/v1/metadata`. Bounded: at most
//! `MAX_FAMILIES` families per server (later ones are not kept); the newest
//! description of a family wins. In memory only: senders resend it (Prometheus every
//! minute) and scrapes carry it each time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

pub const MAX_FAMILIES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        if f.len() >= MAX_FAMILIES && !f.contains_key(&key) {
            return;
        }
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
