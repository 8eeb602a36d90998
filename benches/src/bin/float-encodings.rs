//! `float-encodings`: measures the bytes per sample of candidate encodings of the
//! metrics `value` column on the metrics workload (sorted by series, then time, as
//! Osprey's files are), so the storage format is chosen by measurement.
//!
//! Candidates: f64 PLAIN / BYTE_STREAM_SPLIT with zstd at several levels, and a
//! lossless decimal-scaled transform (value = mantissa × 10^-scale, mantissa as i64
//! with DELTA_BINARY_PACKED, scale constant per series, a raw f64 fallback column for
//! values with no short decimal form).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int8Array, Int64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Parser;
use osprey_benches::metrics::MetricsWorkload;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 0.25)]
    scale: f64,
}

/// Smallest decimal scale (0..=9) at which `v` is exactly `m / 10^k`.
pub fn decimal_scale(v: f64) -> Option<i8> {
    if !v.is_finite() {
        return None;
    }
    for k in 0..=9i32 {
        let p = 10f64.powi(k);
        let m = (v * p).round();
        if m.abs() < 9.0e15 && m / p == v {
            return Some(k as i8);
        }
    }
    None
}

fn size(batch: &RecordBatch, props: WriterProperties) -> anyhow::Result<usize> {
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf.len())
}

fn base(level: i32) -> parquet::file::properties::WriterPropertiesBuilder {
    let mut b = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(level).unwrap_or_default(),
        ))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(64 * 1024));
    let ts = ColumnPath::from("timestamp");
    b = b
        .set_column_dictionary_enabled(ts.clone(), false)
        .set_column_encoding(ts, Encoding::DELTA_BINARY_PACKED);
    b
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let hosts = ((65.0 * args.scale).round() as usize).max(1);
    let steps = 480;
    let mut w = MetricsWorkload::new(42, hosts, steps, 15_000, 1_795_000_000_000);
    let n_series = w.series_count();
    let mut per_series: Vec<Vec<(i64, f64)>> = vec![Vec::with_capacity(steps); n_series];
    for step in 0..steps {
        let mut i = 0;
        for req in w.step(step, n_series) {
            for ts in req.timeseries {
                for s in ts.samples {
                    per_series[i].push((s.timestamp * 1_000_000, s.value));
                }
                i += 1;
            }
        }
    }
    let n: usize = per_series.iter().map(Vec::len).sum();
    let (mut sid, mut tsv, mut val) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut mant, mut scale, mut raw) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut fallback = 0usize;
    for (i, s) in per_series.iter().enumerate() {
        // One scale per series chunk: the largest any of its values needs.
        let k = s
            .iter()
            .map(|(_, v)| decimal_scale(*v))
            .try_fold(0i8, |acc, k| k.map(|k| acc.max(k)));
        for (t, v) in s {
            sid.push((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            tsv.push(*t);
            val.push(*v);
            match k {
                Some(k) if (v * 10f64.powi(k.into())).round() / 10f64.powi(k.into()) == *v => {
                    mant.push(Some((v * 10f64.powi(k.into())).round() as i64));
                    scale.push(k);
                    raw.push(None);
                }
                _ => {
                    fallback += 1;
                    mant.push(None);
                    scale.push(0);
                    raw.push(Some(*v));
                }
            }
        }
    }
    let sid: ArrayRef = Arc::new(UInt64Array::from(sid));
    let ts: ArrayRef =
        Arc::new(arrow::array::TimestampNanosecondArray::from(tsv).with_timezone("UTC"));
    let ts_field = Field::new("timestamp", ts.data_type().clone(), false);
    let float_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            ts_field.clone(),
            Field::new("value", DataType::Float64, false),
        ])),
        vec![sid.clone(), ts.clone(), Arc::new(Float64Array::from(val))],
    )?;
    let dec_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("series_id", DataType::UInt64, false),
            ts_field,
            Field::new("value_m", DataType::Int64, true),
            Field::new("value_k", DataType::Int8, false),
            Field::new("value_f", DataType::Float64, true),
        ])),
        vec![
            sid,
            ts,
            Arc::new(Int64Array::from(mant)),
            Arc::new(Int8Array::from(scale)),
            Arc::new(Float64Array::from(raw)),
        ],
    )?;
    println!("{n_series} series, {n} samples, {fallback} without a short decimal form");
    println!("| value encoding | zstd level | bytes/sample (whole file) |");
    println!("|---|---:|---:|");
    let v = ColumnPath::from("value");
    for level in [3, 9, 19] {
        for (name, enc) in [
            ("f64 PLAIN", Encoding::PLAIN),
            ("f64 BYTE_STREAM_SPLIT", Encoding::BYTE_STREAM_SPLIT),
        ] {
            let props = base(level)
                .set_column_dictionary_enabled(v.clone(), false)
                .set_column_encoding(v.clone(), enc)
                .build();
            println!(
                "| {name} | {level} | {:.3} |",
                size(&float_batch, props)? as f64 / n as f64
            );
        }
        let m = ColumnPath::from("value_m");
        let f = ColumnPath::from("value_f");
        let props = base(level)
            .set_column_dictionary_enabled(m.clone(), false)
            .set_column_encoding(m, Encoding::DELTA_BINARY_PACKED)
            .set_column_dictionary_enabled(f.clone(), false)
            .set_column_encoding(f, Encoding::BYTE_STREAM_SPLIT)
            .build();
        println!(
            "| decimal-scaled i64 DELTA_BINARY_PACKED | {level} | {:.3} |",
            size(&dec_batch, props)? as f64 / n as f64
        );
    }
    Ok(())
}
