//! Typed access to result columns, whatever physical string/map encoding a scan chose.

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, MapArray, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};

use crate::QueryError;

fn column(b: &RecordBatch, name: &str) -> Result<ArrayRef, QueryError> {
    b.column_by_name(name)
        .cloned()
        .ok_or_else(|| QueryError::Internal(format!("result has no column {name}")))
}

fn cast_to(a: &ArrayRef, t: &DataType) -> Result<ArrayRef, QueryError> {
    if a.data_type() == t {
        Ok(a.clone())
    } else {
        cast(a, t).map_err(|e| QueryError::Internal(e.to_string()))
    }
}

pub fn strings(b: &RecordBatch, name: &str) -> Result<StringArray, QueryError> {
    let a = cast_to(&column(b, name)?, &DataType::Utf8)?;
    Ok(a.as_string::<i32>().clone())
}

pub fn timestamps(b: &RecordBatch, name: &str) -> Result<TimestampNanosecondArray, QueryError> {
    let a = column(b, name)?;
    let a = match a.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a,
        _ => cast_to(&a, &DataType::Timestamp(TimeUnit::Nanosecond, None))?,
    };
    a.as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .cloned()
        .ok_or_else(|| QueryError::Internal(format!("{name} is not a timestamp")))
}

pub fn i64s(b: &RecordBatch, name: &str) -> Result<Int64Array, QueryError> {
    let a = cast_to(&column(b, name)?, &DataType::Int64)?;
    Ok(a.as_primitive().clone())
}

/// A string→string map column, row by row.
pub struct Maps {
    offsets: Vec<i32>,
    keys: StringArray,
    values: StringArray,
    nulls: Option<arrow::buffer::NullBuffer>,
}

impl Maps {
    pub fn new(b: &RecordBatch, name: &str) -> Result<Self, QueryError> {
        let a = column(b, name)?;
        let m = a
            .as_any()
            .downcast_ref::<MapArray>()
            .ok_or_else(|| QueryError::Internal(format!("{name} is not a map")))?;
        Ok(Maps {
            offsets: m.value_offsets().to_vec(),
            keys: cast_to(m.keys(), &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
            values: cast_to(m.values(), &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
            nulls: m.nulls().cloned(),
        })
    }

    /// The value of `key` in row `i`, without copying the row.
    pub fn get(&self, i: usize, key: &str) -> Option<&str> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return None;
        }
        let (start, end) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (start..end).find(|j| self.keys.value(*j) == key).map(|j| {
            if self.values.is_null(j) {
                ""
            } else {
                self.values.value(j)
            }
        })
    }

    /// Whether rows `i` and `j` hold the same entries in the same order (no copy).
    pub fn same_row(&self, i: usize, j: usize) -> bool {
        let null = |r: usize| self.nulls.as_ref().is_some_and(|n| n.is_null(r));
        if null(i) || null(j) {
            return null(i) && null(j);
        }
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        let (c, d) = (self.offsets[j] as usize, self.offsets[j + 1] as usize);
        let value = |k: usize| (!self.values.is_null(k)).then(|| self.values.value(k));
        b - a == d - c
            && (a..b)
                .zip(c..d)
                .all(|(x, y)| self.keys.value(x) == self.keys.value(y) && value(x) == value(y))
    }

    pub fn row(&self, i: usize) -> Vec<(String, String)> {
        self.row_where(i, |_| true)
    }

    /// Row `i`'s pairs whose key `keep` accepts, in order.
    pub fn row_where(&self, i: usize, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Vec::new();
        }
        let (start, end) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (start..end)
            .filter(|&j| keep(self.keys.value(j)))
            .map(|j| {
                let v = if self.values.is_null(j) {
                    String::new()
                } else {
                    self.values.value(j).to_string()
                };
                (self.keys.value(j).to_string(), v)
            })
            .collect()
    }
}

/// A string→string map column whose keys and values were read as dictionaries
/// (`Storage::read_rows_dictionary`): a lookup compares dictionary indices.
pub struct DictMaps {
    offsets: Vec<i32>,
    keys: arrow::array::Int32Array,
    key_dict: StringArray,
    values: arrow::array::Int32Array,
    value_dict: StringArray,
    nulls: Option<arrow::buffer::NullBuffer>,
}

