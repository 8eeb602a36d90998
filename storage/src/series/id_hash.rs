//! Hash maps keyed by series ids. An id is already a hash of the series' labels, so
//! one multiply mixes it enough; SipHash (the std default) was a visible share of
//! ingest CPU where every sample looks its series up (the head, the sample gate).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Mixes the `u64`s written into it (series ids, tenant hashes) with one multiply.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The `BuildHasher` of [`IdMap`].
pub type IdBuildHasher = BuildHasherDefault<IdHasher>;

/// A map keyed by series ids (or tuples of them).
pub type IdMap<K, V> = HashMap<K, V, IdBuildHasher>;
