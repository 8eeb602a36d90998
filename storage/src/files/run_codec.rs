//! The byte coding of one series' samples in a samples file ([`super::runs`]): its
//! timestamps and its values as two byte strings, each compact before Parquet's zstd
//! squeezes the page further.
//!
//! **Times** (`encode_times`): a unit byte (0: nanoseconds; 1: milliseconds, when
//! every timestamp is a whole millisecond, as scrapes and most SDKs send), then the
//! first time, the first delta and every further delta-of-delta, each a zigzag
//! LEB128 varint in that unit. A steady scrape interval is one zero byte per sample,
//! which zstd then all but removes.
//!
//! **Values** (`encode_values`), one of three modes in a leading byte:
//! - `DELTA` / `DELTA2`: the lossless decimal form of `decimal.rs` with one scale `k`
//!   for the run (a byte): each value is `m / 10^k` for an integer `m`, coded as the
//!   delta (gauges, uneven counters) or delta-of-delta (steady counters) of `m`,
//!   whichever is shorter. Values without that form at `k` (NaN and the stale marker,
//!   ±∞, −0.0, long binary fractions) are exceptions: a count, then per exception the
//!   gap from the previous one and its f64 bits; the mantissa stream skips them.
//! - `XOR`: when exceptions would be most of the run, each value's bits XORed with
//!   the previous value's, as a varint (close values share their high bits).
//!
//! Decoding gives back every value bit for bit (`m as f64 / 10^k`, the encoder kept `k`
//! only where that expression returns the value) and every timestamp exactly.
//!
//! Written here rather than taken from a crate: the varints are a few lines, and the
//! numeric codecs found (pco) carry a per-column header that costs more than a short
//! run's samples.

use crate::StorageError;
use crate::files::decimal;
use crate::varint::{Reader, put_signed, put_varint, signed_len};

const NANOS: u8 = 0;
const MILLIS: u8 = 1;

const DELTA: u8 = 0;
const DELTA2: u8 = 1;
const XOR: u8 = 2;

fn corrupt(what: &str) -> StorageError {
    StorageError::Layout(format!("samples run: {what}"))
}

/// Codes timestamps (ns, in time order; repeats allowed).
pub fn encode_times(times: &[i64], out: &mut Vec<u8>) {
    let millis = times.iter().all(|t| t % 1_000_000 == 0);
    let unit = if millis { 1_000_000 } else { 1 };
    out.push(if millis { MILLIS } else { NANOS });
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    for (i, t) in times.iter().enumerate() {
        let t = t / unit;
        match i {
            0 => put_signed(out, t),
            _ => {
                let delta = t.wrapping_sub(prev);
                put_signed(out, delta.wrapping_sub(prev_delta));
                prev_delta = delta;
            }
        }
        prev = t;
    }
}

/// Decodes `n` timestamps coded by [`encode_times`].
pub fn decode_times(bytes: &[u8], n: usize, out: &mut Vec<i64>) -> Result<(), StorageError> {
    let mut r = Reader::new(bytes, "samples run");
    let unit = match r.byte()? {
        NANOS => 1,
        MILLIS => 1_000_000,
        u => return Err(corrupt(&format!("unknown time unit {u}"))),
    };
    let (mut t, mut delta) = (0i64, 0i64);
    out.reserve(n);
    for i in 0..n {
        if i == 0 {
            t = r.signed()?;
        } else {
            delta = delta.wrapping_add(r.signed()?);
            t = t.wrapping_add(delta);
        }
        out.push(t.wrapping_mul(unit));
    }
    Ok(())
}

/// Codes values (in time order) in the shortest of the modes above.
pub fn encode_values(values: &[f64], out: &mut Vec<u8>) {
    let k = values
        .iter()
        .filter_map(|v| decimal::scale_of(*v))
        .max()
        .unwrap_or(0);
    let mantissas: Vec<Option<i64>> = values.iter().map(|v| decimal::mantissa(*v, k)).collect();
    let exceptions = mantissas.iter().filter(|m| m.is_none()).count();
    if exceptions * 2 > values.len() {
        out.push(XOR);
        let mut prev = 0u64;
        for v in values {
            put_varint(out, v.to_bits() ^ prev);
            prev = v.to_bits();
        }
        return;
    }
    let ms: Vec<i64> = mantissas.iter().flatten().copied().collect();
    let (mut delta_len, mut delta2_len) = (0usize, 0usize);
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    for &m in &ms {
        let delta = m.wrapping_sub(prev);
        delta_len += signed_len(delta);
        delta2_len += signed_len(delta.wrapping_sub(prev_delta));
        (prev, prev_delta) = (m, delta);
    }
    let second_order = delta2_len < delta_len;
    out.push(if second_order { DELTA2 } else { DELTA });
    out.push(k as u8);
    put_varint(out, exceptions as u64);
    let mut last = 0usize;
    for (i, m) in mantissas.iter().enumerate() {
        if m.is_none() {
            put_varint(out, (i - last) as u64);
            out.extend_from_slice(&values[i].to_bits().to_le_bytes());
            last = i;
        }
    }
    let (mut prev, mut prev_delta) = (0i64, 0i64);
    for &m in &ms {
        let delta = m.wrapping_sub(prev);
        put_signed(
            out,
            if second_order {
                delta.wrapping_sub(prev_delta)
            } else {
                delta
            },
        );
        (prev, prev_delta) = (m, delta);
    }
}

