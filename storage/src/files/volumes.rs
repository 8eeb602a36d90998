//! Stream volumes of a logs file: for each stream (service and resource attributes,
//! Loki's stream labels) its lines and the bytes of their bodies, written into the
//! Parquet footer's key-value metadata under [`KEY`] as JSON when the file is written.
//! Loki's volume and stats endpoints (Grafana's Logs Drilldown landing page) and the
//! stream listings answer from it for every file wholly inside their range, without
//! reading a row. A file with more than [`MAX_STREAMS`] streams, or one written before
//! this (`storage/docs/format/parquet-layout.md`), has none: its rows are read.

use arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use crate::StorageError;

/// The footer key.
pub const KEY: &str = "osprey.stream_volumes";
/// Most streams a file's volumes list (beyond, the file has none).
pub const MAX_STREAMS: usize = 2000;

/// One stream's volume in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamVolume {
    pub service: String,
    /// Resource attributes, in the record's order.
    pub resource: Vec<(String, String)>,
    pub lines: u64,
    /// Bytes of the lines' bodies.
    pub bytes: u64,
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, StorageError> {
    b.column_by_name(name).map(|c| c.as_ref()).ok_or_else(|| {
        StorageError::Arrow(arrow::error::ArrowError::SchemaError(format!(
            "logs batch has no {name} column"
        )))
    })
}

/// The entries of row `i` of a string→string map as (key, value) pairs.
fn entries<'a>(
    m: &'a MapArray,
    keys: &'a StringArray,
    values: &'a StringArray,
    i: usize,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let range = if m.is_null(i) {
        0..0
    } else {
        let o = m.value_offsets();
        o[i] as usize..o[i + 1] as usize
    };
    range.map(move |j| (keys.value(j), values.value(j)))
}

/// The volumes of a logs batch (memory layout), in order of first appearance; `None`
/// when it holds more than [`MAX_STREAMS`] streams or its columns are not strings.
pub fn compute(b: &RecordBatch) -> Result<Option<Vec<StreamVolume>>, StorageError> {
    let (Some(service), Some(body)) = (
        column(b, "service")?.as_string_opt::<i32>(),
        column(b, "body")?.as_string_opt::<i32>(),
    ) else {
        return Ok(None);
    };
    let Some(resource) = column(b, "resource")?.as_map_opt() else {
        return Ok(None);
    };
    let (Some(keys), Some(values)) = (
        resource.keys().as_string_opt::<i32>(),
        resource.values().as_string_opt::<i32>(),
    ) else {
        return Ok(None);
    };
    let mut out: Vec<StreamVolume> = Vec::new();
    let mut index: std::collections::HashMap<(String, Vec<(String, String)>), usize> =
        std::collections::HashMap::new();
    // Rows come sorted by service, so a stream's rows mostly follow one another: the
    // previous row's stream is compared in place before any allocation.
    let mut current: Option<usize> = None;
    for i in 0..b.num_rows() {
        let same = current.is_some_and(|c| {
            let s = &out[c];
            s.service == service.value(i)
                && entries(resource, keys, values, i)
                    .eq(s.resource.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        });
        if !same {
            let key = (
                service.value(i).to_string(),
                entries(resource, keys, values, i)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            );
            let at = match index.get(&key) {
                Some(at) => *at,
                None => {
                    if out.len() >= MAX_STREAMS {
                        return Ok(None);
                    }
                    out.push(StreamVolume {
                        service: key.0.clone(),
                        resource: key.1.clone(),
                        lines: 0,
                        bytes: 0,
                    });
                    index.insert(key, out.len() - 1);
                    out.len() - 1
                }
            };
            current = Some(at);
        }
        if let Some(c) = current {
            out[c].lines += 1;
            out[c].bytes += if body.is_null(i) {
                0
            } else {
                body.value_length(i) as u64
            };
        }
    }
    Ok(Some(out))
}

/// The volumes a footer's value holds; `None` when it does not parse.
pub fn parse(json: &str) -> Option<Vec<StreamVolume>> {
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{LogRow, logs_batch};

    fn row(service: &str, host: &str, body: &str) -> LogRow {
        LogRow {
            service: service.into(),
            body: body.into(),
            resource: vec![("host.name".to_string(), host.to_string())],
            ..LogRow::default()
        }
    }

    #[test]
    fn counts_lines_and_bytes_per_stream() {
        let b = logs_batch(&[
            row("api", "a", "12345"),
            row("api", "a", "12"),
            row("api", "b", "1"),
            row("web", "a", "123"),
            row("api", "a", "1"),
        ])
        .unwrap();
        let v = compute(&b).unwrap().unwrap();
        let got: Vec<(&str, &str, u64, u64)> = v
            .iter()
            .map(|s| {
                (
                    s.service.as_str(),
                    s.resource[0].1.as_str(),
                    s.lines,
                    s.bytes,
                )
            })
            .collect();
        assert_eq!(
            got,
            [("api", "a", 3, 8), ("api", "b", 1, 1), ("web", "a", 1, 3)]
        );
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(parse(&json), Some(v));
    }
}
