//! Tag index of a spans file: next to every spans Parquet file, `<file>.tags` maps each
//! `key=value` of the spans' attributes and resource attributes to the rows (row
//! numbers in the file) that carry it, as either. A trace search's tags then pick rows
//! before any column is read, and only the picked rows' attribute maps are decoded.
//!
//! Terms held by more than a [`FREQUENT`] share of the file's rows are listed without
//! rows: they rule out nothing worth the bytes, and the search checks them in the maps
//! of the rows the other conditions left. A key with more distinct values than
//! [`MAX_VALUES_PER_KEY`] (ids, URLs with ids) is listed the same way, as one term
//! without rows, so the index stays a few bytes per span. A term the index does not
//! list is in no row of the file.
//!
//! Format (little-endian), read in place without parsing, binary-searched:
//! ```text
//! "OSPTAG01"  u32 terms  u32 term_end[terms]  u32 posting_end[terms]
//! terms:    per term  u16 key length, key, value     (sorted by these bytes)
//! postings: per term  varint count (0: not listed), then count varint row deltas
//! u32 CRC-32 of everything before it
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, MapArray, RecordBatch};

use crate::StorageError;
use crate::blobs::Blobs;

const MAGIC: &[u8; 8] = b"OSPTAG01";

/// A term in more than this share of a file's rows is listed without its rows.
pub const FREQUENT: f64 = 0.125;
/// A key with more distinct values in a file than this is listed as one term (its
/// key, no value) without rows.
pub const MAX_VALUES_PER_KEY: usize = 65_536;

/// The index's path (relative, like the Parquet file's).
pub fn sidecar_path(parquet: &str) -> String {
    format!("{parquet}.tags")
}

fn term(key: &str, value: &str) -> Vec<u8> {
    let mut t = Vec::with_capacity(2 + key.len() + value.len());
    t.extend_from_slice(&(key.len().min(u16::MAX as usize) as u16).to_le_bytes());
    t.extend_from_slice(&key.as_bytes()[..key.len().min(u16::MAX as usize)]);
    t.extend_from_slice(value.as_bytes());
    t
}

