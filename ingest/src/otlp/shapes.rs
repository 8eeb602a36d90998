//! OTLP's answer to records that break a shape limit (`crate::shapes`): each is
//! rejected alone, with its reason in the partial success, and counted against its
//! limit; the rest of the request is stored.

use osprey_storage::schema::{LogRow, SampleRow, SpanRow};

use super::Rejections;
use crate::IngestState;
use crate::shapes::{LabelLimits, attributes_problem, label_problem};
use osprey_config::Limits;

/// Keeps the items `problem` finds nothing wrong with.
fn retain<T>(
    st: &IngestState,
    tenant: &str,
    items: Vec<T>,
    rejected: &mut Rejections,
    mut problem: impl FnMut(&T) -> Option<(&'static str, String)>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match problem(&item) {
            None => out.push(item),
            Some((limit, reason)) => {
                st.limiter.refused(tenant, limit, 1);
                rejected.reject(reason);
            }
        }
    }
    out
}

pub(super) fn logs(
    st: &IngestState,
    tenant: &str,
    rows: Vec<LogRow>,
    rejected: &mut Rejections,
) -> Vec<LogRow> {
    let max = st.limiter.limits(tenant).max_attributes_per_record;
    retain(st, tenant, rows, rejected, |r| {
        attributes_problem("a log record", r.attributes.len(), max)
            .map(|m| ("max_attributes_per_record", m))
    })
}

/// Spans and their weights (kept aligned).
pub(super) fn spans(
    st: &IngestState,
    tenant: &str,
    rows: Vec<SpanRow>,
    weights: Vec<f64>,
    rejected: &mut Rejections,
) -> (Vec<SpanRow>, Vec<f64>) {
    let l = st.limiter.limits(tenant);
    let pairs: Vec<(SpanRow, f64)> = rows.into_iter().zip(weights).collect();
    retain(st, tenant, pairs, rejected, |(r, _)| {
        span_problem(st, tenant, &l, &r.name, r.attributes.len(), &r.trace_id)
    })
    .into_iter()
    .unzip()
}

/// What keeps one span out: too many attributes (`attributes` counts the stored ones),
/// or a trace over its span limit. A span that passes is counted against its trace's
/// limit, so spans must be asked in the order they are stored.
pub(super) fn span_problem(
    st: &IngestState,
    tenant: &str,
    l: &Limits,
    name: &str,
    attributes: usize,
    trace_id: &str,
) -> Option<(&'static str, String)> {
    if let Some(m) = attributes_problem(
        &format!("span {name:?}"),
        attributes,
        l.max_attributes_per_record,
    ) {
        return Some(("max_attributes_per_record", m));
    }
    (l.max_spans_per_trace > 0
        && !st
            .trace_spans
            .admit(tenant, trace_id, l.max_spans_per_trace))
    .then(|| {
        (
            "max_spans_per_trace",
            format!(
                "trace {trace_id} already has {} spans (limits.max_spans_per_trace)",
                l.max_spans_per_trace
            ),
        )
    })
}

pub(super) fn samples(
    st: &IngestState,
    tenant: &str,
    rows: Vec<SampleRow>,
    rejected: &mut Rejections,
) -> Vec<SampleRow> {
    let l = LabelLimits::from(&st.limiter.limits(tenant));
    retain(st, tenant, rows, rejected, |r| {
        // The common case without allocating; the message only for a refusal.
        let over = r.labels.len() >= l.max_labels
            || r.metric.len() > l.max_value
            || r.labels
                .iter()
                .any(|(k, v)| k.len() > l.max_name || v.len() > l.max_value);
        if !over {
            return None;
        }
        // `__name__` counts as a label, as in remote_write.
        let labels = std::iter::once(("__name__", r.metric.as_str()))
            .chain(r.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect::<Vec<_>>();
        label_problem(&l, labels.into_iter())
            .map(|(limit, m)| (limit, format!("a sample of {}: {m}", r.metric)))
    })
}
