//! The chunk a head series is filling (`head.rs`), coded as samples come: one bit
//! stream of (timestamp, value) pairs in the manner of Gorilla (and Prometheus' head
//! appender), timestamps as delta-of-delta and values as the XOR of their float bits
//! with the previous value's. A series' open chunk holds up to [`CHUNK_SAMPLES`]
//! samples; kept as `(i64, f64)` pairs they were 16 bytes a sample, ~1.9 KiB a series
//! at most, which at 100k series was the largest item of the head (~200 MiB). Coded,
//! a scrape-like sample takes a few bytes. When full it is decoded once and coded
//! again as a closed [`Chunk`] (decimal values, denser than XOR).
//!
//! Timestamps are coded in milliseconds while every one is a whole millisecond (a
//! jittered scrape interval then costs a few bits, not a 64-bit delta of
//! nanoseconds); the first that is not recodes the chunk in nanoseconds.

use super::SeriesSamples;
use super::chunk::{BitReader, BitWriter, CHUNK_SAMPLES, Chunk, read_dod, write_dod};

const MS: i64 = 1_000_000;

/// An open chunk: time-ordered samples, coded as they are appended.
#[derive(Debug, Default)]
pub struct OpenChunk {
    bits: BitWriter,
    len: u16,
    /// Timestamps are coded in ns (false) or ms (true).
    millis: bool,
    /// The first and last timestamps (ns).
    min_t: i64,
    max_t: i64,
    prev_delta: i64,
    prev_v: u64,
    /// The previous value's XOR window (leading zeros, meaningful bits); 0 bits = none.
    window: (u8, u8),
}

impl OpenChunk {
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest sample's time, if any.
    pub fn newest(&self) -> Option<i64> {
        (self.len > 0).then_some(self.max_t)
    }

    /// The oldest sample's time, if any.
    pub fn oldest(&self) -> Option<i64> {
        (self.len > 0).then_some(self.min_t)
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> usize {
        self.bits.bytes.capacity() + std::mem::size_of::<OpenChunk>()
    }

    /// Appends a sample at or after the newest; returns a closed chunk (and leaves this
    /// one empty) when it reaches [`CHUNK_SAMPLES`].
    pub fn push(&mut self, t: i64, v: f64) -> Option<Chunk> {
        debug_assert!(self.newest().is_none_or(|n| t >= n));
        if self.len == 0 {
            self.start(t, v, t % MS == 0);
            return None;
        }
        if self.millis && t % MS != 0 {
            self.recode_in_nanos();
        }
        self.append(t, v);
        if self.len() < CHUNK_SAMPLES {
            return None;
        }
        let chunk = Chunk::encode(&self.samples());
        *self = OpenChunk::default();
        Some(chunk)
    }

    /// Starts the chunk with its first sample.
    fn start(&mut self, t: i64, v: f64, millis: bool) {
        *self = OpenChunk {
            millis,
            min_t: t,
            max_t: t,
            len: 1,
            prev_v: v.to_bits(),
            bits: BitWriter::with_capacity(24),
            ..OpenChunk::default()
        };
        self.bits.write(self.unit_t(t) as u64, 64);
        self.bits.write(v.to_bits(), 64);
    }

    /// Appends a sample after the first.
    fn append(&mut self, t: i64, v: f64) {
        let delta = self.unit_t(t).wrapping_sub(self.unit_t(self.max_t));
        write_dod(&mut self.bits, delta.wrapping_sub(self.prev_delta));
        self.prev_delta = delta;
        self.max_t = t;
        self.write_value(v.to_bits());
        self.len += 1;
    }

    fn unit_t(&self, t: i64) -> i64 {
        if self.millis { t / MS } else { t }
    }

    /// Gorilla's value coding: `0` for the same bits; `10` + the meaningful bits in the
    /// previous window; `11` + 6 bits of leading zeros + 6 of length − 1 + the bits.
    fn write_value(&mut self, v: u64) {
        let xor = v ^ self.prev_v;
        self.prev_v = v;
        if xor == 0 {
            self.bits.write(0, 1);
            return;
        }
        let (lead, trail) = (xor.leading_zeros() as u8, xor.trailing_zeros() as u8);
        let (plead, plen) = self.window;
        if plen > 0 && lead >= plead && trail >= 64 - plead - plen {
            let shift = 64 - u32::from(plead) - u32::from(plen);
            self.bits.write(0b10, 2);
            self.bits.write(xor >> shift, u32::from(plen));
            return;
        }
        let len = 64 - lead - trail;
        self.bits.write(0b11, 2);
        self.bits.write(u64::from(lead), 6);
        self.bits.write(u64::from(len - 1), 6);
        self.bits.write(xor >> trail, u32::from(len));
        self.window = (lead, len);
    }

    /// A timestamp that is not a whole millisecond came: codes the chunk again in ns.
    #[cold]
    fn recode_in_nanos(&mut self) {
        let mut samples = self.samples().into_iter();
        if let Some((t, v)) = samples.next() {
            self.start(t, v, false);
            samples.for_each(|(t, v)| self.append(t, v));
        }
    }

    /// Every sample, in time order.
    pub fn samples(&self) -> Vec<(i64, f64)> {
        let mut out = Vec::with_capacity(self.len());
        self.each(i64::MIN, i64::MAX, |t, v| out.push((t, v)));
        out
    }

    /// Appends the samples with `start <= t <= end` to `out`, in time order.
    pub fn decode_into(&self, start: i64, end: i64, out: &mut SeriesSamples) {
        self.each(start, end, |t, v| out.push(t, v));
    }

    /// Calls `f` with each sample with `start <= t <= end`, in time order.
    #[inline]
    fn each(&self, start: i64, end: i64, mut f: impl FnMut(i64, f64)) {
        if self.len == 0 || self.max_t < start || self.min_t > end {
            return;
        }
        let unit = if self.millis { MS } else { 1 };
        let mut r = BitReader::with_tail(&self.bits.bytes, self.bits.tail().0);
        let mut t = r.read(64) as i64;
        let mut v = r.read(64);
        let (mut delta, mut window) = (0i64, (0u32, 0u32));
        for i in 0..self.len() {
            if i > 0 {
                delta = delta.wrapping_add(read_dod(&mut r));
                t = t.wrapping_add(delta);
                v ^= read_xor(&mut r, &mut window);
            }
            let ns = t.wrapping_mul(unit);
            if ns > end {
                return;
            }
            if ns >= start {
                f(ns, f64::from_bits(v));
            }
        }
    }
}

/// Reads one value's XOR with the previous (see [`OpenChunk::write_value`]).
#[inline]
fn read_xor(r: &mut BitReader, window: &mut (u32, u32)) -> u64 {
    if r.read(1) == 0 {
        return 0;
    }
    if r.read(1) == 1 {
        let lead = r.read(6) as u32;
        let len = r.read(6) as u32 + 1;
        *window = (lead, len);
    }
    let (lead, len) = *window;
    r.read(len) << (64 - lead - len)
}

#[cfg(test)]
mod tests {
    use super::super::chunk::tests::{same, scrape_like};
    use super::*;

