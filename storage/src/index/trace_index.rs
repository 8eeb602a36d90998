//! Trace-id index: next to every spans file, `<file>.tids` holds the first 6 bytes of
//! the file's distinct trace ids, sorted (`storage/docs/format/trace-index.md`). A
//! trace lookup binary-searches each live file's sidecar (cached in memory once read)
//! and opens only the files that may hold the trace; the file's rows are then
//! filtered by the whole id, so two ids sharing a prefix cost a read, never a wrong
//! answer. About 6 bytes per trace, under half a byte per span. Sidecars written before
//! 2026-12-07 hold whole 16-byte ids and no header; they are read as prefixes too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};

use crate::StorageError;
use crate::files::blobs::Blobs;

pub type TraceId = [u8; 16];

/// What a sidecar keeps of an id: its first [`PREFIX_BYTES`] bytes, as a big-endian
/// number (so the numbers sort as the ids do).
type Prefix = u64;

/// Bytes of an id a sidecar keeps: two random ids share them with probability 2⁻⁴⁸,
/// so a file of a million traces "may hold" an id it does not about once in 3·10⁸
/// lookups (and is then opened and filtered by the whole id).
const PREFIX_BYTES: usize = 6;

const MAGIC: &[u8; 8] = b"OSPTID02";

fn prefix(id: &TraceId) -> Prefix {
    prefix_of(&id[..PREFIX_BYTES])
}

/// The number `bytes` (at most 8) spell, big-endian.
fn prefix_of(bytes: &[u8]) -> Prefix {
    bytes.iter().fold(0, |n, &b| (n << 8) | Prefix::from(b))
}

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
    let ids: Vec<TraceId> = match batch.column_by_name("trace_id") {
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
    let mut prefixes: Vec<Prefix> = ids.iter().map(prefix).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    blobs.put(&sidecar_path(parquet), encode(&prefixes))
}

/// The sidecar's bytes: magic, count (u32 LE), the prefixes ([`PREFIX_BYTES`] each,
/// big-endian), CRC-32 of all before it.
fn encode(prefixes: &[Prefix]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + PREFIX_BYTES * prefixes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(prefixes.len() as u32).to_le_bytes());
    for p in prefixes {
        out.extend_from_slice(&p.to_be_bytes()[8 - PREFIX_BYTES..]);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The sorted prefixes a sidecar holds: today's format, or whole 16-byte ids with no
/// header (before 2026-12-07).
fn decode(bytes: &[u8]) -> Result<Vec<Prefix>, String> {
    if bytes.len() >= 16 && &bytes[..8] == MAGIC {
        let (content, crc) = bytes.split_at(bytes.len() - 4);
        let count = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if crc32fast::hash(content).to_le_bytes() != crc
            || content.len() != 12 + PREFIX_BYTES * count
        {
            // (Or a sidecar of the format before whose first id starts with the magic:
            // unreadable either way, so a lookup opens the file.)
            return Err("checksum or length mismatch".into());
        }
        return Ok(content[12..]
            .chunks_exact(PREFIX_BYTES)
            .map(prefix_of)
            .collect());
    }
    if !bytes.len().is_multiple_of(16) {
        return Err(format!("{} bytes: neither format", bytes.len()));
    }
    // Sorted whole ids: their prefixes are sorted; ids may share one.
    let mut prefixes: Vec<Prefix> = bytes
        .chunks_exact(16)
        .map(|id| prefix_of(&id[..PREFIX_BYTES]))
        .collect();
    prefixes.dedup();
    Ok(prefixes)
}

fn read_sidecar(blobs: &Blobs, parquet: &str) -> Result<Vec<Prefix>, StorageError> {
    let path = sidecar_path(parquet);
    let bytes = blobs.get(&path)?;
    decode(&bytes).map_err(|reason| StorageError::Index { path, reason })
}

/// In-memory cache of sidecars by file path.
#[derive(Default)]
pub struct TraceIndexCache {
    files: Mutex<HashMap<String, Arc<Vec<Prefix>>>>,
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
        ids.binary_search(&prefix(id)).is_ok()
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
        // Both ids share their first bytes: one prefix, and a header and a CRC.
        assert_eq!(blobs.size(&sidecar_path(p)).unwrap(), 8 + 4 + 6 + 4);
        let cache = TraceIndexCache::default();
        assert!(cache.may_contain(
            &blobs,
            p,
            &parse_trace_id("0000000000000000000000000000000a").unwrap()
        ));
        assert!(!cache.may_contain(
            &blobs,
            p,
            &parse_trace_id("0000000001000000000000000000000a").unwrap()
        ));
        assert!(parse_trace_id("xyz").is_none());
    }

    /// Random ids: each is found, a missing one almost never "may be" there, and a
    /// damaged sidecar is refused (a lookup then opens the file).
    #[test]
    fn prefixes_find_every_id_and_damage_is_refused() {
        let ids: Vec<TraceId> = (0..1000u64)
            .map(|i| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes());
                id[8..].copy_from_slice(&i.to_le_bytes());
                id
            })
            .collect();
        let mut prefixes: Vec<Prefix> = ids.iter().map(prefix).collect();
        prefixes.sort_unstable();
        let bytes = encode(&prefixes);
        assert_eq!(bytes.len(), 16 + PREFIX_BYTES * ids.len());
        let back = decode(&bytes).unwrap();
        assert!(ids.iter().all(|id| back.binary_search(&prefix(id)).is_ok()));
        let absent = [0xAB; 16];
        assert!(back.binary_search(&prefix(&absent)).is_err());
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(decode(&bad).is_err());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<Prefix>::new());
    }

    /// A sidecar of the format before (whole 16-byte ids, the `data-v6` fixture) reads
    /// as the prefixes of its ids, and finds every trace of its file.
    #[test]
    fn the_format_before_reads_as_prefixes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/data-v6/tables/default/spans/2023-11-14T22"
        );
        let old = std::fs::read(format!("{dir}/000000000001.parquet.tids")).unwrap();
        assert_eq!(old.len() % 16, 0);
        assert_ne!(&old[..8], MAGIC);
        let prefixes = decode(&old).unwrap();
        let ids: Vec<TraceId> = old
            .chunks_exact(16)
            .map(|c| c.try_into().unwrap())
            .collect();
        assert!(!ids.is_empty());
        assert!(prefixes.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ids.iter()
                .all(|id| prefixes.binary_search(&prefix(id)).is_ok())
        );
    }
}
