//! The samples layout before runs (`runs.rs`): a Parquet row per sample, written until
//! 2026-12 and now only read, when open migrates such files to runs
//! (`Storage::migrate_sample_files`). Its decimal form of values (`scale_of`,
//! `mantissa`) lives on in `run_codec.rs`.
//!
//! The lossless decimal transform of metric values in files: a value that is exactly
//! `m / 10^k` for an integer `m` (|m| < 9·10^15, below 2^53) and `k` in 0..=9 is stored as `value_m = m`
//! (i64, DELTA_BINARY_PACKED) and `value_k = k`; any other value (NaN, infinities, long
//! binary fractions) goes to `value_f` (f64) with `value_m` null. Counters and gauges
//! as exporters print them ("1234", "0.25") all have such a form, and within a series
//! (files are sorted by series, then time) `m` changes by small steps, which delta
//! encoding packs into few bits. Measured with `float-encodings` (benches/README.md):
//! 1.71 B/sample against 2.21 for f64 BYTE_STREAM_SPLIT, both with zstd.
//!
//! Decoding is `m as f64 / 10^k`: the encoder keeps `k` only when that expression
//! gives back the value bit for bit.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int8Array, Int64Array, RecordBatch};

use crate::StorageError;

#[cfg(test)]
static FILE_SAMPLES: std::sync::LazyLock<arrow::datatypes::SchemaRef> =
    std::sync::LazyLock::new(|| {
        use arrow::datatypes::{DataType, Field, Schema};
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            Field::new(
                "timestamp",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, Some("UTC".into())),
                false,
            ),
            Field::new("value_m", DataType::Int64, true),
            Field::new("value_k", DataType::Int8, false),
            Field::new("value_f", DataType::Float64, true),
        ]))
    });

/// The schema of this layout's files (tests write old files with it).
#[cfg(test)]
pub fn file_samples_schema() -> arrow::datatypes::SchemaRef {
    FILE_SAMPLES.clone()
}

pub(crate) fn pow10(k: i8) -> f64 {
    10f64.powi(i32::from(k))
}

/// `Some(m)` when `v == m / 10^k` exactly.
pub(crate) fn mantissa(v: f64, k: i8) -> Option<i64> {
    if v == 0.0 && v.is_sign_negative() {
        return None; // -0.0 would come back as +0.0
    }
    let p = pow10(k);
    let m = (v * p).round();
    (m.is_finite() && m.abs() < 9.0e15 && m / p == v).then_some(m as i64)
}

/// Smallest scale at which `v` has an exact decimal form.
pub fn scale_of(v: f64) -> Option<i8> {
    (0..=9).find(|k| mantissa(v, *k).is_some())
}

/// Decodes one stored value.
pub fn decode(m: Option<i64>, k: i8, f: Option<f64>) -> f64 {
    match m {
        Some(m) => m as f64 / pow10(k),
        None => f.unwrap_or(f64::NAN),
    }
}

/// Converts samples `(series_id, timestamp, value)` sorted by series into the file
/// layout, with one scale per run of a series where its values allow (tests write old
/// files with it).
#[cfg(test)]
pub fn encode(batch: &RecordBatch) -> Result<RecordBatch, StorageError> {
    use arrow::array::{Float64Builder, Int8Builder, Int64Builder};
    use arrow::datatypes::{Float64Type, UInt64Type};
    let missing = |c: &str| {
        StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
            "samples batch has no {c} column"
        )))
    };
    let sid = batch
        .column_by_name("series_id")
        .ok_or_else(|| missing("series_id"))?;
    let ts = batch
        .column_by_name("timestamp")
        .ok_or_else(|| missing("timestamp"))?;
    let val = batch
        .column_by_name("value")
        .ok_or_else(|| missing("value"))?;
    let ids = sid.as_primitive::<UInt64Type>();
    let vals = val.as_primitive::<Float64Type>();
    let n = batch.num_rows();
    let mut m_b = Int64Builder::with_capacity(n);
    let mut k_b = Int8Builder::with_capacity(n);
    let mut f_b = Float64Builder::with_capacity(n);
    let mut start = 0;
    while start < n {
        let id = ids.value(start);
        let mut end = start;
        while end < n && ids.value(end) == id {
            end += 1;
        }
        // The run's scale: the largest any of its (representable) values needs.
        let k = (start..end)
            .filter_map(|i| scale_of(vals.value(i)))
            .max()
            .unwrap_or(0);
        for i in start..end {
            let v = vals.value(i);
            match mantissa(v, k) {
                Some(m) => {
                    m_b.append_value(m);
                    k_b.append_value(k);
                    f_b.append_null();
                }
                None => {
                    m_b.append_null();
                    k_b.append_value(0);
                    f_b.append_value(v);
                }
            }
        }
        start = end;
    }
    Ok(RecordBatch::try_new(
        file_samples_schema(),
        vec![
            Arc::clone(sid),
            Arc::clone(ts),
            Arc::new(m_b.finish()),
            Arc::new(k_b.finish()),
            Arc::new(f_b.finish()),
        ],
    )?)
}

