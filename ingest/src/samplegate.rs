//! Admission of metric samples, as Prometheus' TSDB admits them with an out-of-order
//! window. A sample dated before `storage.retention_metrics` or more than
//! [`crate::window::MAX_FUTURE`] ahead is refused with its reason (retention would
//! delete it after it was acknowledged; Prometheus refuses such samples as out of
//! bounds too). Then a sample older than the tenant's newest sample (or now, if that is
//! earlier) minus `storage.out_of_order_window` is refused with its reason; a sample
//! at a series' newest timestamp with the same value is an exact duplicate and dropped
//! (a retried batch); a different value there is a conflict and refused. Older
//! samples inside the window are accepted out of order; a repeat of one of those is
//! not detected here, and queries keep one sample per series and millisecond.
//!
//! Memory: one entry per series (its newest timestamp and value), like Prometheus'
//! head, next to the series index that holds the labels anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use osprey_storage::schema::SampleRow;
use osprey_storage::series::IdMap;

const SHARDS: usize = 16;

/// (tenant hash, series id) → the series' newest (timestamp ms, value bits).
type Newest = IdMap<(u64, u64), (i64, u64)>;

pub struct SampleGate {
    window_ms: i64,
    retention: Duration,
    commits: AtomicU64,
    newest: Mutex<HashMap<String, i64>>,
    series: Vec<Mutex<Newest>>,
    /// Tenant hash → its series in `series`: its active series (a sample within the
    /// out-of-order window of its newest), what `limits.max_active_series` bounds.
    active: Mutex<HashMap<u64, u64>>,
}

/// A sample by its series id (remote_write decodes straight into these).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdSample {
    pub id: u64,
    pub timestamp_ns: i64,
    pub value: f64,
}

/// What admission kept and refused.
#[derive(Debug, Default)]
pub struct Admitted {
    /// The kept rows ([`SampleGate::admit_limited`]; empty after
    /// [`SampleGate::admit_ids`], whose caller selects by `kept`).
    pub rows: Vec<SampleRow>,
    /// `ids[i]` is `rows[i].series_id()`.
    pub ids: Vec<u64>,
    /// Positions of the kept samples in what was admitted, ascending.
    pub kept: Vec<usize>,
    pub duplicates: usize,
    pub refused: usize,
    /// Of `refused`, the samples of new series beyond `limits.max_active_series`.
    pub over_series_limit: usize,
    /// The first refusals' reasons (at most 5).
    pub reasons: Vec<String>,
    /// What [`SampleGate::commit`] records once the rows are stored: per series its
    /// newest (timestamp, value bits) in this request, and the request's newest time.
    updates: IdMap<u64, (i64, u64)>,
    max_ts: Option<i64>,
    tenant: String,
}

impl Admitted {
    fn refuse(&mut self, reason: impl FnOnce() -> String) {
        self.refused += 1;
        if self.reasons.len() < 5 {
            self.reasons.push(reason());
        }
    }
}

/// Each row's series id. Rows of one series come together (a remote_write time
/// series; an OTLP data point's buckets do not, but often do): a series is hashed
/// once per run of its rows.
pub fn series_ids(rows: &[SampleRow]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let same = i > 0 && rows[i - 1].metric == row.metric && rows[i - 1].labels == row.labels;
        out.push(match out.last() {
            Some(&id) if same => id,
            _ => row.series_id(),
        });
    }
    out
}

pub(crate) fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(i64::MAX)
}

impl SampleGate {
    /// `window`: the out-of-order window; `retention`: how long samples are kept.
    pub fn new(window: Duration, retention: Duration) -> Self {
        Self {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            retention,
            commits: AtomicU64::new(0),
            newest: Mutex::new(HashMap::new()),
            series: (0..SHARDS).map(|_| Mutex::new(Newest::default())).collect(),
            active: Mutex::default(),
        }
    }