/// Decodes `n` values coded by [`encode_values`].
pub fn decode_values(bytes: &[u8], n: usize, out: &mut Vec<f64>) -> Result<(), StorageError> {
    let mut r = Reader::new(bytes, "samples run");
    out.reserve(n);
    let mode = r.byte()?;
    if mode == XOR {
        let mut prev = 0u64;
        for _ in 0..n {
            prev ^= r.varint()?;
            out.push(f64::from_bits(prev));
        }
        return Ok(());
    }
    if mode != DELTA && mode != DELTA2 {
        return Err(corrupt(&format!("unknown value mode {mode}")));
    }
    let k = r.byte()?;
    if k > 9 {
        return Err(corrupt(&format!("decimal scale {k} out of range")));
    }
    let exceptions = usize::try_from(r.varint()?).unwrap_or(usize::MAX);
    if exceptions > n {
        return Err(corrupt("more exceptions than values"));
    }
    let mut special: Vec<(usize, f64)> = Vec::with_capacity(exceptions);
    let mut at = 0usize;
    for _ in 0..exceptions {
        at = at.saturating_add(usize::try_from(r.varint()?).unwrap_or(usize::MAX));
        special.push((at, f64::from_bits(r.bits()?)));
    }
    let scale = decimal::pow10(k as i8);
    let mut special = special.into_iter().peekable();
    let (mut m, mut delta) = (0i64, 0i64);
    for i in 0..n {
        if let Some((_, v)) = special.next_if(|(at, _)| *at == i) {
            out.push(v);
            continue;
        }
        let d = r.signed()?;
        if mode == DELTA2 {
            delta = delta.wrapping_add(d);
        } else {
            delta = d;
        }
        m = m.wrapping_add(delta);
        out.push(m as f64 / scale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(times: &[i64], values: &[f64]) -> (usize, usize) {
        let (mut tb, mut vb) = (Vec::new(), Vec::new());
        encode_times(times, &mut tb);
        encode_values(values, &mut vb);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        decode_times(&tb, times.len(), &mut t).unwrap();
        decode_values(&vb, values.len(), &mut v).unwrap();
        assert_eq!(t, times);
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v), bits(values));
        (tb.len(), vb.len())
    }

    #[test]
    fn steady_scrapes_cost_a_byte_per_time() {
        let times: Vec<i64> = (0..240)
            .map(|i| 1_700_000_000_000_000_000 + i * 15_000_000_000)
            .collect();
        let counter: Vec<f64> = (0..240).map(|i| f64::from(i) * 1.5).collect();
        let (tb, vb) = roundtrip(&times, &counter);
        assert!(tb <= 240 + 12, "{tb}");
        // A steady counter is a run of zero delta-of-deltas.
        assert!(vb <= 240 + 8, "{vb}");
    }

    #[test]
    fn specials_and_odd_values_come_back_bit_for_bit() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let values = [
            1.0,
            0.25,
            stale,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1.0 / 3.0,
            1e300,
            -12.5,
            9.1e15,
            5e-324,
        ];
        let times: Vec<i64> = (0..values.len() as i64).map(|i| -5 + i * 7).collect();
        roundtrip(&times, &values);
        // Mostly exceptions: the XOR mode.
        let thirds: Vec<f64> = (1..50).map(|i| 1.0 / f64::from(i)).collect();
        let times: Vec<i64> = (0..thirds.len() as i64).map(|i| i * 1_000_000).collect();
        roundtrip(&times, &thirds);
        roundtrip(&[], &[]);
        roundtrip(&[i64::MIN, i64::MAX, 0, 0], &[f64::MAX, f64::MIN, 0.0, 0.0]);
    }

    #[test]
    fn corrupt_runs_are_errors_not_panics() {
        let (mut tb, mut vb) = (Vec::new(), Vec::new());
        encode_times(&[1, 2, 3], &mut tb);
        encode_values(&[1.5, f64::NAN, 2.5], &mut vb);
        for cut in 0..vb.len() {
            assert!(decode_values(&vb[..cut], 3, &mut Vec::new()).is_err());
        }
        for cut in 0..tb.len() {
            assert!(decode_times(&tb[..cut], 3, &mut Vec::new()).is_err());
        }
        assert!(decode_values(&[9], 1, &mut Vec::new()).is_err());
        assert!(decode_times(&[7, 0], 1, &mut Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn any_samples_round_trip(
            times in proptest::collection::vec(any::<i64>(), 0..64),
            bits in proptest::collection::vec(any::<u64>(), 0..64),
            cents in proptest::collection::vec(-1_000_000i64..1_000_000, 0..64),
        ) {
            let n = times.len().min(bits.len());
            let values: Vec<f64> = bits[..n].iter().map(|b| f64::from_bits(*b)).collect();
            roundtrip(&times[..n], &values);
            let decimals: Vec<f64> = cents.iter().map(|c| *c as f64 / 100.0).collect();
            let ts: Vec<i64> = (0..decimals.len() as i64).map(|i| i * 15_000_000_000).collect();
            roundtrip(&ts, &decimals);
        }
    }
}