/// The value columns (`value_m`, `value_k`, `value_f`) of a file-layout batch, read
/// row by row: the one decoder of the layout, used by `layout::to_memory` and the
/// samples reader.
pub struct FileValues<'a> {
    m: &'a Int64Array,
    k: &'a Int8Array,
    f: &'a Float64Array,
}

impl<'a> FileValues<'a> {
    /// The batch's value columns, or `None` when one is missing.
    pub fn new(batch: &'a RecordBatch) -> Option<Self> {
        Some(Self {
            m: batch.column_by_name("value_m")?.as_primitive_opt()?,
            k: batch.column_by_name("value_k")?.as_primitive_opt()?,
            f: batch.column_by_name("value_f")?.as_primitive_opt()?,
        })
    }

    /// Row `i`'s value, bit for bit as written.
    pub fn get(&self, i: usize) -> f64 {
        decode(
            (!self.m.is_null(i)).then(|| self.m.value(i)),
            self.k.value(i),
            (!self.f.is_null(i)).then(|| self.f.value(i)),
        )
    }
}

/// A batch of this layout as memory rows (`series_id`, `timestamp`, `value`).
pub fn to_memory(batch: &RecordBatch) -> Result<RecordBatch, StorageError> {
    let bad = || StorageError::Layout("old samples file without its columns".into());
    let values = FileValues::new(batch).ok_or_else(bad)?;
    let value: Float64Array = (0..batch.num_rows()).map(|i| Some(values.get(i))).collect();
    let sid = batch.column_by_name("series_id").ok_or_else(bad)?;
    let ts = batch.column_by_name("timestamp").ok_or_else(bad)?;
    Ok(RecordBatch::try_new(
        crate::schema::stored_schema(crate::Signal::Metrics),
        vec![Arc::clone(sid), Arc::clone(ts), Arc::new(value)],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SampleRow, samples_batch, to_stored};
    use proptest::prelude::*;

    fn roundtrip(values: &[f64]) -> Vec<f64> {
        let rows: Vec<SampleRow> = values
            .iter()
            .enumerate()
            .map(|(i, v)| SampleRow {
                metric: "m".into(),
                timestamp_ns: i as i64,
                value: *v,
                ..Default::default()
            })
            .collect();
        let b = to_stored(crate::Signal::Metrics, &samples_batch(&rows).unwrap()).unwrap();
        let file = encode(&b).unwrap();
        let values = FileValues::new(&file).unwrap();
        (0..file.num_rows()).map(|i| values.get(i)).collect()
    }

    #[test]
    fn exact_for_special_values() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let vals = [
            0.0,
            -0.0,
            1.0,
            0.1,
            1.23,
            1e15,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            stale,
            1.0 / 3.0,
            -2.5,
        ];
        let got = roundtrip(&vals);
        for (a, b) in vals.iter().zip(&got) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} came back as {b}");
        }
    }

    proptest! {
        #[test]
        fn lossless(vals in proptest::collection::vec(any::<f64>(), 1..50), ints in proptest::collection::vec(-1_000_000i64..1_000_000, 1..50)) {
            let mut all = vals.clone();
            all.extend(ints.iter().map(|i| *i as f64 / 100.0));
            let got = roundtrip(&all);
            for (a, b) in all.iter().zip(&got) {
                prop_assert_eq!(a.to_bits(), b.to_bits());
            }
        }
    }
}