    /// The tenant's active series.
    pub fn active_series(&self, tenant: &str) -> u64 {
        self.active
            .lock()
            .map(|m| m.get(&fnv(tenant.as_bytes())).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// [`Self::admit_limited`] without a series limit.
    pub fn admit(&self, tenant: &str, rows: Vec<SampleRow>) -> Admitted {
        self.admit_limited(tenant, rows, 0)
    }

    /// Admits `rows` of `tenant`; the samples of series it does not have yet are
    /// refused once it has `max_active_series` (0: no limit).
    pub fn admit_limited(
        &self,
        tenant: &str,
        rows: Vec<SampleRow>,
        max_active_series: u64,
    ) -> Admitted {
        let samples: Vec<IdSample> = series_ids(&rows)
            .into_iter()
            .zip(&rows)
            .map(|(id, row)| IdSample {
                id,
                timestamp_ns: row.timestamp_ns,
                value: row.value,
            })
            .collect();
        let mut out = self.admit_ids(
            tenant,
            &samples,
            &|i| rows[i].metric.clone(),
            max_active_series,
        );
        let mut kept = out.kept.iter().copied().peekable();
        for (i, row) in rows.into_iter().enumerate() {
            if kept.next_if_eq(&i).is_some() {
                out.rows.push(row);
                out.ids.push(samples[i].id);
            }
        }
        out
    }

    /// Admits `samples` of `tenant` by series id (the rules of the module's doc);
    /// `metric_of(i)` names sample `i`'s metric in refusals. The kept ones are listed
    /// in [`Admitted::kept`].
    pub fn admit_ids(
        &self,
        tenant: &str,
        samples: &[IdSample],
        metric_of: &dyn Fn(usize) -> String,
        max_active_series: u64,
    ) -> Admitted {
        let mut out = Admitted {
            kept: Vec::with_capacity(samples.len()),
            ..Default::default()
        };
        let newest = self
            .newest
            .lock()
            .map(|m| m.get(tenant).copied())
            .ok()
            .flatten();
        let reference = newest.map(|n| n.min(now_ms()));
        let min_ok = reference.map(|r| r.saturating_sub(self.window_ms));
        let tenant_key = fnv(tenant.as_bytes());
        let active = if max_active_series > 0 {
            self.active
                .lock()
                .map(|m| m.get(&tenant_key).copied().unwrap_or(0))
                .unwrap_or(0)
        } else {
            0
        };
        let mut new_series = 0u64;
        let mut max_ts = i64::MIN;
        let accepted = crate::window::Window::now(self.retention);
        for (i, sample) in samples.iter().enumerate() {
            let id = sample.id;
            if let Some(why) = accepted.outside(i128::from(sample.timestamp_ns)) {
                out.refuse(|| {
                    format!(
                        "sample of {} is outside the accepted time window: {why}",
                        metric_of(i)
                    )
                });
                continue;
            }
            let ts = sample.timestamp_ns.div_euclid(1_000_000);
            if let Some(min_ok) = min_ok
                && ts < min_ok
            {
                out.refuse(|| {
                    format!(
                        "sample of {} at {ts} ms is outside the out-of-order window: more than {} s before the newest sample ({} ms)",
                        metric_of(i),
                        self.window_ms / 1000,
                        reference.unwrap_or_default()
                    )
                });
                continue;
            }
            let bits = sample.value.to_bits();
            // The state as stored, or as this request would leave it.
            let last = match out.updates.get(&id) {
                Some(&u) => Some(u),
                None => match self.series[(id as usize) % SHARDS].lock() {
                    Ok(shard) => shard.get(&(tenant_key, id)).copied(),
                    Err(_) => None,
                },
            };
            match last {
                Some(last) if last.0 == ts && last.1 == bits => {
                    out.duplicates += 1;
                    continue;
                }
                Some(last) if last.0 == ts => {
                    out.refuse(|| {
                        format!(
                            "duplicate sample for timestamp {ts} ms of {} with a different value",
                            metric_of(i)
                        )
                    });
                    continue;
                }
                Some(last) if ts < last.0 => {}
                Some(_) => {
                    out.updates.insert(id, (ts, bits));
                }
                None if max_active_series > 0 && active + new_series >= max_active_series => {
                    out.over_series_limit += 1;
                    out.refuse(|| {
                        format!(
                            "sample of a new series of {} refused: the tenant has {max_active_series} active series (limits.max_active_series)",
                            metric_of(i)
                        )
                    });
                    continue;
                }
                None => {
                    new_series += 1;
                    out.updates.insert(id, (ts, bits));
                }
            }
            max_ts = max_ts.max(ts);
            out.kept.push(i);
        }
        out.max_ts = (max_ts > i64::MIN).then_some(max_ts);
        out.tenant = tenant.to_string();
        out
    }

    /// Records what an admitted request stored: called only after the append
    /// succeeded, so a retry of a refused (429, 5xx) request is not taken for a
    /// duplicate.
    pub fn commit(&self, admitted: &Admitted) {
        let tenant_key = fnv(admitted.tenant.as_bytes());
        let mut added = 0u64;
        for (&id, &(ts, bits)) in &admitted.updates {
            if let Ok(mut shard) = self.series[(id as usize) % SHARDS].lock() {
                match shard.entry((tenant_key, id)) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        if ts >= e.get().0 {
                            e.insert((ts, bits));
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert((ts, bits));
                        added += 1;
                    }
                }
            }
        }
        if added > 0
            && let Ok(mut m) = self.active.lock()
        {
            *m.entry(tenant_key).or_insert(0) += added;
        }
        let Some(max_ts) = admitted.max_ts else {
            return;
        };
        let newest = match self.newest.lock() {
            Ok(mut m) => {
                let e = m.entry(admitted.tenant.clone()).or_insert(i64::MIN);
                *e = (*e).max(max_ts);
                *e
            }
            Err(_) => return,
        };
        // Now and then, forget series whose newest sample is outside the window: any
        // sample of theirs at or before it is refused by the window anyway.
        if self.commits.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            let cutoff = newest.min(now_ms()).saturating_sub(self.window_ms);
            let mut removed = 0u64;
            for shard in &self.series {
                if let Ok(mut m) = shard.lock() {
                    let before = m.len();
                    m.retain(|&(t, _), v| t != tenant_key || v.0 >= cutoff);
                    removed += (before - m.len()) as u64;
                }
            }
            if let Ok(mut m) = self.active.lock()
                && let Some(n) = m.get_mut(&tenant_key)
            {
                *n = n.saturating_sub(removed);
            }
        }
    }
}

