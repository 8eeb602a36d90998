//! The rule file format of Prometheus (and of Loki's ruler, whose expressions are
//! LogQL): `groups:` of `name`, `interval`, `limit`, `query_offset`, `labels`, `rules:`
//! each a recording (`record`) or alerting (`alert`) rule with `expr`, `for`,
//! `keep_firing_for`, `labels`, `annotations`. Unknown fields are errors, as
//! Prometheus' strict YAML decoding makes them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::duration;

/// A whole rule file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

/// One group as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, with = "duration::serde_opt")]
    pub interval: Option<Duration>,
    #[serde(default, with = "duration::serde_opt")]
    pub query_offset: Option<Duration>,
    /// Most alerts (or series) a rule may produce; 0 is no limit.
    #[serde(default)]
    pub limit: usize,
    /// Added to every rule's output (rule labels win).
    #[serde(default)]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(default)]
    pub expr: Scalar,
    #[serde(
        default,
        rename = "for",
        with = "duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub for_: Option<Duration>,
    #[serde(
        default,
        with = "duration::serde_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_firing_for: Option<Duration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Scalar>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Scalar>,
}

impl RuleSpec {
    /// The rule's name: the alert name, else the recorded metric (as Prometheus
    /// names a rule in its errors).
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .filter(|a| !a.is_empty())
            .or(self.record.as_deref())
            .unwrap_or("")
    }
}

/// A YAML scalar read as text, as Go's YAML decoder reads any scalar into a string
/// field (`expr: 1`, `severity: 2`, `page: true`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct Scalar(pub String);

impl Scalar {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a rule file's text.
pub fn parse(text: &str) -> Result<RuleFile, String> {
    if text.trim().is_empty() {
        return Ok(RuleFile::default());
    }
    serde_saphyr::from_str::<RuleFile>(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prometheus_rule_files() {
        let f = parse(
            r#"
groups:
  - name: api
    interval: 30s
    limit: 10
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: HighErrorRate
        expr: job:errors:ratio > 0.05
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page, tier: 1}
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value | humanizePercentage }}"
      - alert: Always
        expr: 1
"#,
        )
        .unwrap();
        let g = &f.groups[0];
        assert_eq!(g.name, "api");
        assert_eq!(g.interval, Some(Duration::from_secs(30)));
        assert_eq!(g.limit, 10);
        assert_eq!(g.rules[0].name(), "job:http_requests:rate5m");
        let a = &g.rules[1];
        assert_eq!(a.for_, Some(Duration::from_secs(300)));
        assert_eq!(a.keep_firing_for, Some(Duration::from_secs(60)));
        assert_eq!(a.labels["tier"].as_str(), "1");
        assert!(
            a.annotations["summary"]
                .as_str()
                .contains("humanizePercentage")
        );
        assert_eq!(g.rules[2].expr.as_str(), "1");
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_errors() {
        let e = parse("groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        fro: 5m\n").unwrap_err();
        assert!(e.contains("fro"), "{e}");
        let e = parse("groups:\n  - name: a\n    interval: 5 minutes\n").unwrap_err();
        assert!(e.contains("not a valid duration"), "{e}");
        assert_eq!(parse("").unwrap(), RuleFile::default());
    }
}
