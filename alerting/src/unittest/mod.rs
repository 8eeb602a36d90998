//! `osprey rules test FILE…`: rule unit tests in `promtool test rules`' format, run
//! through Osprey's own storage, PromQL engine and rule evaluation
//! (`alerting/docs/semantics.md` §9). Each test group gets a fresh storage in a
//! temporary directory holding its input series from time 0; every group of the rule
//! files is evaluated (all alerts restored) at 0, the evaluation interval, … up to
//! the last `eval_time`; alert tests compare the firing alerts after the evaluation
//! of their interval, query tests run at their `eval_time` after all evaluations.
//! The output and exit codes are promtool's.

pub(crate) mod file;
mod report;
mod series;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use osprey_promql::Labels;
use osprey_query::QueryState;
use osprey_storage::Signal;
use osprey_storage::schema::{SampleRow, samples_batch};

use crate::eval::{AlertState, Backend, Group, Health, Rule};
use crate::manager::RESEND_DELAY;
use crate::rules::check::Outcome;
use crate::rules::load::{Language, LoadedGroup, load_all};
use crate::template::Context;
use file::{TestFile, TestGroup};

/// Runs every file (all of them, even after a failure).
pub async fn run_files(files: &[String]) -> Outcome {
    let mut out = Outcome::default();
    for f in files {
        let _ = writeln!(out.stdout, "Unit Testing:  {f}");
        match run_file(f).await {
            Ok(()) => out.stdout.push_str("  SUCCESS\n"),
            Err(errors) => {
                out.code = 1;
                out.stderr.push_str("  FAILED:\n");
                for e in &errors {
                    let _ = writeln!(out.stderr, "{e}");
                    out.stdout.push('\n');
                }
            }
        }
        out.stdout.push('\n');
    }
    out
}

async fn run_file(path: &str) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{path}: {e}")])?;
    let tf = file::parse(&text).map_err(|e| vec![format!("{path}: {e}")])?;
    let dir = Path::new(path).parent().unwrap_or(Path::new(""));
    let groups = load_all(dir, &tf.rule_files, Language::PromQL)?;
    let mut seen = std::collections::HashSet::new();
    for g in &tf.group_eval_order {
        if !seen.insert(g) {
            return Err(vec![format!(
                "group name repeated in evaluation order: {g}"
            )]);
        }
    }
    let mut errors = Vec::new();
    for tg in &tf.tests {
        let mut found = run_group(&tf, tg, &groups).await;
        // A named test group's name goes in front of its first error, as promtool
        // prints it.
        if !tg.name.is_empty()
            && let Some(first) = found.first_mut()
        {
            first.insert_str(0, &format!("    name: {},\n", tg.name));
        }
        errors.extend(found);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The groups in `group_eval_order` first (in that order), then the others as loaded.
fn ordered(tf: &TestFile, loaded: &[LoadedGroup]) -> Vec<LoadedGroup> {
    let mut out: Vec<LoadedGroup> = tf
        .group_eval_order
        .iter()
        .filter_map(|n| loaded.iter().find(|g| &g.spec.name == n).cloned())
        .collect();
    out.extend(
        loaded
            .iter()
            .filter(|g| !tf.group_eval_order.contains(&g.spec.name))
            .cloned(),
    );
    out
}

async fn fresh_backend() -> Result<(Backend, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().to_path_buf();
    let storage = tokio::task::spawn_blocking(move || {
        osprey_storage::Storage::open(&path, osprey_config::StorageConfig::default())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let query = QueryState::new(storage, osprey_config::QueryConfig::default());
    Ok((
        Backend {
            query,
            output: None,
        },
        dir,
    ))
}

async fn load_input(backend: &Backend, tg: &TestGroup) -> Result<(), String> {
    let step = tg.interval.unwrap_or(Duration::ZERO).as_nanos() as i64;
    let mut rows = Vec::new();
    for s in &tg.input_series {
        let labels = series::parse_series(&s.series)?;
        let values = series::expand_values(s.values.as_str())?;
        let mut metric = String::new();
        let mut rest = Vec::new();
        for (k, v) in labels.pairs() {
            if k == "__name__" {
                metric = v.clone();
            } else {
                rest.push((k.clone(), v.clone()));
            }
        }
        for (i, v) in values.into_iter().enumerate() {
            if let Some(value) = v {
                rows.push(SampleRow {
                    metric: metric.clone(),
                    labels: rest.clone(),
                    timestamp_ns: i as i64 * step,
                    value,
                });
            }
        }
    }
    for chunk in rows.chunks(50_000) {
        let batch = samples_batch(chunk).map_err(|e| e.to_string())?;
        backend
            .query
            .storage
            .append("default", Signal::Metrics, batch)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn max_eval_time(tg: &TestGroup) -> Duration {
    tg.alert_rule_test
        .iter()
        .filter_map(|t| t.eval_time)
        .chain(tg.promql_expr_test.iter().filter_map(|t| t.eval_time))
        .max()
        .unwrap_or_default()
}

/// The firing alerts named `name` across every group, as (labels, annotations).
fn firing(groups: &[Group], name: &str) -> Vec<(Labels, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for g in groups {
        for (r, _) in &g.rules {
            if let Rule::Alerting(a) = r
                && a.name == name
            {
                for alert in a.active.values() {
                    if alert.state == AlertState::Firing {
                        out.push((
                            alert.labels.clone(),
                            alert.annotations.iter().cloned().collect(),
                        ));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

async fn run_group(tf: &TestFile, tg: &TestGroup, loaded: &[LoadedGroup]) -> Vec<String> {
    let (backend, _dir) = match fresh_backend().await {
        Ok(b) => b,
        Err(e) => return vec![format!("    {e}")],
    };
    if let Err(e) = load_input(&backend, tg).await {
        return vec![format!("    {e}")];
    }
    let interval = tf.evaluation_interval.unwrap_or(Duration::from_secs(60));
    let mut groups: Vec<Group> = ordered(tf, loaded)
        .iter()
        .map(|g| {
            let mut g = Group::new("default", g, interval, Duration::ZERO);
            g.interval = interval;
            for (r, _) in &mut g.rules {
                if let Rule::Alerting(a) = r {
                    a.restored = true;
                }
            }
            g
        })
        .collect();
    let ctx = Context {
        external_labels: tg
            .external_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        external_url: tg.external_url.clone(),
        query: None,
    };
    let mut errors = Vec::new();
    let last = max_eval_time(tg);
    let step = interval.max(Duration::from_millis(1));
    let mut t = Duration::ZERO;
    while t <= last {
        let ts = t.as_nanos() as i64;
        for g in &mut groups {
            g.eval(&backend, &ctx, ts, RESEND_DELAY).await;
            if let Some((r, s)) = g.rules.iter().find(|(_, s)| s.health == Health::Err) {
                return vec![format!(
                    "    rule: {}, time: {}, err: {}",
                    r.name(),
                    crate::duration::format(t),
                    s.last_error.clone().unwrap_or_default()
                )];
            }
        }
        for test in &tg.alert_rule_test {
            let et = test.eval_time.unwrap_or_default();
            if et >= t
                && et < t + step
                && let Some(e) = report::alerts(test, &firing(&groups, &test.alertname))
            {
                errors.push(e);
            }
        }
        t += step;
    }
    for test in &tg.promql_expr_test {
        let et = test.eval_time.unwrap_or_default();
        let got = backend
            .instant(
                "default",
                Language::PromQL,
                &test.expr,
                et.as_nanos() as i64,
            )
            .await;
        if let Some(e) = report::samples(test, got) {
            errors.push(e);
        }
    }
    errors
}
