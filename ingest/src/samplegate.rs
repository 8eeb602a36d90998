//! Admission of metric samples, as Prometheus' TSDB admits them with an out-of-order
//! window: a sample older than the tenant's newest sample (or now, if that is
//! earlier) minus `storage.out_of_order_window` is refused with its reason; a sample
//! at a series' newest timestamp with the same value is an exact duplicate and dropped
//! (a retried batch); a different value there is a conflict and refused. Older
//! samples inside the window are accepted out of order; a repeat of one of those is
//! not detected here, and queries keep one sample per series and millisecond.
//!
//! Memory: one entry per series (its newest timestamp and value), like Prometheus'
//! head, next to the series index that holds the labels anyway.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use osprey_storage::schema::SampleRow;

const SHARDS: usize = 16;

/// (tenant hash, series id) → the series' newest (timestamp ms, value bits).
type Newest = HashMap<(u64, u64), (i64, u64), BuildHasherDefault<IdHasher>>;

/// Series ids are already hashes: mixing them once more is enough (SipHash was a
/// visible share of ingest CPU).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub struct SampleGate {
    window_ms: i64,
    newest: Mutex<HashMap<String, i64>>,
    series: Vec<Mutex<Newest>>,
}

/// What admission kept and refused.
#[derive(Debug, Default)]
pub struct Admitted {
    pub rows: Vec<SampleRow>,
    /// `ids[i]` is `rows[i].series_id()`.
    pub ids: Vec<u64>,
    pub duplicates: usize,
    pub refused: usize,
    /// The first refusals' reasons (at most 5).
    pub reasons: Vec<String>,
}

impl Admitted {
    fn refuse(&mut self, reason: impl FnOnce() -> String) {
        self.refused += 1;
        if self.reasons.len() < 5 {
            self.reasons.push(reason());
        }
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(i64::MAX)
}

impl SampleGate {
    pub fn new(window: Duration) -> Self {
        Self {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            newest: Mutex::new(HashMap::new()),
            series: (0..SHARDS).map(|_| Mutex::new(Newest::default())).collect(),
        }
    }

    pub fn admit(&self, tenant: &str, rows: Vec<SampleRow>) -> Admitted {
        let mut out = Admitted {
            rows: Vec::with_capacity(rows.len()),
            ids: Vec::with_capacity(rows.len()),
            ..Default::default()
        };
        let mut out_ids_tmp: Vec<u64> = Vec::with_capacity(rows.len());
        let newest = self
            .newest
            .lock()
            .map(|m| m.get(tenant).copied())
            .ok()
            .flatten();
        let reference = newest.map(|n| n.min(now_ms()));
        let min_ok = reference.map(|r| r.saturating_sub(self.window_ms));
        let tenant_key = fnv(tenant.as_bytes());
        let mut max_ts = i64::MIN;
        // Rows of one series come together (a remote_write time series, an OTLP data
        // point's buckets do not, but often do): hash a series once per run.
        let mut last_id: Option<(u64, usize)> = None;
        for (i, row) in rows.iter().enumerate() {
            let same = last_id.is_some_and(|(_, j)| {
                let prev: &SampleRow = &rows[j];
                prev.metric == row.metric && prev.labels == row.labels
            });
            let id = match (same, last_id) {
                (true, Some((id, _))) => id,
                _ => row.series_id(),
            };
            last_id = Some((id, i));
            out_ids_tmp.push(id);
        }
        for (row, id) in rows.into_iter().zip(out_ids_tmp) {
            let ts = row.timestamp_ns.div_euclid(1_000_000);
            if let Some(min_ok) = min_ok
                && ts < min_ok
            {
                out.refuse(|| {
                    format!(
                        "sample of {} at {ts} ms is outside the out-of-order window: more than {} s before the newest sample ({} ms)",
                        row.metric,
                        self.window_ms / 1000,
                        reference.unwrap_or_default()
                    )
                });
                continue;
            }
            let bits = row.value.to_bits();
            let Ok(mut shard) = self.series[(id as usize) % SHARDS].lock() else {
                out.rows.push(row);
                out.ids.push(id);
                continue;
            };
            match shard.get_mut(&(tenant_key, id)) {
                Some(last) if last.0 == ts && last.1 == bits => {
                    out.duplicates += 1;
                    continue;
                }
                Some(last) if last.0 == ts => {
                    drop(shard);
                    out.refuse(|| {
                        format!(
                            "duplicate sample for timestamp {ts} ms of {} with a different value",
                            row.metric
                        )
                    });
                    continue;
                }
                Some(last) if ts > last.0 => *last = (ts, bits),
                Some(_) => {}
                None => {
                    shard.insert((tenant_key, id), (ts, bits));
                }
            }
            drop(shard);
            max_ts = max_ts.max(ts);
            out.rows.push(row);
            out.ids.push(id);
        }
        if max_ts > i64::MIN
            && let Ok(mut m) = self.newest.lock()
        {
            let e = m.entry(tenant.to_string()).or_insert(i64::MIN);
            *e = (*e).max(max_ts);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let gate = SampleGate::new(Duration::from_secs(3600));
        let t = now_ms() - 60_000;
        let a = gate.admit("t", vec![s("m", t, 1.0), s("m", t + 1000, 2.0)]);
        assert_eq!((a.rows.len(), a.refused, a.duplicates), (2, 0, 0));
        // A retried batch: the newest sample is dropped as a duplicate; the older one
        // is inside the window and accepted (queries keep one per millisecond).
        let a = gate.admit("t", vec![s("m", t, 1.0), s("m", t + 1000, 2.0)]);
        assert_eq!((a.rows.len(), a.refused, a.duplicates), (1, 0, 1));
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
}
