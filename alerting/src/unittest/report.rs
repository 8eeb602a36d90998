//! Comparing what a unit test expects with what evaluation gave, and promtool's words
//! for a difference (`alerting/docs/semantics.md` §9.3).

use std::collections::BTreeMap;

use osprey_promql::Labels;

use super::file::{AlertTest, ExprTest};
use super::series::parse_series;
use crate::duration;
use crate::eval::Sample;
use crate::template::gofmt;

/// `{a="b", c="d"}`, sorted by name.
fn labels_text(pairs: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = pairs.iter().collect();
    p.sort();
    let inner: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn alert_list(items: &[(Labels, BTreeMap<String, String>)]) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, (l, a)) in items.iter().enumerate() {
        let ann: Vec<(String, String)> = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        s.push_str(&format!(
            "            {i}:\n              Labels:{}\n              Annotations:{}\n",
            labels_text(l.pairs()),
            labels_text(&ann)
        ));
    }
    s.push_str("            ]");
    s
}

/// The difference between an alert test's expectation and the firing alerts, if any.
pub fn alerts(test: &AlertTest, got: &[(Labels, BTreeMap<String, String>)]) -> Option<String> {
    let mut exp: Vec<(Labels, BTreeMap<String, String>)> = test
        .exp_alerts
        .iter()
        .map(|e| {
            let mut pairs: Vec<(String, String)> = e
                .exp_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            pairs.retain(|(k, _)| k != "alertname");
            pairs.push(("alertname".into(), test.alertname.clone()));
            let ann = e
                .exp_annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            (Labels::new(pairs), ann)
        })
        .collect();
    exp.sort();
    if exp == got {
        return None;
    }
    Some(format!(
        "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        test.alertname,
        duration::format(test.eval_time.unwrap_or_default()),
        alert_list(&exp),
        alert_list(got)
    ))
}

fn samples_text(s: &[(Labels, f64)]) -> String {
    if s.is_empty() {
        return "nil".into();
    }
    s.iter()
        .map(|(l, v)| format!("{} {}", labels_text(l.pairs()), gofmt::e(*v).to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The difference between a query test's expectation and the query's result, if any.
pub fn samples(test: &ExprTest, got: Result<Vec<Sample>, String>) -> Option<String> {
    let head = format!(
        "    expr: {:?}, time: {},",
        test.expr,
        duration::format(test.eval_time.unwrap_or_default())
    );
    let got = match got {
        Ok(g) => g,
        Err(e) => return Some(format!("{head}\n        err: {e}")),
    };
    let mut exp = Vec::new();
    for s in &test.exp_samples {
        match parse_series(&s.labels) {
            Ok(l) => exp.push((l, s.value)),
            Err(e) => return Some(format!("{head}\n        err: {e}")),
        }
    }
    let mut got: Vec<(Labels, f64)> = got
        .into_iter()
        .map(|s| (Labels::new(s.labels), s.value))
        .collect();
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // Floats compare with ==: NaN never equals, as in promtool 2.42.
    let same =
        exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
    if same {
        return None;
    }
    Some(format!(
        "{head}\n        exp: {}\n        got: {}",
        samples_text(&exp),
        samples_text(&got)
    ))
}
