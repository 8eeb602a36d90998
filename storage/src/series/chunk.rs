//! Compressed sample chunks of the head (`head.rs`): up to [`CHUNK_SAMPLES`] samples of
//! one series, time-ordered. Timestamps are one bit stream in the manner of Facebook's
//! Gorilla paper (and Prometheus' chunks): delta-of-delta in a few size classes.
//! Values are coded as the samples files code them (`files/run_codec.rs`): decimal
//! mantissas, delta or delta-of-delta, with exceptions and an XOR fallback, which
//! takes this workload's counters and gauges to about 2 bytes a value where the XOR
//! of their float bits took about 5 (and decodes bytes, not bits).
//!
//! Timestamps are nanoseconds; a chunk whose timestamps are all whole milliseconds
//! (what scrapes and most SDKs send) is coded in milliseconds, so a regular scrape
//! interval costs one bit per timestamp.
//!
//! Written here rather than taken from a crate: the head appends chunk by chunk and
//! decodes only the chunks a query's time range touches; the crates found either code
//! whole columns (pco) or are unmaintained Gorilla ports.

/// Samples per chunk (Prometheus' head uses 120: two hours of 1-minute scrapes).
pub const CHUNK_SAMPLES: usize = 120;

/// One closed chunk: its time bounds, sample count and coded bytes.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub min_t: i64,
    pub max_t: i64,
    pub len: u16,
    /// 1 or 1_000_000: the unit timestamps are coded in (ns).
    unit: i64,
    /// Where the values start in `bytes`.
    split: u32,
    /// The timestamps' bit stream, then the values (`run_codec::encode_values`).
    bytes: Box<[u8]>,
}

impl Chunk {
    /// Codes `samples` (sorted by time, 1..=u16::MAX of them).
    pub fn encode(samples: &[(i64, f64)]) -> Chunk {
        let samples = &samples[..samples.len().min(u16::MAX as usize)];
        let unit = if samples.iter().all(|(t, _)| t % 1_000_000 == 0) {
            1_000_000
        } else {
            1
        };
        let mut w = BitWriter::default();
        let (mut prev_t, mut prev_delta) = (0i64, 0i64);
        for (i, &(t, _)) in samples.iter().enumerate() {
            let t = t / unit;
            if i == 0 {
                w.write(t as u64, 64);
            } else {
                let delta = t.wrapping_sub(prev_t);
                write_dod(&mut w, delta.wrapping_sub(prev_delta));
                prev_delta = delta;
            }
            prev_t = t;
        }
        let mut bytes = w.finish();
        let split = bytes.len() as u32;
        let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
        run_codec::encode_values(&values, &mut bytes);
        Chunk {
            min_t: samples.first().map_or(0, |s| s.0),
            max_t: samples.last().map_or(0, |s| s.0),
            len: samples.len() as u16,
            unit,
            split,
            bytes: bytes.into_boxed_slice(),
        }
    }

    /// Bytes this chunk holds in memory.
    pub fn bytes(&self) -> usize {
        self.bytes.len() + std::mem::size_of::<Chunk>()
    }

    /// Appends the samples with `start <= t <= end` to `out`, in time order.
    pub fn decode_into(&self, start: i64, end: i64, out: &mut SeriesSamples) {
        let (times, values) = self.bytes.split_at(self.split as usize);
        let mut r = BitReader::new(times);
        let (mut t, mut delta) = (0i64, 0i64);
        let base = out.ts.len();
        let (mut from, mut to) = (usize::from(self.len), usize::from(self.len));
        for i in 0..usize::from(self.len) {
            if i == 0 {
                t = r.read(64) as i64;
            } else {
                delta = delta.wrapping_add(read_dod(&mut r));
                t = t.wrapping_add(delta);
            }
            let ns = t.wrapping_mul(self.unit);
            if ns > end {
                to = i;
                break;
            }
            if ns < start {
                continue;
            }
            if from > i {
                from = i;
            }
            out.ts.push(ns);
        }
        if from >= to {
            return;
        }
        // The head's own bytes: a failure is a bug, and the chunk reads as empty.
        if run_codec::decode_values(values, usize::from(self.len), &mut out.vals).is_err() {
            debug_assert!(false, "head chunk values do not decode");
            out.truncate(base);
            return;
        }
        // Values were decoded whole: keep those of the samples kept.
        out.vals.truncate(base + to);
        out.vals.drain(base..base + from);
    }
}

