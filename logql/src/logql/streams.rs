//! Loki's data model over Osprey's log records, as Loki 3 gives OTLP data: a record's
//! resource attributes are its stream labels, with Loki's OTLP naming (`service.name` →
//! `service_name`: characters other than letters, digits and `_` become `_`), and
//! `service_name` is the record's service when no attribute gives one. A `service`
//! matcher compares the service when the stream has no `service` label, so
//! `{service="api"}` selects what the rest of Osprey calls service `api`. A record's own
//! attributes are its structured metadata: labels of that line only, with
//! `detected_level` (its severity's level, `unknown` when unset), as Loki 3 adds it.

use super::ast::{Labels, LogExpr};
use super::pipeline::sanitize_label_name;

/// A record's stream labels from its resource attributes and service.
pub fn stream_labels(
    resource: impl IntoIterator<Item = (String, String)>,
    service: &str,
) -> Labels {
    let mut labels: Labels = resource
        .into_iter()
        .map(|(k, v)| (sanitize_label_name(&k), v))
        .collect();
    if !labels.contains_key("service_name") && !service.is_empty() {
        labels.insert("service_name".into(), service.to_string());
    }
    labels.retain(|_, v| !v.is_empty());
    labels
}

/// Loki's `detected_level` structured metadata of a record with this severity number:
/// `trace`, `debug`, `info`, `warn`, `error`, `fatal`, or `unknown`.
pub fn detected_level(severity_number: i32) -> &'static str {
    match crate::level::level_of(severity_number) {
        0 => "unknown",
        l => crate::level::LEVELS[(l - 1) as usize],
    }
}

/// The structured metadata name of [`detected_level`].
pub const DETECTED_LEVEL: &str = "detected_level";

/// [`detected_level`] as a structured metadata pair.
pub fn detected_level_pair(severity_number: i32) -> (String, String) {
    (
        DETECTED_LEVEL.into(),
        detected_level(severity_number).into(),
    )
}

/// Whether a stream is selected, `service` falling back to the record's service.
pub fn selects_stream(log: &LogExpr, labels: &Labels, service: &str) -> bool {
    log.matchers.iter().all(|m| {
        let v = match labels.get(&m.name) {
            Some(v) => v.as_str(),
            None if m.name == "service" => service,
            None => "",
        };
        m.matches(v)
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Query, parse};
    use super::*;

    #[test]
    fn stream_labels_follow_lokis_otlp_naming() {
        let otlp = stream_labels(
            vec![
                ("service.name".into(), "checkout".into()),
                ("k8s.pod.name".into(), "p-1".into()),
                ("empty".into(), String::new()),
            ],
            "checkout",
        );
        let pairs: Vec<(&str, &str)> = otlp.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [("k8s_pod_name", "p-1"), ("service_name", "checkout")]
        );
        // Loki push labels stay as they are; the service fills in `service_name`.
        let loki = stream_labels(vec![("app".into(), "api".into())], "api");
        assert_eq!(loki.get("service_name").map(String::as_str), Some("api"));
        let Ok(Query::Log(sel)) = parse(r#"{service="api", app=~"a.*"}"#) else {
            panic!("a log query")
        };
        assert!(selects_stream(&sel, &loki, "api"));
        assert!(!selects_stream(&sel, &loki, "web"));
    }
}
