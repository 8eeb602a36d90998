//! The metadata endpoints' engines, through the series index without reading
//! samples: series matching `match[]` selectors, label names and values, and the
//! exemplars of the series a query selects.

use std::collections::HashMap;
use std::sync::Arc;

use osprey_promql::Labels;
use osprey_storage::series::{Matcher, Series};
use promql_parser::parser::{Expr, VectorSelector};

use crate::{QueryError, QueryState};

/// Every vector selector an expression reads (inside ranges and subqueries too).
fn selectors_of(e: &Expr, out: &mut Vec<VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.vs.clone()),
        Expr::Subquery(sq) => selectors_of(&sq.expr, out),
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                selectors_of(p, out);
            }
            selectors_of(&a.expr, out);
        }
        Expr::Unary(u) => selectors_of(&u.expr, out),
        Expr::Binary(b) => {
            selectors_of(&b.lhs, out);
            selectors_of(&b.rhs, out);
        }
        Expr::Paren(p) => selectors_of(&p.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors_of(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector_matches(vs: &VectorSelector, metric: &str, labels: &[(String, String)]) -> bool {
    let get = |name: &str| {
        if name == "__name__" {
            metric
        } else {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        }
    };
    vs.name.as_deref().is_none_or(|n| n == metric)
        && vs
            .matchers
            .matchers
            .iter()
            .all(|m| m.is_match(get(&m.name)))
        && (vs.matchers.or_matchers.is_empty()
            || vs
                .matchers
                .or_matchers
                .iter()
                .any(|g| g.iter().all(|m| m.is_match(get(&m.name)))))
}

/// One series' exemplars, as `/api/v1/query_exemplars` groups them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarGroup {
    /// The series' labels, `__name__` included.
    pub series: Labels,
    pub exemplars: Vec<Exemplar>,
}

/// The exemplar's own labels (a trace id, …), value and time.
pub type Exemplar = osprey_storage::series::exemplars::Exemplar;

/// The exemplars of every series the query's selectors match, in
/// `start_ns..=end_ns`, grouped by series (groups by labels, exemplars by time): this
/// node's own, or on a querier every ingester's.
pub fn exemplars(
    st: &QueryState,
    tenant: &str,
    query: &str,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<ExemplarGroup>, QueryError> {
    let (start_ms, end_ms) = (start_ns.div_euclid(1_000_000), end_ns.div_euclid(1_000_000));
    let selectors = selectors_of_query(query)?;
    let found = match st
        .storage
        .ingester_exemplars(tenant, query, start_ms, end_ms)?
    {
        Some(mut all) => {
            all.sort_by_key(|e| e.timestamp_ms);
            all
        }
        None => stored_exemplars(st, tenant, &selectors, start_ms, end_ms),
    };
    let mut groups: Vec<ExemplarGroup> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for e in found {
        let mut pairs = e.series_labels.clone();
        pairs.push(("__name__".to_string(), e.metric.clone()));
        let series = Labels::new(pairs);
        match index.get(&series) {
            Some(&i) => groups[i].exemplars.push(e),
            None => {
                index.insert(series.clone(), groups.len());
                groups.push(ExemplarGroup {
                    series,
                    exemplars: vec![e],
                });
            }
        }
    }
    groups.sort_by(|a, b| a.series.cmp(&b.series));
    Ok(groups)
}

/// This node's exemplars in `start_ms..=end_ms` of the series the query's selectors
/// match, as stored (what an ingester answers a querier).
pub fn exemplars_here(
    st: &QueryState,
    tenant: &str,
    query: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Exemplar>, QueryError> {
    let selectors = selectors_of_query(query)?;
    Ok(stored_exemplars(st, tenant, &selectors, start_ms, end_ms))
}

fn selectors_of_query(query: &str) -> Result<Vec<VectorSelector>, QueryError> {
    let expr = osprey_promql::parse(query)?;
    let mut selectors = Vec::new();
    selectors_of(&expr, &mut selectors);
    Ok(selectors)
}

fn stored_exemplars(
    st: &QueryState,
    tenant: &str,
    selectors: &[VectorSelector],
    start_ms: i64,
    end_ms: i64,
) -> Vec<Exemplar> {
    st.storage
        .exemplars()
        .query(tenant, start_ms, end_ms, &|metric, labels| {
            selectors
                .iter()
                .any(|vs| selector_matches(vs, metric, labels))
        })
}

/// The metric metadata of `tenant` (of `metric` only, when given), at most `limit`
/// families: this node's, or on a querier every ingester's, merged.
pub fn metric_metadata(
    st: &QueryState,
    tenant: &str,
    metric: Option<&str>,
    limit: Option<usize>,
) -> Result<osprey_storage::follow::Families, QueryError> {
    match st.storage.ingester_metadata(tenant, metric)? {
        Some(all) => Ok(all.into_iter().take(limit.unwrap_or(usize::MAX)).collect()),
        None => Ok(st.storage.metadata().list(tenant, metric, limit)),
    }
}

/// Series matching any of the `match[]` selectors, each once.
pub fn matching_series(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
) -> Result<Vec<Arc<Series>>, QueryError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for sel in selectors {
        // Depth-checked like every query.
        let expr = osprey_promql::parse_selector(sel)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"match[]\": {e}")))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(QueryError::BadData(format!(
                "invalid parameter \"match[]\": {sel} is not a series selector"
            )));
        };
        for s in resolve(st, tenant, &vs) {
            if seen.insert(s.id) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// A metadata request's time range: series count only when they have a sample in it
/// (`start`/`end` of `/api/v1/series` and the label endpoints, in ns).
pub type Range = Option<(i64, i64)>;

/// The series of `series` with a sample in `range` (all of them without a range). The
/// head answers for recent samples; older ones read the `series_id` and `timestamp`
/// columns of the pages that may hold them (blocking).
fn in_range(
    st: &QueryState,
    tenant: &str,
    series: Vec<Arc<Series>>,
    range: Range,
    synced: Option<osprey_storage::Snapshot>,
) -> Result<Vec<Arc<Series>>, QueryError> {
    let Some((start, end)) = range else {
        return Ok(series);
    };
    let mut ids: Vec<u64> = series.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let found = st
        .storage
        .sample_reader_with(tenant, synced)
        .ids_with_samples(&ids, start, end)?;
    Ok(series
        .into_iter()
        .filter(|s| found.contains(&s.id))
        .collect())
}

/// `/api/v1/series`: the label sets of the matching series (with a sample in `range`
/// when given), by labels. Blocking when a range is given.
pub fn series_labels(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
    range: Range,
    limit: Option<usize>,
) -> Result<Vec<Labels>, QueryError> {
    // A querier learns the series of the ingesters' unflushed samples first.
    let synced = st.storage.sync_metrics(tenant)?;
    let series = matching_series(st, tenant, selectors)?;
    let mut labels: Vec<Labels> = in_range(st, tenant, series, range, synced)?
        .iter()
        .map(|s| labels_of(s))
        .collect();
    labels.sort();
    if let Some(l) = limit {
        labels.truncate(l);
    }
    Ok(labels)
}

/// `/api/v1/labels` (`label` None) or `/api/v1/label/{label}/values`, over the series
/// the selectors match or all of them (those with a sample in `range` when given;
/// blocking then).
pub fn label_list(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
    range: Range,
    label: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<String>, QueryError> {
    // A querier learns the series of the ingesters' unflushed samples first.
    let synced = st.storage.sync_metrics(tenant)?;
    let mut out: Vec<String> = if selectors.is_empty() && range.is_none() {
        match label {
            None => st.storage.series().label_names(tenant),
            Some(l) => st.storage.series().label_values(tenant, l),
        }
    } else {
        let series = if selectors.is_empty() {
            st.storage.series().select(tenant, &[])
        } else {
            matching_series(st, tenant, selectors)?
        };
        let mut set = std::collections::BTreeSet::new();
        for s in in_range(st, tenant, series, range, synced)? {
            match label {
                None => {
                    set.insert("__name__".to_string());
                    set.extend(s.labels.iter().map(|(k, _)| k.clone()));
                }
                Some(l) => {
                    let v = s.get(l);
                    if !v.is_empty() {
                        set.insert(v.to_string());
                    }
                }
            }
        }
        set.into_iter().collect()
    };
    out.sort();
    out.dedup();
    if let Some(l) = limit {
        out.truncate(l);
    }
    Ok(out)
}

type Predicate<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// Series matching a selector through the series index: its name and matchers, or
/// any of its `or` groups. No sample is read.
pub(super) fn resolve(st: &QueryState, tenant: &str, vs: &VectorSelector) -> Vec<Arc<Series>> {
    let index = st.storage.series();
    let name_pred = vs.name.clone().map(|n| move |v: &str| v == n);
    let select = |group: &[promql_parser::label::Matcher]| {
        let preds: Vec<(String, Predicate<'_>)> = group
            .iter()
            .map(|m| {
                let f: Predicate<'_> = Box::new(move |v: &str| m.is_match(v));
                (m.name.clone(), f)
            })
            .collect();
        let mut matchers: Vec<Matcher<'_>> = preds
            .iter()
            .map(|(n, f)| Matcher {
                name: n.as_str(),
                matches: f.as_ref(),
            })
            .collect();
        if let Some(p) = &name_pred {
            matchers.push(Matcher {
                name: "__name__",
                matches: p,
            });
        }
        index.select(tenant, &matchers)
    };
    if vs.matchers.or_matchers.is_empty() {
        return select(&vs.matchers.matchers);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for group in &vs.matchers.or_matchers {
        let mut g = vs.matchers.matchers.clone();
        g.extend(group.iter().cloned());
        for s in select(&g) {
            if seen.insert(s.id) {
                out.push(s);
            }
        }
    }
    out
}

/// A series' labels with its name as `__name__`.
pub(super) fn labels_of(s: &Series) -> Labels {
    let mut pairs = Vec::with_capacity(s.labels.len() + 1);
    pairs.push(("__name__".to_string(), s.metric.clone()));
    pairs.extend(s.labels.iter().cloned());
    Labels::new(pairs)
}
