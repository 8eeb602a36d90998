//! Trace-id index: next to every spans file, `<file>.tids` holds the file's distinct
//! trace ids, sorted, as raw 16-byte records. A trace lookup binary-searches each
//! live file's sidecar (cached in memory once read) and opens only the files that
//! hold the trace. About 16 bytes per trace, one to two bytes per span.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};

use crate::StorageError;
use crate::files::blobs::Blobs;

pub type TraceId = [u8; 16];

/// The sidecar's path (relative, like the Parquet file's).
pub fn sidecar_path(parquet: &str) -> String {
    format!("{parquet}.tids")
}

/// Parses a 32-digit hex trace id.
pub fn parse_trace_id(hex_id: &str) -> Option<TraceId> {
    if hex_id.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, chunk) in hex_id.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Writes the sidecar of the spans in `batch` (durably; before the Parquet file is
/// renamed into place, so a live file always has its sidecar).
pub fn write_sidecar(
    blobs: &Blobs,
    parquet: &str,
    batch: &RecordBatch,
) -> Result<(), StorageError> {
    let mut ids: Vec<TraceId> = match batch.column_by_name("trace_id") {
        // Files keep ids as 16-byte binary (layout.rs); memtables as hex.
        Some(col) if col.data_type() == &arrow::datatypes::DataType::FixedSizeBinary(16) => {
            let col = col.as_fixed_size_binary();
            (0..col.len())
                .filter(|i| !col.is_null(*i))
                .filter_map(|i| col.value(i).try_into().ok())
                .collect()
        }
        Some(col) => {
            let col = col.as_string::<i32>();
            (0..col.len())
                .filter_map(|i| parse_trace_id(col.value(i)))
                .collect()
        }
        None => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    let bytes: Vec<u8> = ids.iter().flatten().copied().collect();
    blobs.put(&sidecar_path(parquet), bytes)
}

fn read_sidecar(blobs: &Blobs, parquet: &str) -> Result<Vec<TraceId>, StorageError> {
    let bytes = blobs.get(&sidecar_path(parquet))?;
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let mut id = [0u8; 16];
            id.copy_from_slice(c);
            id
        })
        .collect())
}

/// In-memory cache of sidecars by file path.
#[derive(Default)]
pub struct TraceIndexCache {
    files: Mutex<HashMap<String, Arc<Vec<TraceId>>>>,
}

impl TraceIndexCache {
    /// Whether `parquet`'s sidecar lists `id`. A missing or unreadable sidecar answers
    /// "maybe" (true), so a lookup degrades to opening the file, never to a miss.
    pub fn may_contain(&self, blobs: &Blobs, parquet: &str, id: &TraceId) -> bool {
        let cached = self.files.lock().ok().and_then(|m| m.get(parquet).cloned());
        let ids = match cached {
            Some(ids) => ids,
            None => match read_sidecar(blobs, parquet) {
                Ok(ids) => {
                    let ids = Arc::new(ids);
                    if let Ok(mut m) = self.files.lock() {
                        m.insert(parquet.to_string(), Arc::clone(&ids));
                    }
                    ids
                }
                Err(e) => {
                    tracing::warn!(error = %e, "trace-id sidecar unreadable; scanning the file");
                    return true;
                }
            },
        };
        ids.binary_search(id).is_ok()
    }

    pub fn forget(&self, parquet: &str) {
        if let Ok(mut m) = self.files.lock() {
            m.remove(parquet);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SpanRow, spans_batch};

    #[test]
    fn sidecar_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let p = "x.parquet";
        let rows: Vec<SpanRow> = [
            "0000000000000000000000000000000b",
            "0000000000000000000000000000000a",
            "0000000000000000000000000000000b",
        ]
        .iter()
        .map(|t| SpanRow {
            trace_id: t.to_string(),
            ..Default::default()
        })
        .collect();
        write_sidecar(&blobs, p, &spans_batch(&rows).unwrap()).unwrap();
        assert_eq!(blobs.size(&sidecar_path(p)).unwrap(), 32);
        let cache = TraceIndexCache::default();
        assert!(cache.may_contain(
            &blobs,
            p,
            &parse_trace_id("0000000000000000000000000000000a").unwrap()
        ));
        assert!(!cache.may_contain(
            &blobs,
            p,
            &parse_trace_id("0000000000000000000000000000000c").unwrap()
        ));
        assert!(parse_trace_id("xyz").is_none());
    }
}
