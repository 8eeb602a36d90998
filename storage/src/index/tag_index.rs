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
//! Format (little-endian; `storage/docs/format/tag-index.md`). The file is
//! `"OSPTAG03"`, the body's length (u32), the body zstd-compressed, and a CRC-32 of
//! everything before it. The body:
//! ```text
//! varint terms  varint term_len[terms]  varint rows_len[terms]
//! terms:    per term  u16 key length, key, value     (sorted by these bytes)
//! heads:    per term  varint count (0: not listed), then when count > 0 a mode:
//! rows:     per term  (rows_len bytes)
//!           mode 0: count varint row deltas                     (scattered rows), or
//!           mode 1: varint runs, per run varint gap, varint length (rows in runs: a
//!                   resource attribute of a file sorted by service)
//! ```
//! A posting list is its head followed by its rows; heads are stored apart from the
//! rows, where zstd finds their few values together (a term per rare value has the
//! head `1, 0`).
//! Opened, it is decompressed once and laid out as the `"OSPTAG02"` body was stored
//! (`u32 terms, u32 term_end[terms], u32 posting_end[terms]`, then the two areas), which
//! is binary-searched in place; files of that format are read as they are. Lengths as
//! varints instead of `u32` ends: a file with many rare values (a cache key per span)
//! spent a third of its bytes on the ends, which zstd could not shrink, and the heads
//! interleaved with random row numbers another tenth.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, MapArray, RecordBatch};

use crate::StorageError;
use crate::files::blobs::Blobs;

const MAGIC: &[u8; 8] = b"OSPTAG03";
/// The format before (2026-12-07): ends as `u32`, the layout an opened index has.
const MAGIC_V2: &[u8; 8] = b"OSPTAG02";
/// Largest body an index may claim (a damaged length must not allocate without
/// bound).
const MAX_BODY: usize = 1 << 30;

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

/// Appends a posting list, as deltas or as runs, whichever is smaller.
fn put_rows(out: &mut Vec<u8>, list: &[u32]) {
    put_varint(out, list.len() as u32);
    let mut deltas = vec![0u8];
    let mut prev = 0u32;
    for &r in list {
        put_varint(&mut deltas, r - prev);
        prev = r;
    }
    // Runs of consecutive rows: (gap since the previous run's end, length).
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &r in list {
        match runs.last_mut() {
            Some((start, len)) if *start + *len == r => *len += 1,
            _ => runs.push((r, 1)),
        }
    }
    let mut encoded = vec![1u8];
    put_varint(&mut encoded, runs.len() as u32);
    let mut end = 0u32;
    for (start, len) in runs {
        put_varint(&mut encoded, start - end);
        put_varint(&mut encoded, len);
        end = start + len;
    }
    out.extend_from_slice(if encoded.len() < deltas.len() {
        &encoded
    } else {
        &deltas
    });
}

/// Reads a posting list [`put_rows`] wrote (after its count).
fn get_rows(bytes: &[u8], at: &mut usize, count: usize) -> Option<Vec<u32>> {
    let mode = *bytes.get(*at)?;
    *at += 1;
    let mut rows = Vec::with_capacity(count.min(bytes.len() * 8));
    match mode {
        0 => {
            let mut prev = 0u32;
            for _ in 0..count {
                prev = prev.checked_add(get_varint(bytes, at)?)?;
                rows.push(prev);
            }
        }
        1 => {
            let runs = get_varint(bytes, at)?;
            let mut end = 0u32;
            for _ in 0..runs {
                let start = end.checked_add(get_varint(bytes, at)?)?;
                let len = get_varint(bytes, at)?;
                end = start.checked_add(len)?;
                if rows.len() + len as usize > count {
                    return None;
                }
                rows.extend(start..end);
            }
        }
        _ => return None,
    }
    (rows.len() == count).then_some(rows)
}

