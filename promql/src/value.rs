//! What the evaluator reads (raw samples per selector) and what it produces.

use std::collections::HashMap;

use crate::labels::Labels;

/// Prometheus' staleness marker: a NaN with this exact bit pattern ends a series.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN
}

/// One stored series: its labels and its samples, ordered by time (milliseconds).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawSeries {
    pub labels: Labels,
    pub ts: Vec<i64>,
    pub vals: Vec<f64>,
}

impl RawSeries {
    /// Indexes of the samples with `start <= t <= end` (both ends closed, as in 2.42).
    pub fn window(&self, start: i64, end: i64) -> std::ops::Range<usize> {
        let lo = self.ts.partition_point(|&t| t < start);
        let hi = self.ts.partition_point(|&t| t <= end);
        lo..hi.max(lo)
    }
}

/// The samples each planned selection fetched, by [`crate::selector_key`].
#[derive(Debug, Default)]
pub struct Data {
    by_key: HashMap<String, Vec<RawSeries>>,
}

impl Data {
    pub fn insert(&mut self, key: String, series: Vec<RawSeries>) {
        self.by_key.insert(key, series);
    }

    pub(crate) fn get(&self, key: &str) -> &[RawSeries] {
        self.by_key.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn samples(&self) -> usize {
        self.by_key
            .values()
            .flat_map(|v| v.iter())
            .map(|s| s.ts.len())
            .sum()
    }
}

/// One series of an instant vector, with a value (or none) at each step.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub vals: Vec<Option<f64>>,
}

impl Series {
    pub fn points(&self) -> usize {
        self.vals.iter().filter(|v| v.is_some()).count()
    }
}

/// An evaluated expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// One number per step.
    Scalar(Vec<f64>),
    String(String),
    /// Series with a value at some steps.
    Vector(Vec<Series>),
    /// A range vector: only the result of an instant query of a range selector or subquery.
    Matrix(Vec<RawSeries>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
