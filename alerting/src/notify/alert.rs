//! An alert as the notifier holds it (Alertmanager's `types.Alert`): labels,
//! annotations, when it started and ends, where it came from; its fingerprint, and the
//! order Alertmanager lists alerts in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Times are Unix ns.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: i64,
    /// `None`: no end given (it ends `resolve_timeout` after its last update).
    pub ends_at: Option<i64>,
    pub generator_url: String,
    pub updated_at: i64,
}

/// prometheus/common's `LabelSet.Fingerprint`: FNV-1a 64 over each label, sorted by
/// name, as `name 0xff value 0xff`.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for (k, v) in labels {
        k.bytes().for_each(&mut eat);
        eat(0xff);
        v.bytes().for_each(&mut eat);
        eat(0xff);
    }
    h
}

impl NotifyAlert {
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Resolved at `now`: it has an end, and the end has passed.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at.is_some_and(|e| e <= now)
    }

    /// Takes in a newer report of the same alert (Alertmanager's `Merge`): when the
    /// two overlap the earlier start is kept.
    pub fn merge(&mut self, new: NotifyAlert) {
        let overlaps = |t: i64| t > self.starts_at && self.ends_at.is_none_or(|e| t < e);
        let keep_start = new.ends_at.is_some_and(overlaps) || overlaps(new.starts_at);
        let start = if keep_start {
            self.starts_at.min(new.starts_at)
        } else {
            new.starts_at
        };
        *self = NotifyAlert {
            starts_at: start,
            ..new
        };
    }
}

/// Alertmanager's order (`types.AlertSlice`): by `job`, then `instance` (alerts with
/// the label first), then by label set (fewer labels first, then by names and values).
pub fn order(a: &NotifyAlert, b: &NotifyAlert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    a.labels
        .len()
        .cmp(&b.labels.len())
        .then_with(|| a.labels.iter().cmp(b.labels.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprints_as_alertmanager_computes_them() {
        // Pinned against Alertmanager 0.25's output (alerting/docs/semantics.md §5.2).
        let l = labels(&[
            ("alertname", "A"),
            ("inst", "b"),
            ("job", "j1"),
            ("severity", "page"),
        ]);
        assert_eq!(format!("{:016x}", fingerprint(&l)), "cc0cb9a96010957f");
        assert_eq!(
            format!("{:016x}", fingerprint(&BTreeMap::new())),
            "cbf29ce484222325"
        );
    }
}