    fn fill(samples: &[(i64, f64)]) -> (OpenChunk, Vec<Chunk>) {
        let mut open = OpenChunk::default();
        let closed = samples.iter().filter_map(|s| open.push(s.0, s.1)).collect();
        (open, closed)
    }

    #[test]
    fn scrape_like_samples_are_a_few_bytes_each() {
        let samples = scrape_like(100);
        let (open, closed) = fill(&samples);
        assert!(closed.is_empty());
        assert!(same(&open.samples(), &samples));
        assert!(
            open.bits.bytes.len() <= 400,
            "{} bytes",
            open.bits.bytes.len()
        );
        assert_eq!(
            (open.oldest(), open.newest()),
            (samples.first().map(|s| s.0), samples.last().map(|s| s.0))
        );
    }

    #[test]
    fn closes_a_chunk_at_chunk_samples_and_starts_again() {
        let samples: Vec<(i64, f64)> = (0..CHUNK_SAMPLES as i64 + 5)
            .map(|i| (i * 15_000 * MS, (i as f64).sqrt()))
            .collect();
        let (open, closed) = fill(&samples);
        assert_eq!(closed.len(), 1);
        let mut read = SeriesSamples::default();
        closed[0].decode_into(i64::MIN, i64::MAX, &mut read);
        open.decode_into(i64::MIN, i64::MAX, &mut read);
        assert!(same(&read.iter().collect::<Vec<_>>(), &samples));
        assert_eq!(open.len(), 5);
    }

    #[test]
    fn a_time_off_the_millisecond_recodes_in_nanoseconds() {
        let samples = vec![
            (10 * MS, 1.0),
            (20 * MS, f64::NAN),
            (20 * MS + 7, -0.0),
            (i64::MAX / 2, f64::INFINITY),
        ];
        let (open, _) = fill(&samples);
        assert!(!open.millis);
        assert!(same(&open.samples(), &samples));
        let mut part = SeriesSamples::default();
        open.decode_into(15 * MS, 20 * MS + 7, &mut part);
        assert_eq!(part.ts, [20 * MS, 20 * MS + 7]);
    }

    proptest::proptest! {
        #[test]
        fn any_sorted_samples_round_trip(
            mut times in proptest::collection::vec(proptest::prelude::any::<i64>(), 1..300),
            bits in proptest::collection::vec(proptest::prelude::any::<u64>(), 300),
            millis in proptest::prelude::any::<bool>(),
        ) {
            if millis {
                times.iter_mut().for_each(|t| *t = *t / MS * MS);
            }
            times.sort_unstable();
            let samples: Vec<(i64, f64)> =
                times.iter().zip(&bits).map(|(t, b)| (*t, f64::from_bits(*b))).collect();
            let (open, closed) = fill(&samples);
            let mut read = SeriesSamples::default();
            closed.iter().for_each(|c| c.decode_into(i64::MIN, i64::MAX, &mut read));
            open.decode_into(i64::MIN, i64::MAX, &mut read);
            proptest::prop_assert!(same(&read.iter().collect::<Vec<_>>(), &samples));
        }
    }
}