/// The term that stands for every value of a key with too many values.
fn key_term(key: &str) -> Vec<u8> {
    let mut t = term(key, "");
    t.push(0xff); // no UTF-8 value starts so: never a real `key=value` term
    t
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut v = 0u32;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Builds the index of a spans batch (file layout or memory; rows in file order).
pub fn build(batch: &RecordBatch) -> Vec<u8> {
    let rows = batch.num_rows();
    // key → value → rows; borrowed from the batch, no string copied per span.
    let mut keys: HashMap<&str, HashMap<&str, Vec<u32>>> = HashMap::new();
    for name in ["attributes", "resource"] {
        let Some(map) = batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<MapArray>())
        else {
            continue;
        };
        let (Some(k), Some(v)) = (
            map.keys().as_string_opt::<i32>(),
            map.values().as_string_opt::<i32>(),
        ) else {
            continue;
        };
        let offsets = map.value_offsets();
        for row in 0..rows.min(map.len()) {
            if map.is_null(row) {
                continue;
            }
            for j in offsets[row] as usize..offsets[row + 1] as usize {
                if k.is_null(j) || v.is_null(j) {
                    continue;
                }
                let list = keys
                    .entry(k.value(j))
                    .or_default()
                    .entry(v.value(j))
                    .or_default();
                // A key in both maps of a row counts the row once.
                if list.last() != Some(&(row as u32)) {
                    list.push(row as u32);
                }
            }
        }
    }
    let frequent = ((rows as f64) * FREQUENT).ceil() as usize;
    let mut terms: Vec<(Vec<u8>, Option<Vec<u32>>)> = Vec::new();
    for (key, values) in keys {
        if values.len() > MAX_VALUES_PER_KEY {
            terms.push((key_term(key), None));
            continue;
        }
        for (value, mut list) in values {
            // Rows from the two maps interleave: sort once, drop repeats.
            list.sort_unstable();
            list.dedup();
            let listed = (list.len() <= frequent).then_some(list);
            terms.push((term(key, value), listed));
        }
    }
    terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut term_bytes = Vec::new();
    let mut postings = Vec::new();
    let mut term_end = Vec::with_capacity(terms.len());
    let mut posting_end = Vec::with_capacity(terms.len());
    for (t, list) in &terms {
        term_bytes.extend_from_slice(t);
        term_end.push(term_bytes.len() as u32);
        match list {
            None => put_varint(&mut postings, 0),
            Some(list) => {
                put_varint(&mut postings, list.len() as u32);
                let mut prev = 0u32;
                for &r in list {
                    put_varint(&mut postings, r - prev);
                    prev = r;
                }
            }
        }
        posting_end.push(postings.len() as u32);
    }
    let mut out = Vec::with_capacity(16 + 8 * terms.len() + term_bytes.len() + postings.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(terms.len() as u32).to_le_bytes());
    for e in term_end.iter().chain(&posting_end) {
        out.extend_from_slice(&e.to_le_bytes());
    }
    out.extend_from_slice(&term_bytes);
    out.extend_from_slice(&postings);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes the index of the spans in `batch` (durably; before the Parquet file is
/// renamed into place, so a live file always has its index).
pub fn write_sidecar(
    blobs: &Blobs,
    parquet: &str,
    batch: &RecordBatch,
) -> Result<(), StorageError> {
    blobs.put(&sidecar_path(parquet), build(batch))
}

/// What the index says of one tag in one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The rows carrying it (ascending).
    Rows(Vec<u32>),
    /// Too frequent (or its key has too many values) to be listed: any row may.
    Unlisted,
}

/// An opened index: the sidecar's bytes, checked.
pub struct TagIndex {
    bytes: Vec<u8>,
    terms: usize,
}

impl TagIndex {
    pub fn open(blobs: &Blobs, parquet: &str) -> Result<Self, StorageError> {
        let path = sidecar_path(parquet);
        Self::from_bytes(blobs.get(&path)?.to_vec())
            .map_err(|reason| StorageError::Index { path, reason })
    }

    fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err("not a tag index".into());
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err("checksum mismatch".into());
        }
        let terms = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let index = Self { bytes, terms };
        let header = 12 + 8 * terms;
        let (t_end, p_end) = match terms {
            0 => (0, 0),
            n => (
                index.u32_at(12 + 4 * (n - 1)),
                index.u32_at(12 + 4 * (2 * n - 1)),
            ),
        };
        if header + t_end + p_end + 4 != index.bytes.len() {
            return Err("truncated".into());
        }
        Ok(index)
    }

    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    fn u32_at(&self, at: usize) -> usize {
        self.bytes
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn term_bytes(&self, i: usize) -> &[u8] {
        let base = 12 + 8 * self.terms;
        let start = if i == 0 {
            0
        } else {
            self.u32_at(12 + 4 * (i - 1))
        };
        let end = self.u32_at(12 + 4 * i);
        self.bytes.get(base + start..base + end).unwrap_or(&[])
    }

    fn postings(&self, i: usize) -> Option<Lookup> {
        let base = 12 + 8 * self.terms + self.u32_at(12 + 4 * (self.terms - 1));
        let at = |k: usize| self.u32_at(12 + 4 * (self.terms + k));
        let start = if i == 0 { 0 } else { at(i - 1) };
        let bytes = self.bytes.get(base + start..base + at(i))?;
        let mut pos = 0;
        let count = get_varint(bytes, &mut pos)? as usize;
        if count == 0 {
            return Some(Lookup::Unlisted);
        }
        let mut rows = Vec::with_capacity(count);
        let mut prev = 0u32;
        for _ in 0..count {
            prev = prev.checked_add(get_varint(bytes, &mut pos)?)?;
            rows.push(prev);
        }
        Some(Lookup::Rows(rows))
    }

    fn find(&self, t: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.terms);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term_bytes(mid).cmp(t) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The rows whose attributes or resource attributes map `key` to `value`.
    pub fn lookup(&self, key: &str, value: &str) -> Lookup {
        if let Some(i) = self.find(&term(key, value)) {
            // A damaged posting list (the CRC matched, so never in practice) reads as
            // "any row may": a search then checks the maps.
            return self.postings(i).unwrap_or(Lookup::Unlisted);
        }
        if self.find(&key_term(key)).is_some() {
            return Lookup::Unlisted;
        }
        Lookup::Rows(Vec::new())
    }
}

