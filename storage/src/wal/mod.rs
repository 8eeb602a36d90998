//! Write-ahead log: numbered segment files of CRC-checked records.
//!
//! Format (see `storage/docs/format/wal.md`): a segment `wal/<id:020>.seg` is a sequence of
//! records `[len: u32 LE][crc32: u32 LE][payload: len bytes]`, where the CRC covers the
//! payload and the payload is `[signal: u8][tenant_len: u16 LE][tenant][Arrow IPC stream]`,
//! or, for exemplars, `[4][0u16][JSON array of exemplars, each naming its tenant]`.
//! A record is acknowledged only after the segment is fsynced past it.
//!
//! Metrics batches are written as samples records (code 5, `samples`): labels only for
//! series the index did not hold yet. A batch forwarded between ingesters of a cluster
//! is wrapped in an identified record (code 6: its batch id, then the inner payload),
//! so a retried batch is recognised after a restart too (`batch_ids.rs`).
//!
//! `writer`: the thread that owns the current segment (group commit, then memtable
//! insert, then acknowledgement).

mod samples;
pub(crate) mod writer;

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::series::exemplars::Exemplar;
use crate::{Signal, StorageError};

const HEADER: usize = 8;
/// A record larger than this is treated as corruption on replay.
const MAX_RECORD: usize = 1 << 30;

/// One decoded WAL record.
#[derive(Debug)]
pub struct WalRecord {
    pub tenant: String,
    pub signal: Signal,
    /// The ingest schema (records of codes 1–3), or for a samples record the stored
    /// metrics schema, its series given in `series`.
    pub batch: RecordBatch,
    /// The series a samples record defines (empty for every other record).
    pub series: Vec<crate::series::Series>,
    /// The id of the forwarded batch this record stores (an identified record).
    pub batch_id: Option<u128>,
}

/// The payload code of an identified record: a batch id, then another record's payload.
const IDENTIFIED: u8 = 6;

/// `record` (header + payload, as the encoders return it) as an identified record of
/// batch `id`: one record, one CRC, so the id is durable exactly when the rows are.
pub fn identify(record: &[u8], id: u128) -> Result<Vec<u8>, StorageError> {
    let inner = record.get(HEADER..).unwrap_or_default();
    let mut payload = Vec::with_capacity(1 + 16 + inner.len());
    payload.push(IDENTIFIED);
    payload.extend_from_slice(&id.to_le_bytes());
    payload.extend_from_slice(inner);
    frame(payload)
}

/// The payload code of an exemplars record (after the signals' 1–3).
const EXEMPLARS: u8 = 4;

/// Encodes a record of exemplars (each names its tenant) ready to append.
pub fn encode_exemplars(exemplars: &[Exemplar]) -> Result<Vec<u8>, StorageError> {
    let mut payload = vec![EXEMPLARS, 0, 0];
    serde_json::to_writer(&mut payload, exemplars)
        .map_err(|e| StorageError::Closed(format!("exemplars not encodable: {e}")))?;
    frame(payload)
}

