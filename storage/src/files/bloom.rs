//! Checking a Parquet split-block bloom filter without reading it whole: a value is
//! only ever looked up in the one 32-byte block its hash picks, so a check reads that
//! block, not the filter (0.5 MiB per 256k-row group of `trace_id`s). A lookup by id
//! then costs the same however many row groups the data has.
//!
//! Per the Parquet format's bloom filter spec: the filter is a thrift header followed
//! by the bitset, whose size is a power of two (32 bytes to 128 MiB) — so with the
//! column chunk's `bloom_filter_length` (header + bitset) the bitset starts at
//! `offset + length − bitset`, `bitset` being the largest power of two not above
//! `length` (the header is a few bytes, far below the smallest bitset). The block of a
//! value is `((xxh64(value) >> 32) × blocks) >> 32`, and within it the low 32 bits of
//! the hash pick the bits, which `parquet::bloom_filter::Sbbf` checks on a one-block
//! filter of the bytes read.

use std::ops::Range;

use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::ColumnChunkMetaData;
use twox_hash::XxHash64;

/// Bytes of one block.
const BLOCK: u64 = 32;

/// Where a column chunk's bitset lies and how many blocks it has; `None` when the
/// chunk has no filter or does not record its length (older writers).
pub(crate) fn bitset(chunk: &ColumnChunkMetaData) -> Option<(u64, u64)> {
    let offset = u64::try_from(chunk.bloom_filter_offset()?).ok()?;
    let length = u64::try_from(chunk.bloom_filter_length()?).ok()?;
    if length < BLOCK {
        return None;
    }
    let bytes = 1u64 << (63 - length.leading_zeros());
    Some((offset + (length - bytes), bytes / BLOCK))
}

/// The byte range of the block `value` would be in, for a bitset at `start` of
/// `blocks` blocks.
pub(crate) fn block_of(value: &[u8], (start, blocks): (u64, u64)) -> Range<u64> {
    let hash = XxHash64::oneshot(0, value);
    let index = ((hash >> 32) * blocks) >> 32;
    let at = start + index * BLOCK;
    at..at + BLOCK
}

/// Whether `value` may be in the filter, given the bytes of its block
/// ([`block_of`]).
pub(crate) fn may_hold(block: &[u8], value: &[u8]) -> bool {
    // One block: the hash's block index is 0, its low bits pick the bits to check.
    block.len() as u64 == BLOCK && Sbbf::new(block).check(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the whole filter: a value the filter holds is found in its block, and
    /// every value gets the same answer from its block as from the filter.
    #[test]
    fn a_block_answers_as_the_whole_filter() {
        for blocks in [1u64, 2, 64, 1024] {
            let mut sbbf = Sbbf::new(&vec![0u8; (blocks * BLOCK) as usize]);
            let id = |i: u64| {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
                b
            };
            for i in 0..blocks * 20 {
                sbbf.insert(&id(i)[..]);
            }
            let mut bits = Vec::new();
            sbbf.write_bitset(&mut bits).unwrap();
            // A header of a few bytes before the bitset, as in a file.
            let header = 13u64;
            let mut file = vec![0xAAu8; header as usize];
            file.extend_from_slice(&bits);
            let (start, n) = (header, blocks);
            for i in 0..blocks * 60 {
                let v = id(i);
                let r = block_of(&v, (start, n));
                let block = &file[r.start as usize..r.end as usize];
                assert_eq!(
                    may_hold(block, &v),
                    sbbf.check(&v[..]),
                    "{blocks} blocks, value {i}"
                );
                if i < blocks * 20 {
                    assert!(may_hold(block, &v), "inserted value {i} missed");
                }
            }
        }
    }
}
