//! What Prometheus checks in a rule file before it loads it (`rulefmt.Validate`), with
//! its messages: group names present and unique in the file; each rule exactly one of
//! `record`/`alert`, an `expr` that parses, no `annotations`/`for`/`keep_firing_for`
//! on recording rules, a valid metric name for `record`, valid label and annotation
//! names, and templates that parse. Unlike promtool, messages carry no line:column.

use std::collections::HashSet;

use super::file::{GroupSpec, RuleFile, RuleSpec};
use crate::template;

/// How a rule's expression is checked: PromQL for Prometheus rule files, LogQL for
/// Loki-ruler files.
pub type ExprCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// Every problem of `file`, as Prometheus words them.
pub fn validate(file: &RuleFile, check_expr: ExprCheck<'_>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for g in &file.groups {
        if g.name.is_empty() {
            errors.push("Groupname must not be empty".to_string());
        }
        if !names.insert(g.name.as_str()) {
            errors.push(format!(
                "groupname: \"{}\" is repeated in the same file",
                g.name
            ));
        }
        for (k, v) in &g.labels {
            if !is_label_name(k) || k == "__name__" {
                errors.push(format!("group {:?}: invalid label name: {k}", g.name));
            }
            let _ = v;
        }
        validate_group_rules(g, check_expr, &mut errors);
    }
    errors
}

fn validate_group_rules(g: &GroupSpec, check_expr: ExprCheck<'_>, errors: &mut Vec<String>) {
    for (i, r) in g.rules.iter().enumerate() {
        for e in rule_problems(r, check_expr) {
            errors.push(format!(
                "group {:?}, rule {}, {:?}: {e}",
                g.name,
                i + 1,
                r.name()
            ));
        }
    }
}

fn rule_problems(r: &RuleSpec, check_expr: ExprCheck<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let record = r.record.as_deref().unwrap_or("");
    let alert = r.alert.as_deref().unwrap_or("");
    if !record.is_empty() && !alert.is_empty() {
        out.push("only one of 'record' and 'alert' must be set".to_string());
    }
    if record.is_empty() && alert.is_empty() {
        out.push("one of 'record' or 'alert' must be set".to_string());
    }
    if r.expr.as_str().is_empty() {
        out.push("field 'expr' must be set in rule".to_string());
    } else if let Err(e) = check_expr(r.expr.as_str()) {
        out.push(format!("could not parse expression: {e}"));
    }
    if !record.is_empty() {
        if !r.annotations.is_empty() {
            out.push("invalid field 'annotations' in recording rule".to_string());
        }
        if r.for_.is_some_and(|d| !d.is_zero()) {
            out.push("invalid field 'for' in recording rule".to_string());
        }
        if r.keep_firing_for.is_some_and(|d| !d.is_zero()) {
            out.push("invalid field 'keep_firing_for' in recording rule".to_string());
        }
        if !is_metric_name(record) {
            out.push(format!("invalid recording rule name: {record}"));
        }
    }
    for k in r.labels.keys() {
        if !is_label_name(k) || k == "__name__" {
            out.push(format!("invalid label name: {k}"));
        }
    }
    for k in r.annotations.keys() {
        if !is_label_name(k) {
            out.push(format!("invalid annotation name: {k}"));
        }
    }
    for (kind, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
        for (k, v) in map {
            if let Err(e) = template::check(v.as_str()) {
                out.push(format!("{kind} {k:?}: error parsing template: {e}"));
            }
        }
    }
    out
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::file::parse;

    fn promql(e: &str) -> Result<(), String> {
        osprey_promql::parse(e)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reports_what_prometheus_reports() {
        let f = parse(
            r#"
groups:
  - name: g
    rules:
      - record: "bad name"
        expr: up
        for: 5m
        annotations: {a: b}
      - alert: X
        record: y
        expr: up
      - alert: Y
        expr: sum(
      - alert: Z
        expr: ""
        labels: {"0bad": x}
        annotations: {summary: "{{ $labels.x "}
  - name: g
"#,
        )
        .unwrap();
        let errs = validate(&f, &promql);
        let has = |s: &str| errs.iter().any(|e| e.contains(s));
        assert!(
            has("groupname: \"g\" is repeated in the same file"),
            "{errs:#?}"
        );
        assert!(has(
            "group \"g\", rule 1, \"bad name\": invalid field 'annotations' in recording rule"
        ));
        assert!(has("invalid field 'for' in recording rule"));
        assert!(has("invalid recording rule name: bad name"));
        assert!(has(
            "rule 2, \"X\": only one of 'record' and 'alert' must be set"
        ));
        assert!(has("rule 3, \"Y\": could not parse expression"));
        assert!(has("rule 4, \"Z\": field 'expr' must be set in rule"));
        assert!(has("invalid label name: 0bad"));
        assert!(has("annotation \"summary\": error parsing template"));
    }

    #[test]
    fn a_good_file_has_no_problems() {
        let f = parse(
            "groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: sum(up)\n      - alert: A\n        expr: up == 0\n        for: 1m\n        annotations: {s: '{{ $labels.job }} {{ $value | humanize }}'}\n",
        )
        .unwrap();
        assert_eq!(validate(&f, &promql), Vec::<String>::new());
    }
}
