//! The shape limits of a tenant's records (`[limits]`): labels per series and their
//! lengths, attributes per record. Each refusal names its limit; the callers count it
//! (`osprey_auth::Limiter::refused`) and answer as their protocol does: remote_write
//! and Loki push refuse the request (400), OTLP refuses the record (partial success).

use osprey_config::Limits;

use crate::IngestError;

/// The label limits of one tenant.
#[derive(Debug, Clone, Copy)]
pub struct LabelLimits {
    pub max_labels: usize,
    pub max_name: usize,
    pub max_value: usize,
}

impl From<&Limits> for LabelLimits {
    fn from(l: &Limits) -> Self {
        Self {
            max_labels: l.max_labels_per_series,
            max_name: l.max_label_name_length,
            max_value: l.max_label_value_length,
        }
    }
}

impl Default for LabelLimits {
    /// The built-in limits.
    fn default() -> Self {
        Self::from(&osprey_config::Config::default().limits_for("default"))
    }
}

/// Why a series' labels break the limits: `(limit key, message)`. A label name given
/// twice is refused too (Prometheus refuses it), under `duplicate_label`.
pub fn label_problem<'a>(
    l: &LabelLimits,
    labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Option<(&'static str, String)> {
    if labels.len() > l.max_labels {
        return Some((
            "max_labels_per_series",
            format!(
                "{} labels; at most {} are accepted per series (limits.max_labels_per_series)",
                labels.len(),
                l.max_labels
            ),
        ));
    }
    let mut names = Vec::with_capacity(labels.len());
    for (name, value) in labels {
        if name.len() > l.max_name {
            let start: String = name.chars().take(32).collect();
            return Some((
                "max_label_name_length",
                format!(
                    "label name {start:?}… has {} bytes; at most {} are accepted (limits.max_label_name_length)",
                    name.len(),
                    l.max_name
                ),
            ));
        }
        if value.len() > l.max_value {
            return Some((
                "max_label_value_length",
                format!(
                    "the value of label {name:?} has {} bytes; at most {} are accepted (limits.max_label_value_length)",
                    value.len(),
                    l.max_value
                ),
            ));
        }
        names.push(name);
    }
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| {
        (
            "duplicate_label",
            format!("duplicate label name {:?}", w[0]),
        )
    })
}

/// [`label_problem`] of time series `series` as the request's error.
pub fn check_labels<'a>(
    l: &LabelLimits,
    series: usize,
    labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), IngestError> {
    match label_problem(l, labels) {
        None => Ok(()),
        Some((limit, m)) => Err(IngestError::Shape {
            limit,
            message: format!("time series {series}: {m}"),
        }),
    }
}

/// Why a record with `n` attributes breaks `max` (`limits.max_attributes_per_record`).
pub fn attributes_problem(what: &str, n: usize, max: usize) -> Option<String> {
    (n > max).then(|| {
        format!(
            "{what} has {n} attributes; at most {max} are accepted (limits.max_attributes_per_record)"
        )
    })
}

/// The spans of recent traces, per tenant, for `limits.max_spans_per_trace`: two
/// generations of counts, the older dropped each [`TRACE_GENERATION`] (so a trace is
/// counted for one to two generations), and early when the newer holds
/// [`MAX_TRACES`] traces (memory stays bounded whatever arrives).
#[derive(Debug, Default)]
pub struct TraceSpans {
    state: std::sync::Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    current: std::collections::HashMap<u64, u64>,
    previous: std::collections::HashMap<u64, u64>,
    started: Option<std::time::Instant>,
}

/// How long a generation of trace counts lasts.
pub const TRACE_GENERATION: std::time::Duration = std::time::Duration::from_secs(1800);

/// Most traces counted in one generation.
pub const MAX_TRACES: usize = 1_000_000;

impl TraceSpans {
    /// Counts one span of `trace_id` for `tenant`; false (and not counted) when the
    /// trace already has `max` spans.
    pub fn admit(&self, tenant: &str, trace_id: &str, max: u64) -> bool {
        let key = crate::samplegate::fnv(format!("{tenant}\u{0}{trace_id}").as_bytes());
        let mut g = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let started = *g.started.get_or_insert(now);
        if now.duration_since(started) >= TRACE_GENERATION || g.current.len() >= MAX_TRACES {
            g.previous = std::mem::take(&mut g.current);
            g.started = Some(now);
        }
        let seen =
            g.current.get(&key).copied().unwrap_or(0) + g.previous.get(&key).copied().unwrap_or(0);
        if seen >= max {
            return false;
        }
        *g.current.entry(key).or_insert(0) += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_break_the_limits_they_name() {
        let l = LabelLimits {
            max_labels: 2,
            max_name: 4,
            max_value: 3,
        };
        let p = |pairs: &[(&str, &str)]| label_problem(&l, pairs.iter().copied()).map(|p| p.0);
        assert_eq!(p(&[("a", "1"), ("b", "2")]), None);
        assert_eq!(
            p(&[("a", "1"), ("b", "2"), ("c", "3")]),
            Some("max_labels_per_series")
        );
        assert_eq!(p(&[("abcde", "1")]), Some("max_label_name_length"));
        assert_eq!(p(&[("a", "1234")]), Some("max_label_value_length"));
        assert_eq!(p(&[("a", "1"), ("a", "2")]), Some("duplicate_label"));
    }

    #[test]
    fn a_trace_takes_spans_up_to_its_limit() {
        let t = TraceSpans::default();
        assert!((0..3).all(|_| t.admit("a", "t1", 3)));
        assert!(!t.admit("a", "t1", 3));
        assert!(t.admit("a", "t2", 3));
        assert!(t.admit("b", "t1", 3));
    }
}