/// Header + payload.
fn frame(payload: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    let len =
        u32::try_from(payload.len()).map_err(|_| StorageError::RecordTooLarge(payload.len()))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The tenant's part of a payload: its length (u16 LE) and bytes.
fn tenant_header(tenant: &str) -> Result<Vec<u8>, StorageError> {
    let tenant_len = u16::try_from(tenant.len())
        .map_err(|_| StorageError::InvalidTenant(tenant.chars().take(64).collect()))?;
    let mut out = Vec::with_capacity(2 + tenant.len());
    out.extend_from_slice(&tenant_len.to_le_bytes());
    out.extend_from_slice(tenant.as_bytes());
    Ok(out)
}

/// Encodes a samples record (header + payload): the series it defines, then the
/// samples of `batch` (the stored metrics schema).
pub fn encode_samples(
    tenant: &str,
    series: &[crate::series::Series],
    batch: &RecordBatch,
) -> Result<Vec<u8>, StorageError> {
    frame(samples::encode(&tenant_header(tenant)?, series, batch)?)
}

/// Encodes a record (header + payload) ready to append, its batch as Arrow IPC.
pub fn encode(tenant: &str, signal: Signal, batch: &RecordBatch) -> Result<Vec<u8>, StorageError> {
    let header = tenant_header(tenant)?;
    let mut payload = Vec::with_capacity(batch.get_array_memory_size() / 2 + 64);
    payload.push(signal.code());
    payload.extend_from_slice(&header);
    {
        let mut w = StreamWriter::try_new(&mut payload, batch.schema_ref())?;
        w.write(batch)?;
        w.finish()?;
    }
    frame(payload)
}

/// A decoded payload: rows of a table, or exemplars.
enum Decoded {
    Rows(WalRecord),
    Exemplars(Vec<Exemplar>),
}

fn decode_payload(payload: &[u8]) -> Result<Decoded, String> {
    let (&code, rest) = payload.split_first().ok_or("empty payload")?;
    if code == IDENTIFIED {
        let (id, inner) = rest
            .split_first_chunk::<16>()
            .ok_or("short identified record")?;
        if inner.first() == Some(&IDENTIFIED) {
            return Err("identified record inside an identified record".into());
        }
        return match decode_payload(inner)? {
            Decoded::Rows(mut r) => {
                r.batch_id = Some(u128::from_le_bytes(*id));
                Ok(Decoded::Rows(r))
            }
            Decoded::Exemplars(_) => Err("identified exemplars record".into()),
        };
    }
    if code == EXEMPLARS {
        let json = rest.get(2..).ok_or("short exemplars record")?;
        return serde_json::from_slice(json)
            .map(Decoded::Exemplars)
            .map_err(|e| format!("exemplars: {e}"));
    }
    let signal = match code {
        samples::SAMPLES => Signal::Metrics,
        _ => Signal::from_code(code).ok_or_else(|| format!("unknown signal code {code}"))?,
    };
    if rest.len() < 2 {
        return Err("short tenant length".into());
    }
    let tlen = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let rest = &rest[2..];
    if rest.len() < tlen {
        return Err("short tenant".into());
    }
    let tenant = std::str::from_utf8(&rest[..tlen])
        .map_err(|e| format!("tenant not UTF-8: {e}"))?
        .to_string();
    if code == samples::SAMPLES {
        let d = samples::decode(&rest[tlen..]).map_err(|e| e.to_string())?;
        return Ok(Decoded::Rows(WalRecord {
            tenant,
            signal,
            batch: d.batch,
            series: d.series,
            batch_id: None,
        }));
    }
    let mut reader =
        StreamReader::try_new(&rest[tlen..], None).map_err(|e| format!("arrow ipc: {e}"))?;
    let batch = reader
        .next()
        .ok_or("no batch in record")?
        .map_err(|e| format!("arrow ipc: {e}"))?;
    Ok(Decoded::Rows(WalRecord {
        tenant,
        signal,
        batch,
        series: Vec::new(),
        batch_id: None,
    }))
}

pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// Segment ids present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if let Ok(id) = stem.parse::<u64>() {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Where and why a segment stops being readable.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// Reads every record of a segment up to the first damaged one (short header, record
/// running past the end, CRC mismatch, undecodable payload), and reports the damage.
/// In the newest segment that is the torn tail of a crash mid-append; elsewhere it is
/// corruption.
pub fn read_segment(path: &Path) -> Result<(Vec<WalRecord>, Option<Damage>), StorageError> {
    read_segment_all(path).map(|s| (s.records, s.damage))
}

/// What a segment holds, up to its damage if any.
pub struct SegmentContents {
    pub records: Vec<WalRecord>,
    pub exemplars: Vec<Exemplar>,
    pub damage: Option<Damage>,
}

/// Reads a segment's records and exemplars, stopping at the first damage.
pub fn read_segment_all(path: &Path) -> Result<SegmentContents, StorageError> {
    let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let total = file
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut records = Vec::new();
    let mut exemplars = Vec::new();
    let mut offset: u64 = 0;
    let mut header = [0u8; HEADER];
    let bad: Option<String> = loop {
        if offset == total {
            break None;
        }
        if total - offset < HEADER as u64 {
            break Some("short record header".into());
        }
        if let Err(e) = r.read_exact(&mut header) {
            return Err(StorageError::io(path, e));
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD || (total - offset - HEADER as u64) < len as u64 {
            break Some(format!("record of {len} bytes runs past the end"));
        }
        let mut payload = vec![0u8; len];
        if let Err(e) = r.read_exact(&mut payload) {
            return Err(StorageError::io(path, e));
        }
        if crc32fast::hash(&payload) != crc {
            break Some("CRC mismatch".into());
        }
        match decode_payload(&payload) {
            Ok(Decoded::Rows(rec)) => records.push(rec),
            Ok(Decoded::Exemplars(mut e)) => exemplars.append(&mut e),
            Err(e) => break Some(e),
        }
        offset += (HEADER + len) as u64;
    };
    Ok(SegmentContents {
        records,
        exemplars,
        damage: bad.map(|reason| Damage { offset, reason }),
    })
}

/// Cuts a segment at `offset` (dropping a torn tail) durably.
pub fn truncate(path: &Path, offset: u64) -> Result<(), StorageError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))?;
    f.set_len(offset).map_err(|e| StorageError::io(path, e))?;
    f.sync_all().map_err(|e| StorageError::io(path, e))
}

/// The segment being appended to.
pub struct SegmentWriter {
    pub id: u64,
    path: PathBuf,
    file: File,
    /// Bytes of whole records written (what a rollback returns to).
    len: u64,
}