/// Opened indexes by Parquet path, up to a byte budget.
pub type TagIndexCache = crate::index_cache::IndexCache<TagIndex>;

impl crate::index_cache::Cached for TagIndex {
    fn bytes(&self) -> usize {
        self.bytes()
    }
}

/// Opens `parquet`'s index through `cache`.
pub fn cached(
    cache: &TagIndexCache,
    blobs: &Blobs,
    parquet: &str,
) -> Result<Arc<TagIndex>, StorageError> {
    cache.get(parquet, || TagIndex::open(blobs, parquet))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SpanRow, spans_batch};

    fn span(attrs: &[(&str, &str)], res: &[(&str, &str)]) -> SpanRow {
        let kv = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        SpanRow {
            attributes: kv(attrs),
            resource: kv(res),
            ..Default::default()
        }
    }

    #[test]
    fn lookups_match_a_check_of_every_row() {
        // 100 rows: code=500 in rows divisible by 10 (listed), code=200 elsewhere
        // (frequent: unlisted), a unique id per row, region in the resource or the
        // attributes, and once in both.
        let rows: Vec<SpanRow> = (0..100)
            .map(|i| {
                let code = if i % 10 == 0 { "500" } else { "200" };
                let id = format!("id-{i}");
                let mut s = span(&[("code", code), ("req", &id)], &[("host", "h1")]);
                if i == 7 {
                    s.attributes.push(("region".into(), "eu".into()));
                    s.resource.push(("region".into(), "eu".into()));
                }
                if i == 42 {
                    s.resource.push(("region".into(), "eu".into()));
                }
                s
            })
            .collect();
        let ix = TagIndex::from_bytes(build(&spans_batch(&rows).unwrap())).unwrap();
        assert_eq!(
            ix.lookup("code", "500"),
            Lookup::Rows((0..100).step_by(10).collect())
        );
        assert_eq!(ix.lookup("code", "200"), Lookup::Unlisted);
        assert_eq!(ix.lookup("host", "h1"), Lookup::Unlisted);
        assert_eq!(ix.lookup("req", "id-63"), Lookup::Rows(vec![63]));
        assert_eq!(ix.lookup("region", "eu"), Lookup::Rows(vec![7, 42]));
        assert_eq!(ix.lookup("code", "404"), Lookup::Rows(vec![]));
        assert_eq!(ix.lookup("nokey", "x"), Lookup::Rows(vec![]));
        assert_eq!(ix.lookup("", ""), Lookup::Rows(vec![]));
    }

    #[test]
    fn a_key_with_too_many_values_is_unlisted_and_damage_is_refused() {
        let rows: Vec<SpanRow> = (0..(MAX_VALUES_PER_KEY + 1))
            .map(|i| span(&[("uuid", &i.to_string())], &[]))
            .collect();
        let bytes = build(&spans_batch(&rows).unwrap());
        let ix = TagIndex::from_bytes(bytes.clone()).unwrap();
        assert_eq!(ix.lookup("uuid", "17"), Lookup::Unlisted);
        assert_eq!(ix.lookup("other", "17"), Lookup::Rows(vec![]));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(TagIndex::from_bytes(bad).is_err());
        assert!(TagIndex::from_bytes(bytes[..bytes.len() - 1].to_vec()).is_err());
        let empty = TagIndex::from_bytes(build(&spans_batch(&[]).unwrap())).unwrap();
        assert_eq!(empty.lookup("a", "b"), Lookup::Rows(vec![]));
    }

    #[test]
    fn varints_roundtrip() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 128, 300, u32::MAX] {
            put_varint(&mut out, v);
        }
        let mut at = 0;
        for v in [0, 1, 127, 128, 300, u32::MAX] {
            assert_eq!(get_varint(&out, &mut at), Some(v));
        }
        assert_eq!(get_varint(&out, &mut at), None);
    }
}