/// Builds the index of a spans batch (file layout or memory; rows in file order).
pub fn build(batch: &RecordBatch, zstd_level: i32) -> Result<Vec<u8>, String> {
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
    let (mut heads, mut rows_area) = (Vec::new(), Vec::new());
    let mut term_len = Vec::with_capacity(terms.len());
    let mut rows_len = Vec::with_capacity(terms.len());
    let mut posting = Vec::new();
    for (t, list) in &terms {
        term_bytes.extend_from_slice(t);
        term_len.push(t.len() as u32);
        posting.clear();
        match list {
            None => put_varint(&mut posting, 0),
            Some(list) => put_rows(&mut posting, list),
        }
        let head = head_len(&posting).ok_or("a posting list without a head")?;
        heads.extend_from_slice(&posting[..head]);
        rows_area.extend_from_slice(&posting[head..]);
        rows_len.push((posting.len() - head) as u32);
    }
    let mut body =
        Vec::with_capacity(5 + 4 * terms.len() + term_bytes.len() + heads.len() + rows_area.len());
    put_varint(&mut body, terms.len() as u32);
    for &len in term_len.iter().chain(&rows_len) {
        put_varint(&mut body, len);
    }
    body.extend_from_slice(&term_bytes);
    body.extend_from_slice(&heads);
    body.extend_from_slice(&rows_area);
    let mut out = Vec::with_capacity(body.len() / 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&zstd::bulk::compress(&body, zstd_level).map_err(|e| e.to_string())?);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Writes the index of the spans in `batch` (durably; before the Parquet file is
/// renamed into place, so a live file always has its index).
pub fn write_sidecar(
    blobs: &Blobs,
    parquet: &str,
    batch: &RecordBatch,
    zstd_level: i32,
) -> Result<(), StorageError> {
    let path = sidecar_path(parquet);
    let bytes = build(batch, zstd_level).map_err(|reason| StorageError::Index {
        path: path.clone(),
        reason,
    })?;
    blobs.put(&path, bytes)
}

/// The length of a posting list's head at the start of `bytes`: its count, and the
/// mode byte when the count is not 0.
fn head_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    let count = get_varint(bytes, &mut at)?;
    Some(if count == 0 { at } else { at + 1 })
}

/// A stored body (lengths as varints, heads apart from rows) laid out as an opened
/// index reads it: the term count and the ends of terms and posting lists as `u32`,
/// then the terms, then each posting list whole.
fn lay_out(body: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "damaged term table".to_string();
    let mut at = 0;
    let terms = get_varint(body, &mut at).ok_or_else(bad)? as usize;
    if terms > body.len() {
        return Err(bad());
    }
    let mut lens = Vec::with_capacity(2 * terms);
    for _ in 0..2 * terms {
        lens.push(get_varint(body, &mut at).ok_or_else(bad)? as usize);
    }
    let (term_len, rows_len) = lens.split_at(terms);
    let term_area: usize = term_len.iter().sum();
    let terms_bytes = body.get(at..at + term_area).ok_or("truncated")?;
    let mut heads = at + term_area;
    let mut head_lens = Vec::with_capacity(terms);
    let mut rows = heads;
    for _ in 0..terms {
        let head = head_len(body.get(rows..).ok_or("truncated")?).ok_or("truncated")?;
        head_lens.push(head);
        rows += head;
    }
    if rows.saturating_add(rows_len.iter().sum::<usize>()) != body.len() {
        return Err("truncated".into());
    }
    let mut out = Vec::with_capacity(4 + 8 * terms + body.len());
    out.extend_from_slice(&(terms as u32).to_le_bytes());
    let mut end = 0u32;
    for &len in term_len {
        end = end
            .checked_add(u32::try_from(len).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        out.extend_from_slice(&end.to_le_bytes());
    }
    let mut postings = Vec::with_capacity(body.len() - at - term_area);
    for (&len, &head) in rows_len.iter().zip(&head_lens) {
        postings.extend_from_slice(&body[heads..heads + head]);
        postings.extend_from_slice(&body[rows..rows + len]);
        heads += head;
        rows += len;
        out.extend_from_slice(
            &u32::try_from(postings.len())
                .map_err(|_| bad())?
                .to_le_bytes(),
        );
    }
    out.extend_from_slice(terms_bytes);
    out.extend_from_slice(&postings);
    Ok(out)
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

    fn from_bytes(file: Vec<u8>) -> Result<Self, String> {
        let v2 = match file.get(..8) {
            Some(m) if file.len() >= 16 && m == MAGIC => false,
            Some(m) if file.len() >= 16 && m == MAGIC_V2 => true,
            _ => return Err("not a tag index".into()),
        };
        let (content, crc) = file.split_at(file.len() - 4);
        if crc32fast::hash(content).to_le_bytes() != crc {
            return Err("checksum mismatch".into());
        }
        let len = u32::from_le_bytes([file[8], file[9], file[10], file[11]]) as usize;
        if len > MAX_BODY {
            return Err(format!("claims a {len}-byte body"));
        }
        let bytes = zstd::bulk::decompress(&content[12..], len).map_err(|e| e.to_string())?;
        if bytes.len() != len {
            return Err("body shorter than its length".into());
        }
        let bytes = if v2 { bytes } else { lay_out(&bytes)? };
        if bytes.len() < 4 {
            return Err("no term count".into());
        }
        let terms = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let index = Self { bytes, terms };
        let header = 4usize.saturating_add(terms.saturating_mul(8));
        let (t_end, p_end) = match terms {
            0 => (0, 0),
            n => (
                index.u32_at(4 + 4 * (n - 1)),
                index.u32_at(4 + 4 * (2 * n - 1)),
            ),
        };
        if header.saturating_add(t_end).saturating_add(p_end) != index.bytes.len() {
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
        let base = 4 + 8 * self.terms;
        let start = if i == 0 {
            0
        } else {
            self.u32_at(4 + 4 * (i - 1))
        };
        let end = self.u32_at(4 + 4 * i);
        self.bytes.get(base + start..base + end).unwrap_or(&[])
    }

    fn postings(&self, i: usize) -> Option<Lookup> {
        let base = 4 + 8 * self.terms + self.u32_at(4 + 4 * (self.terms - 1));
        let at = |k: usize| self.u32_at(4 + 4 * (self.terms + k));
        let start = if i == 0 { 0 } else { at(i - 1) };
        let bytes = self.bytes.get(base + start..base + at(i))?;
        let mut pos = 0;
        let count = get_varint(bytes, &mut pos)? as usize;
        if count == 0 {
            return Some(Lookup::Unlisted);
        }
        get_rows(bytes, &mut pos, count).map(Lookup::Rows)
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
pub type TagIndexCache = crate::index::cache::IndexCache<TagIndex>;

impl crate::index::cache::Cached for TagIndex {
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
        let ix = TagIndex::from_bytes(build(&spans_batch(&rows).unwrap(), 3).unwrap()).unwrap();
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
        let bytes = build(&spans_batch(&rows).unwrap(), 3).unwrap();
        let ix = TagIndex::from_bytes(bytes.clone()).unwrap();
        assert_eq!(ix.lookup("uuid", "17"), Lookup::Unlisted);
        assert_eq!(ix.lookup("other", "17"), Lookup::Rows(vec![]));
        let mut bad = bytes.clone();
        bad[14] ^= 1;
        assert!(TagIndex::from_bytes(bad).is_err());
        assert!(TagIndex::from_bytes(bytes[..bytes.len() - 1].to_vec()).is_err());
        let empty = TagIndex::from_bytes(build(&spans_batch(&[]).unwrap(), 3).unwrap()).unwrap();
        assert_eq!(empty.lookup("a", "b"), Lookup::Rows(vec![]));
    }

    /// An index of the format before (`OSPTAG02`, the `data-v6` fixture) still opens,
    /// and answers every one of its terms as today's index of the same file does.
    #[test]
    fn the_format_before_reads_as_todays() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/data-v6/tables/default/spans/2023-11-14T22/000000000001.parquet"
        );
        let old = std::fs::read(format!("{dir}.tags")).unwrap();
        assert_eq!(&old[..8], MAGIC_V2);
        let old = TagIndex::from_bytes(old).unwrap();
        let file = std::fs::File::open(dir).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let new = build(&batch, 3).unwrap();
        assert_eq!(&new[..8], MAGIC);
        let new = TagIndex::from_bytes(new).unwrap();
        assert!(old.terms > 0);
        assert_eq!(new.terms, old.terms);
        for i in 0..old.terms {
            let t = old.term_bytes(i);
            assert_eq!(new.term_bytes(i), t);
            let key_len = u16::from_le_bytes([t[0], t[1]]) as usize;
            let key = std::str::from_utf8(&t[2..2 + key_len]).unwrap();
            let value = std::str::from_utf8(&t[2 + key_len..]).unwrap_or("\u{fffd}");
            assert_eq!(
                new.lookup(key, value),
                old.lookup(key, value),
                "{key}={value}"
            );
        }
    }

    /// Rare values (a cache key per span) cost their terms and rows, not a table of
    /// `u32` ends beside them: today's file is well under the format before's (whose
    /// body is what an opened index holds).
    #[test]
    fn rare_values_cost_less_than_with_u32_ends() {
        let key = |i: u64| format!("k{:08x}", i * 2_654_435_761 % (1 << 32));
        let rows: Vec<SpanRow> = (0..20_000)
            .map(|i| span(&[("cache.key", &key(i))], &[]))
            .collect();
        let bytes = build(&spans_batch(&rows).unwrap(), 3).unwrap();
        let ix = TagIndex::from_bytes(bytes.clone()).unwrap();
        assert_eq!(ix.lookup("cache.key", &key(7)), Lookup::Rows(vec![7]));
        let before = zstd::bulk::compress(&ix.bytes, 3).unwrap().len() + 16;
        assert!(
            (bytes.len() as f64) < 0.8 * before as f64,
            "{} bytes against {before}",
            bytes.len()
        );
    }

    #[test]
    fn postings_as_deltas_or_runs() {
        // (A listed term has rows; a count of 0 means "not listed".)
        for list in [
            vec![0],
            vec![5, 9, 200, 70_000],
            (100..5000).collect::<Vec<u32>>(),
            (0..50).chain(60..70).chain([1000, 1002]).collect(),
        ] {
            let mut out = Vec::new();
            put_rows(&mut out, &list);
            let mut at = 0;
            let count = get_varint(&out, &mut at).unwrap() as usize;
            assert_eq!(get_rows(&out, &mut at, count), Some(list.clone()));
            assert_eq!(at, out.len());
        }
        // A run of 4900 rows costs a few bytes.
        let mut out = Vec::new();
        put_rows(&mut out, &(100..5000).collect::<Vec<u32>>());
        assert!(out.len() < 10, "{}", out.len());
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