impl DictMaps {
    /// `None` when the column's keys or values are not dictionaries.
    pub fn new(b: &RecordBatch, name: &str) -> Result<Option<Self>, QueryError> {
        use arrow::datatypes::Int32Type;
        let a = column(b, name)?;
        let Some(m) = a.as_any().downcast_ref::<MapArray>() else {
            return Ok(None);
        };
        let (Some(k), Some(v)) = (
            m.keys().as_dictionary_opt::<Int32Type>(),
            m.values().as_dictionary_opt::<Int32Type>(),
        ) else {
            return Ok(None);
        };
        let dict = |d: &ArrayRef| -> Result<StringArray, QueryError> {
            Ok(cast_to(d, &DataType::Utf8)?.as_string::<i32>().clone())
        };
        Ok(Some(DictMaps {
            offsets: m.value_offsets().to_vec(),
            keys: k.keys().clone(),
            key_dict: dict(k.values())?,
            values: v.keys().clone(),
            value_dict: dict(v.values())?,
            nulls: m.nulls().cloned(),
        }))
    }

    fn ids(dict: &StringArray, s: &str) -> Vec<i32> {
        (0..dict.len())
            .filter(|i| dict.is_valid(*i) && dict.value(*i) == s)
            .map(|i| i as i32)
            .collect()
    }

    /// The dictionary ids of a key and of a value (empty: no row has it).
    pub fn lookup(&self, key: &str, value: &str) -> (Vec<i32>, Vec<i32>) {
        (
            Self::ids(&self.key_dict, key),
            Self::ids(&self.value_dict, value),
        )
    }

    /// Row `i` maps a key among `key_ids` to a value among `value_ids`.
    pub fn has(&self, i: usize, key_ids: &[i32], value_ids: &[i32]) -> bool {
        if key_ids.is_empty()
            || value_ids.is_empty()
            || self.nulls.as_ref().is_some_and(|n| n.is_null(i))
        {
            return false;
        }
        let (start, end) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (start..end).any(|j| {
            self.keys.is_valid(j)
                && key_ids.contains(&self.keys.value(j))
                && self.values.is_valid(j)
                && value_ids.contains(&self.values.value(j))
        })
    }
}

/// RFC 3339 with nanoseconds, UTC (`2026-11-21T10:00:00.123456789Z`).
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The columns of a spans batch (stored schema) that trace renderings read.
pub struct SpanColumns {
    pub service: StringArray,
    pub trace_id: StringArray,
    pub span_id: StringArray,
    pub parent: StringArray,
    pub name: StringArray,
    pub kind: StringArray,
    pub status: StringArray,
    pub status_msg: StringArray,
    pub events: StringArray,
    pub links: StringArray,
    pub scope: StringArray,
    pub start: TimestampNanosecondArray,
    pub duration: Int64Array,
    pub attributes: Maps,
    pub resource: Maps,
    /// Key → OTLP type of the attributes that are not strings (`None`: a batch from
    /// before types were kept; every value is then a string).
    pub attribute_types: Option<Maps>,
    pub resource_types: Option<Maps>,
}

/// A stored attribute value as typed JSON, given its OTLP type: `int` an integer,
/// `double` a number, `bool` a boolean, `array`/`kvlist` the JSON they were stored as;
/// anything else (and a value that does not parse as its type) a string.
pub fn typed_value(text: &str, ty: Option<&str>) -> serde_json::Value {
    use serde_json::Value;
    let parsed = match ty {
        Some("int") => text.parse::<i64>().ok().map(Value::from),
        Some("double") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some("bool") => text.parse::<bool>().ok().map(Value::Bool),
        Some("array" | "kvlist") => serde_json::from_str(text).ok(),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

/// A row's attributes with their types: (key, typed value).
pub fn typed_row(
    values: &Maps,
    types: Option<&Maps>,
    i: usize,
) -> Vec<(String, serde_json::Value)> {
    values
        .row(i)
        .into_iter()
        .map(|(k, v)| {
            let ty = types.and_then(|t| t.get(i, &k));
            let value = typed_value(&v, ty);
            (k, value)
        })
        .collect()
}

impl SpanColumns {
    pub fn new(b: &RecordBatch) -> Result<Self, QueryError> {
        Ok(Self {
            service: strings(b, "service")?,
            trace_id: strings(b, "trace_id")?,
            span_id: strings(b, "span_id")?,
            parent: strings(b, "parent_span_id")?,
            name: strings(b, "name")?,
            kind: strings(b, "kind")?,
            status: strings(b, "status_code")?,
            status_msg: strings(b, "status_message")?,
            events: strings(b, "events")?,
            links: strings(b, "links")?,
            scope: strings(b, "scope")?,
            start: timestamps(b, "start_time")?,
            duration: i64s(b, "duration_ns")?,
            attributes: Maps::new(b, "attributes")?,
            resource: Maps::new(b, "resource")?,
            attribute_types: Maps::new(b, "attribute_types").ok(),
            resource_types: Maps::new(b, "resource_types").ok(),
        })
    }
}