/// Commits between two prunings of the per-series state.
const PRUNE_EVERY: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_series_beyond_the_limit_are_refused_known_ones_pass() {
        let gate = SampleGate::new(Duration::from_secs(3600), Duration::from_secs(86_400));
        let t = now_ms() - 1000;
        let rows =
            |names: &[&str], ts: i64| names.iter().map(|n| s(n, ts, 1.0)).collect::<Vec<_>>();
        let a = gate.admit_limited("t", rows(&["a", "b", "c"], t), 2);
        assert_eq!((a.rows.len(), a.over_series_limit), (2, 1));
        assert!(
            a.reasons[0].contains("limits.max_active_series"),
            "{:?}",
            a.reasons
        );
        gate.commit(&a);
        assert_eq!(gate.active_series("t"), 2);
        // Known series still take samples; a new one does not; another tenant does.
        let b = gate.admit_limited("t", rows(&["a", "b", "d"], t + 1000), 2);
        assert_eq!((b.rows.len(), b.over_series_limit), (2, 1));
        gate.commit(&b);
        assert_eq!(gate.active_series("t"), 2);
        assert_eq!(gate.admit_limited("u", rows(&["d"], t), 2).rows.len(), 1);
    }

    fn s(metric: &str, ts_ms: i64, v: f64) -> SampleRow {
        SampleRow {
            metric: metric.into(),
            labels: vec![("a".into(), "1".into())],
            timestamp_ns: ts_ms * 1_000_000,
            value: v,
        }
    }

    #[test]
    fn window_duplicates_and_conflicts() {
        let gate = SampleGate::new(Duration::from_secs(3600), Duration::from_secs(86_400));
        let t = now_ms() - 60_000;
        let a = gate.admit("t", vec![s("m", t, 1.0), s("m", t + 1000, 2.0)]);
        assert_eq!((a.rows.len(), a.refused, a.duplicates), (2, 0, 0));
        // Not stored (a 429, say): the same request again is no duplicate.
        let a = gate.admit("t", vec![s("m", t, 1.0), s("m", t + 1000, 2.0)]);
        assert_eq!((a.rows.len(), a.duplicates), (2, 0));
        gate.commit(&a);
        // Within one request, a repeat is a duplicate too.
        let b = gate.admit("t", vec![s("m", t + 2000, 5.0), s("m", t + 2000, 5.0)]);
        assert_eq!((b.rows.len(), b.duplicates), (1, 1));
        // A retried batch: the newest sample is dropped as a duplicate; the older one
        // is inside the window and accepted (queries keep one per millisecond).
        let a = gate.admit("t", vec![s("m", t, 1.0), s("m", t + 1000, 2.0)]);
        assert_eq!((a.rows.len(), a.refused, a.duplicates), (1, 0, 1));
        gate.commit(&a);
        // Same time, other value: refused.
        let a = gate.admit("t", vec![s("m", t + 1000, 3.0)]);
        assert_eq!((a.rows.len(), a.refused), (0, 1));
        assert!(a.reasons[0].contains("duplicate sample"), "{:?}", a.reasons);
        // Out of order inside the window: accepted; outside: refused with the reason.
        let a = gate.admit(
            "t",
            vec![s("m", t - 1_800_000, 1.0), s("m", t - 7_200_000, 1.0)],
        );
        assert_eq!((a.rows.len(), a.refused), (1, 1));
        assert!(
            a.reasons[0].contains("out-of-order window"),
            "{:?}",
            a.reasons
        );
        // Tenants are separate.
        let a = gate.admit("other", vec![s("m", t - 7_200_000, 1.0)]);
        assert_eq!(a.rows.len(), 1);
    }

    #[test]
    fn samples_outside_the_retention_or_far_ahead_are_refused() {
        let gate = SampleGate::new(Duration::from_secs(3600), Duration::from_secs(86_400));
        let now = now_ms();
        let mut clamped = s("m", 0, 1.0);
        clamped.timestamp_ns = i64::MAX; // OTLP's 2^64-1, clamped by the conversion
        let a = gate.admit(
            "t",
            vec![
                s("m", 0, 1.0),
                s("m", now - 2 * 86_400_000, 1.0),
                s("m", now + 2 * 86_400_000, 1.0),
                clamped,
                s("m", now, 1.0),
            ],
        );
        assert_eq!((a.rows.len(), a.refused), (1, 4));
        assert!(
            a.reasons[0].contains("outside the accepted time window")
                && a.reasons[0].contains("1970-01-01T00:00:00Z is before the retention of 1d"),
            "{:?}",
            a.reasons
        );
        assert!(a.reasons[2].contains("ahead"), "{:?}", a.reasons);
    }
}