impl SegmentWriter {
    pub fn create(dir: &Path, id: u64) -> Result<Self, StorageError> {
        let path = segment_path(dir, id);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(&path, e))?
            .len();
        sync_dir(dir)?;
        Ok(Self {
            id,
            path,
            file,
            len,
        })
    }

    pub fn append(&mut self, record: &[u8]) -> Result<(), StorageError> {
        self.file
            .write_all(record)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.len += record.len() as u64;
        Ok(())
    }

    /// Length of the records written so far.
    pub fn written(&self) -> u64 {
        self.len
    }

    /// Cuts the segment back to `len` (a group whose write failed part way, for
    /// example on a full disk): as if those records had never been written. The
    /// file is in append mode, so the next record goes right after.
    pub fn rollback(&mut self, len: u64) -> Result<(), StorageError> {
        self.file
            .set_len(len)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.len = len;
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))
    }
}

/// fsync a directory so that a create/rename/unlink inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{LogRow, logs_batch};

    fn batch(n: usize) -> RecordBatch {
        let rows: Vec<LogRow> = (0..n)
            .map(|i| LogRow {
                service: "s".into(),
                body: format!("line {i}"),
                timestamp_ns: i as i64,
                ..Default::default()
            })
            .collect();
        logs_batch(&rows).unwrap()
    }

    #[test]
    fn roundtrip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        for n in 1..=3 {
            w.append(&encode("t1", Signal::Logs, &batch(n)).unwrap())
                .unwrap();
        }
        w.sync().unwrap();
        let full = fs::metadata(segment_path(dir.path(), 1)).unwrap().len();
        // A torn append: only part of a fourth record reached the disk.
        let rec = encode("t1", Signal::Logs, &batch(4)).unwrap();
        w.append(&rec[..rec.len() / 2]).unwrap();
        drop(w);
        let path = segment_path(dir.path(), 1);
        let (recs, damage) = read_segment(&path).unwrap();
        let damage = damage.unwrap();
        assert_eq!(damage.offset, full);
        truncate(&path, damage.offset).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].batch.num_rows(), 3);
        assert_eq!(recs[0].tenant, "t1");
        assert_eq!(fs::metadata(&path).unwrap().len(), full);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![1]);
    }

    #[test]
    fn identified_records_carry_their_batch_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        let id = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        let plain = encode("t1", Signal::Logs, &batch(2)).unwrap();
        w.append(&identify(&plain, id).unwrap()).unwrap();
        w.append(&plain).unwrap();
        w.sync().unwrap();
        let (recs, damage) = read_segment(&segment_path(dir.path(), 1)).unwrap();
        assert!(damage.is_none(), "{damage:?}");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].batch_id, Some(id));
        assert_eq!(recs[0].batch.num_rows(), 2);
        assert_eq!(recs[1].batch_id, None);
        // Nested identified records are damage, not a second id.
        let nested = identify(&identify(&plain, 1).unwrap(), 2).unwrap();
        assert!(decode_payload(&nested[HEADER..]).is_err());
    }

    #[test]
    fn exemplars_records_round_trip_beside_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 3).unwrap();
        let ex = Exemplar {
            tenant: "t2".into(),
            metric: "http_request_duration_seconds_bucket".into(),
            series_labels: vec![("le".into(), "0.5".into())],
            labels: vec![("trace_id".into(), "ab".repeat(16))],
            value: 0.25,
            timestamp_ms: 1_700_000_000_123,
        };
        w.append(&encode("t1", Signal::Logs, &batch(2)).unwrap())
            .unwrap();
        w.append(&encode_exemplars(std::slice::from_ref(&ex)).unwrap())
            .unwrap();
        drop(w);
        let got = read_segment_all(&segment_path(dir.path(), 3)).unwrap();
        assert!(got.damage.is_none());
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.exemplars, vec![ex]);
    }

    #[test]
    fn crc_mismatch_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 7).unwrap();
        let mut rec = encode("t", Signal::Logs, &batch(2)).unwrap();
        let last = rec.len() - 1;
        rec[last] ^= 0xff;
        w.append(&rec).unwrap();
        drop(w);
        let (recs, damage) = read_segment(&segment_path(dir.path(), 7)).unwrap();
        assert!(recs.is_empty());
        assert_eq!(damage.unwrap().reason, "CRC mismatch");
    }
}

#[cfg(test)]
mod map_tests {
    use super::*;
    use crate::schema::{LogRow, logs_batch};

    #[test]
    fn maps_survive_the_wal() {
        let rows: Vec<LogRow> = (0..5)
            .map(|i| LogRow {
                service: "restart".into(),
                attributes: vec![("seq".into(), format!("s{i}"))],
                resource: vec![("service.name".into(), "restart".into())],
                ..Default::default()
            })
            .collect();
        let b = logs_batch(&rows).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        w.append(&encode("t", Signal::Logs, &b).unwrap()).unwrap();
        let (recs, _) = read_segment(&segment_path(dir.path(), 1)).unwrap();
        assert_eq!(recs[0].batch, b);
    }
}