use super::SeriesSamples;
use crate::files::run_codec;

/// Delta-of-delta size classes: `0`; `10`+7 bits; `110`+14; `1110`+20; `1111`+64.
pub(super) fn write_dod(w: &mut BitWriter, dod: i64) {
    let fits = |bits: u32| {
        let half = 1i64 << (bits - 1);
        (-half..half).contains(&dod)
    };
    let mask = |bits: u32| (dod as u64) & ((1u64 << bits) - 1);
    if dod == 0 {
        w.write(0, 1);
    } else if fits(7) {
        w.write(0b10, 2);
        w.write(mask(7), 7);
    } else if fits(14) {
        w.write(0b110, 3);
        w.write(mask(14), 14);
    } else if fits(20) {
        w.write(0b1110, 4);
        w.write(mask(20), 20);
    } else {
        w.write(0b1111, 4);
        w.write(dod as u64, 64);
    }
}

#[inline]
pub(super) fn read_dod(r: &mut BitReader) -> i64 {
    // The class is the count of leading ones of the next four bits (at most 4).
    let class = ((!(r.peek(4) << 60)).leading_zeros()).min(4) as usize;
    r.skip(if class < 4 { class + 1 } else { 4 });
    let bits = [0u32, 7, 14, 20, 64][class];
    if bits == 0 {
        return 0;
    }
    let raw = r.read(bits);
    if bits == 64 {
        return raw as i64;
    }
    // Sign-extend the `bits`-wide value.
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// Writes a bit stream most significant bit first, through a 64-bit accumulator
/// stored a whole word at a time (bit writes are per sample on the ingest path).
#[derive(Debug, Default)]
pub(super) struct BitWriter {
    /// Whole words written so far.
    pub(super) bytes: Vec<u8>,
    /// The last `pending` bits written (low bits), not yet in `bytes`.
    acc: u64,
    pending: u32,
}

impl BitWriter {
    pub(super) fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Writes the low `n` bits of `v` (n ≤ 64), most significant first.
    #[inline]
    pub(super) fn write(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let v = if n < 64 { v & ((1u64 << n) - 1) } else { v };
        let free = 64 - self.pending;
        if n < free {
            self.acc = (self.acc << n) | v;
            self.pending += n;
            return;
        }
        // Fill the accumulator up, store it, keep the rest of `v`.
        let rest = n - free;
        let word = if free == 64 {
            v
        } else {
            (self.acc << free) | (v >> rest)
        };
        self.bytes.extend_from_slice(&word.to_be_bytes());
        self.acc = if rest == 0 {
            0
        } else {
            v & ((1u64 << rest) - 1)
        };
        self.pending = rest;
    }

    /// The bits not yet in `bytes`, left-aligned in whole bytes, and how many bytes.
    pub(super) fn tail(&self) -> ([u8; 8], usize) {
        if self.pending == 0 {
            return ([0; 8], 0);
        }
        (
            (self.acc << (64 - self.pending)).to_be_bytes(),
            self.pending.div_ceil(8) as usize,
        )
    }

    /// The whole stream (the last byte padded with zero bits).
    pub(super) fn finish(mut self) -> Vec<u8> {
        let (tail, n) = self.tail();
        self.bytes.extend_from_slice(&tail[..n]);
        self.bytes
    }
}

/// Reads a bit stream most significant bit first, through a 64-bit buffer refilled a
/// byte at a time (bits past the end read as zero).
pub(super) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Bytes read after `bytes` (an open chunk's unstored bits).
    tail: [u8; 8],
    /// The next byte to load into `buf`.
    next: usize,
    /// The next `avail` bits, left-aligned.
    buf: u64,
    avail: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self::with_tail(bytes, [0; 8])
    }

    /// Reads `bytes`, then `tail`.
    pub(super) fn with_tail(bytes: &'a [u8], tail: [u8; 8]) -> Self {
        Self {
            bytes,
            tail,
            next: 0,
            buf: 0,
            avail: 0,
        }
    }

    #[inline]
    fn refill(&mut self) {
        while self.avail <= 56 {
            let b = match self.bytes.get(self.next) {
                Some(b) => *b,
                None => self
                    .tail
                    .get(self.next - self.bytes.len())
                    .copied()
                    .unwrap_or(0),
            };
            self.next += 1;
            self.buf |= u64::from(b) << (56 - self.avail);
            self.avail += 8;
        }
    }

    /// The next `n` bits (1 ≤ n ≤ 56) without consuming them.
    #[inline]
    fn peek(&mut self, n: u32) -> u64 {
        if self.avail < n {
            self.refill();
        }
        self.buf >> (64 - n)
    }

    /// Consumes `n` bits already peeked.
    #[inline]
    fn skip(&mut self, n: usize) {
        self.buf <<= n;
        self.avail -= n as u32;
    }

    /// Reads `n` bits (n ≤ 64).
    #[inline]
    pub(super) fn read(&mut self, n: u32) -> u64 {
        if n == 0 {
            return 0;
        }
        if n > 56 {
            return self.read_wide(n);
        }
        let v = self.peek(n);
        self.skip(n as usize);
        v
    }

    /// Reads 57 to 64 bits (a chunk's first sample, a rare full delta).
    #[cold]
    fn read_wide(&mut self, n: u32) -> u64 {
        let hi = self.read(n - 32);
        (hi << 32) | self.read(32)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `n` samples of a 15 s scrape (every 7th 3 ms late) of a gauge near 1000.
    pub(in crate::series) fn scrape_like(n: i64) -> Vec<(i64, f64)> {
        let base = 1_795_000_000_000_000_000i64;
        (0..n)
            .map(|i| {
                let jitter = if i % 7 == 0 { 3_000_000 } else { 0 };
                (
                    base + i * 15_000_000_000 + jitter,
                    1000.0 + (i * 17 % 5) as f64,
                )
            })
            .collect()
    }

    fn round_trip(samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let c = Chunk::encode(samples);
        let mut out = SeriesSamples::default();
        c.decode_into(i64::MIN, i64::MAX, &mut out);
        out.iter().collect()
    }

    /// The same samples, values compared bit for bit.
    pub(in crate::series) fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    #[test]
    fn scrape_like_series_round_trip_and_compress() {
        let samples = scrape_like(120);
        assert!(same(&round_trip(&samples), &samples));
        let c = Chunk::encode(&samples);
        // 120 samples in far fewer than the 1,920 raw bytes.
        assert!(c.bytes.len() <= 200, "{} bytes", c.bytes.len());
    }

    #[test]
    fn awkward_values_and_times_round_trip() {
        let samples = vec![
            (-5, f64::NAN),
            (-5, f64::INFINITY),
            (0, -0.0),
            (1, f64::MIN_POSITIVE),
            (1_000_000_007, f64::MAX),
            (i64::MAX / 2, -1.5),
            (i64::MAX / 2 + 1, f64::from_bits(0x7ff8_0000_0000_0002)),
            (i64::MAX, 0.1),
        ];
        assert!(same(&round_trip(&samples), &samples));
        let one = vec![(42, 1.0)];
        assert!(same(&round_trip(&one), &one));
    }

    proptest::proptest! {
        #[test]
        fn any_sorted_samples_round_trip(
            mut times in proptest::collection::vec(proptest::prelude::any::<i64>(), 1..200),
            bits in proptest::collection::vec(proptest::prelude::any::<u64>(), 200),
        ) {
            times.sort_unstable();
            let samples: Vec<(i64, f64)> =
                times.iter().zip(&bits).map(|(t, b)| (*t, f64::from_bits(*b))).collect();
            proptest::prop_assert!(same(&round_trip(&samples), &samples));
        }
    }

    #[test]
    fn decode_honours_the_time_range() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 10, i as f64)).collect();
        let c = Chunk::encode(&samples);
        let mut out: SeriesSamples = [(1, 7.0)].into_iter().collect();
        c.decode_into(95, 200, &mut out);
        let want: Vec<(i64, f64)> = std::iter::once((1, 7.0))
            .chain((10..=20).map(|i| (i * 10, i as f64)))
            .collect();
        assert_eq!(out.iter().collect::<Vec<_>>(), want);
        // A range before, after or between the samples adds nothing.
        for (start, end) in [(-10, -1), (491, 600), (11, 19)] {
            let mut none = SeriesSamples::default();
            c.decode_into(start, end, &mut none);
            assert!(none.is_empty(), "{start}..={end}");
        }
    }
}
