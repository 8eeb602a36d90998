//! The WAL's samples record (payload code 5, since 2026-12): a metrics batch without
//! its labels. Each record names the series the index did not hold when it was
//! encoded (id, metric, labels) and then every sample as (series id, time, value), so a
//! steady stream of known series costs about 17 bytes a sample in the log instead of
//! its name and labels again (the Arrow record of code 3, still read, carried them on
//! every row).
//!
//! Why a series named only by id is always found on replay: the index learns a series
//! in the writer thread after the record defining it is written (`writer.rs`,
//! `commit_group`), and records are written in order, so a later record that leaves it
//! out comes after its definition in the log; a flush deletes segments only after the
//! series file holding every series learnt before its freeze is committed.
//!
//! ```text
//! 5: u8, tenant_len: u16 LE, tenant
//! series: varint count, each: id u64 LE, metric str, varint label count, (name str, value str)*
//! samples: varint count, base time i64 LE (ns),
//!          each: series id u64 LE, time − base zigzag varint (ns), value f64 bits LE
//! str = varint byte length, UTF-8 bytes
//! ```

use arrow::array::RecordBatch;

use crate::series::Series;
use crate::varint::{Reader, put_signed, put_str, put_varint};
use crate::{StorageError, schema};

/// The payload code of a samples record (after exemplars' 4).
pub const SAMPLES: u8 = 5;

/// The payload of a samples record: `series` defined, then the samples of `batch`
/// (the stored metrics schema).
pub fn encode(
    tenant_header: &[u8],
    series: &[Series],
    batch: &RecordBatch,
) -> Result<Vec<u8>, StorageError> {
    let (ids, times, values) = crate::schema::stored_sample_columns(batch)?;
    let n = ids.len();
    let mut out = Vec::with_capacity(tenant_header.len() + 16 + n * 18);
    out.push(SAMPLES);
    out.extend_from_slice(tenant_header);
    put_varint(&mut out, series.len() as u64);
    for s in series {
        out.extend_from_slice(&s.id.to_le_bytes());
        put_str(&mut out, &s.metric);
        put_varint(&mut out, s.labels.len() as u64);
        for (k, v) in &s.labels {
            put_str(&mut out, k);
            put_str(&mut out, v);
        }
    }
    put_varint(&mut out, n as u64);
    let base = times.first().copied().unwrap_or(0);
    out.extend_from_slice(&base.to_le_bytes());
    for i in 0..n {
        out.extend_from_slice(&ids[i].to_le_bytes());
        put_signed(&mut out, times[i].wrapping_sub(base));
        out.extend_from_slice(&values[i].to_bits().to_le_bytes());
    }
    Ok(out)
}

/// A decoded samples record: the series it defines and its samples as a batch of the
/// stored schema (`series_id`, `timestamp`, `value`).
pub struct Decoded {
    pub series: Vec<Series>,
    pub batch: RecordBatch,
}

/// Decodes what follows the tenant in a samples record's payload.
pub fn decode(body: &[u8]) -> Result<Decoded, StorageError> {
    let mut r = Reader::new(body, "WAL samples record");
    let count = r.varint()?;
    // Each definition takes at least 10 bytes: no count can be larger than that allows.
    let mut series = Vec::with_capacity(capped(count, body.len() / 10));
    for _ in 0..count {
        let id = r.bits()?;
        let metric = r.str()?.to_string();
        let k = r.varint()?;
        let mut labels = Vec::with_capacity(capped(k, body.len() / 2));
        for _ in 0..k {
            let name = r.str()?.to_string();
            let value = r.str()?.to_string();
            labels.push((name, value));
        }
        series.push(Series { id, metric, labels });
    }
    let count = r.varint()?;
    let base = r.bits()? as i64;
    let n = capped(count, body.len() / 17);
    let (mut ids, mut times, mut values) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for _ in 0..count {
        ids.push(r.bits()?);
        times.push(base.wrapping_add(r.signed()?));
        values.push(f64::from_bits(r.bits()?));
    }
    if !r.is_empty() {
        return Err(r.corrupt("bytes after the last sample"));
    }
    let batch = schema::stored_samples(ids, times, values)?;
    Ok(Decoded { series, batch })
}

/// A count read from a record, as a capacity no larger than the record could hold.
fn capped(count: u64, most: usize) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX).min(most)
}
