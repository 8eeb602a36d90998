//! LEB128 varints (zigzag for signed values) and a reader over them, shared by the
//! samples-run codec (`files/run_codec.rs`) and the WAL's samples records
//! (`wal/samples.rs`). A few lines each, so written here rather than taken from a crate.

use crate::StorageError;

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub fn signed_len(v: i64) -> usize {
    varint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Reads varints, raw 8-byte words and byte strings; errors name `what` is read.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { bytes, at: 0, what }
    }

    pub fn corrupt(&self, why: &str) -> StorageError {
        StorageError::Layout(format!("{}: {why}", self.what))
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn byte(&mut self) -> Result<u8, StorageError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.corrupt("ends early"))?;
        self.at += 1;
        Ok(b)
    }

    pub fn varint(&mut self) -> Result<u64, StorageError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 64 bits"))
    }

    pub fn signed(&mut self) -> Result<i64, StorageError> {
        let u = self.varint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    /// Eight bytes, little-endian.
    pub fn bits(&mut self) -> Result<u64, StorageError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| self.corrupt("length overflows"))?;
        let b = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| self.corrupt("ends inside a value"))?;
        self.at = end;
        Ok(b)
    }

    /// A varint length, then that many bytes of UTF-8.
    pub fn str(&mut self) -> Result<&'a str, StorageError> {
        let n = usize::try_from(self.varint()?).map_err(|_| self.corrupt("string too long"))?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| self.corrupt("string not UTF-8"))
    }
}

/// A varint length, then the bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}
