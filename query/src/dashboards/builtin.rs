//! The dashboards shipped in the binary: "RED by service" (span metrics), "USE by
//! host" (node_exporter series) and "Osprey itself" (Osprey's own `/metrics`, when
//! it scrapes itself). Every tenant sees them, read-only: they are changed by saving
//! a copy. Their JSON lives beside this file, in Grafana's dashboard model.

use std::sync::LazyLock;

use serde_json::Value;

use super::{Stored, describe};

/// `(id, JSON)` of each built-in dashboard; the id is also the JSON's `uid`.
const SOURCES: &[(&str, &str)] = &[
    (
        "osprey-red-by-service",
        include_str!("builtin/red-by-service.json"),
    ),
    (
        "osprey-use-by-host",
        include_str!("builtin/use-by-host.json"),
    ),
    ("osprey-itself", include_str!("builtin/osprey-itself.json")),
];

static ALL: LazyLock<Vec<Stored>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .filter_map(|(id, src)| {
            // The sources are checked by the tests below: a broken one is skipped, not a panic.
            let dashboard: Value = serde_json::from_str(src).ok()?;
            let (title, tags) = describe(&dashboard).ok()?;
            Some(Stored {
                id: (*id).to_string(),
                version: 1,
                updated_ns: 0,
                title,
                tags,
                dashboard,
            })
        })
        .collect()
});

/// Every built-in dashboard.
pub fn all() -> &'static [Stored] {
    &ALL
}

/// The built-in dashboard `id`, if there is one.
pub fn get(id: &str) -> Option<&'static Stored> {
    ALL.iter().find(|s| s.id == id)
}

/// Whether `id` names a built-in dashboard (its id cannot be taken or changed).
pub fn is_builtin(id: &str) -> bool {
    SOURCES.iter().any(|(i, _)| *i == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_parses_with_its_id_as_uid() {
        assert_eq!(all().len(), SOURCES.len());
        for s in all() {
            assert_eq!(s.dashboard["uid"].as_str(), Some(s.id.as_str()));
            assert!(
                s.dashboard["panels"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty())
            );
        }
    }
}
