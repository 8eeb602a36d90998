//! Prometheus relabelling (`replace`, `keep`, `drop`, `labelmap`, `labeldrop`,
//! `labelkeep`) over a label map, with anchored regexes compiled once.

use std::collections::BTreeMap;

use osprey_config::{RelabelAction, RelabelConfig};
use regex::Regex;

pub type LabelMap = BTreeMap<String, String>;

pub struct Rule {
    cfg: RelabelConfig,
    re: Regex,
}

impl Rule {
    pub fn compile(cfg: &RelabelConfig) -> Result<Rule, regex::Error> {
        Ok(Rule {
            re: cfg.compiled_regex()?,
            cfg: cfg.clone(),
        })
    }
}

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Applies the rules in order; `false` means the target or sample is dropped.
pub fn apply(rules: &[Rule], labels: &mut LabelMap) -> bool {
    for r in rules {
        let c = &r.cfg;
        let value = || {
            c.source_labels
                .iter()
                .map(|n| labels.get(n).map(String::as_str).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&c.separator)
        };
        match c.action {
            RelabelAction::Keep => {
                if !r.re.is_match(&value()) {
                    return false;
                }
            }
            RelabelAction::Drop => {
                if r.re.is_match(&value()) {
                    return false;
                }
            }
            RelabelAction::Replace => {
                let v = value();
                let Some(caps) = r.re.captures(&v) else {
                    continue;
                };
                let mut target = String::new();
                caps.expand(&c.target_label, &mut target);
                if !valid_label_name(&target) {
                    continue;
                }
                let mut res = String::new();
                caps.expand(&c.replacement, &mut res);
                if res.is_empty() {
                    labels.remove(&target);
                } else {
                    labels.insert(target, res);
                }
            }
            RelabelAction::Labelmap => {
                let add: Vec<(String, String)> = labels
                    .iter()
                    .filter_map(|(n, v)| {
                        let caps = r.re.captures(n)?;
                        let mut name = String::new();
                        caps.expand(&c.replacement, &mut name);
                        Some((name, v.clone()))
                    })
                    .collect();
                labels.extend(add);
            }
            RelabelAction::Labeldrop => labels.retain(|n, _| !r.re.is_match(n)),
            RelabelAction::Labelkeep => labels.retain(|n, _| r.re.is_match(n)),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: RelabelAction, src: &[&str], regex: &str, target: &str, repl: &str) -> Rule {
        Rule::compile(&RelabelConfig {
            source_labels: src.iter().map(|s| s.to_string()).collect(),
            regex: regex.into(),
            target_label: target.into(),
            replacement: repl.into(),
            action,
            ..Default::default()
        })
        .unwrap()
    }

    fn labels(p: &[(&str, &str)]) -> LabelMap {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn replace_keep_drop_and_label_actions() {
        let mut l = labels(&[
            ("__address__", "10.0.0.1:9100"),
            ("job", "node"),
            ("__meta_x", "1"),
        ]);
        let rules = [
            rule(
                RelabelAction::Replace,
                &["__address__"],
                "(.*):\\d+",
                "host",
                "$1",
            ),
            rule(RelabelAction::Keep, &["job"], "node|api", "", ""),
            rule(RelabelAction::Labelmap, &[], "__meta_(.*)", "", "m_$1"),
            rule(RelabelAction::Labeldrop, &[], "__meta_.*", "", ""),
        ];
        assert!(apply(&rules, &mut l));
        assert_eq!(l.get("host").map(String::as_str), Some("10.0.0.1"));
        assert_eq!(l.get("m_x").map(String::as_str), Some("1"));
        assert!(!l.contains_key("__meta_x"));
        // The regex is anchored: "no" does not match "node".
        let drop = [rule(RelabelAction::Drop, &["job"], "no", "", "")];
        assert!(apply(&drop, &mut l));
        let drop = [rule(RelabelAction::Drop, &["job"], "no.*", "", "")];
        assert!(!apply(&drop, &mut l));
        // An empty replacement removes the target label.
        let clear = [rule(RelabelAction::Replace, &["job"], ".*", "host", "")];
        assert!(apply(&clear, &mut l));
        assert!(!l.contains_key("host"));
        let keep_only = [rule(RelabelAction::Labelkeep, &[], "job", "", "")];
        assert!(apply(&keep_only, &mut l));
        assert_eq!(l, labels(&[("job", "node")]));
    }
}
