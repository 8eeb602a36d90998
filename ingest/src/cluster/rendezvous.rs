//! Rendezvous (highest random weight) hashing over `cluster.ingesters`: each key's
//! owner is the ingester with the highest hash of (its address, the key). Every
//! ingester computes the same owner from the same list, a key moves only when its own
//! owner leaves, and the rows of an ingester that refuses spread over the others in
//! their second choices.

use twox_hash::XxHash64;

/// The ingesters a key may go to: their addresses, and which are refusing now.
pub struct Ring<'a> {
    addrs: &'a [String],
    /// Address hashes, computed once.
    seeds: Vec<u64>,
    down: Vec<bool>,
}

impl<'a> Ring<'a> {
    pub fn new(addrs: &'a [String]) -> Self {
        Ring {
            addrs,
            seeds: addrs
                .iter()
                .map(|a| XxHash64::oneshot(0x0005_b7e1_u64, a.as_bytes()))
                .collect(),
            down: vec![false; addrs.len()],
        }
    }

    /// Leaves ingester `ordinal` out of later choices (it refused).
    pub fn mark_down(&mut self, ordinal: usize) {
        if let Some(d) = self.down.get_mut(ordinal) {
            *d = true;
        }
    }

    /// Whether every ingester refused.
    pub fn all_down(&self) -> bool {
        self.down.iter().all(|d| *d)
    }

    /// The address of ingester `ordinal`.
    pub fn addr(&self, ordinal: usize) -> &str {
        self.addrs.get(ordinal).map_or("", String::as_str)
    }

    /// The owner of `key` among the ingesters not marked down (0 when all are).
    pub fn owner(&self, tenant: &str, key: &[u8]) -> usize {
        let base = XxHash64::oneshot(XxHash64::oneshot(0, tenant.as_bytes()), key);
        let mut best = (0usize, 0u64);
        let mut found = false;
        for (i, seed) in self.seeds.iter().enumerate() {
            if self.down[i] {
                continue;
            }
            let w = XxHash64::oneshot(*seed, &base.to_le_bytes());
            if !found || w > best.1 {
                best = (i, w);
                found = true;
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("osprey-ingester-{i}.osprey-ingester:4319"))
            .collect()
    }

    #[test]
    fn keys_spread_and_move_only_from_an_ingester_that_is_down() {
        let list = addrs(3);
        let mut ring = Ring::new(&list);
        let keys: Vec<[u8; 8]> = (0u64..3000).map(|k| k.to_le_bytes()).collect();
        let before: Vec<usize> = keys.iter().map(|k| ring.owner("t", k)).collect();
        for o in 0..3 {
            let n = before.iter().filter(|b| **b == o).count();
            assert!((800..1200).contains(&n), "ingester {o} owns {n} of 3000");
        }
        ring.mark_down(1);
        for (k, b) in keys.iter().zip(&before) {
            let now = ring.owner("t", k);
            assert_ne!(now, 1);
            if *b != 1 {
                assert_eq!(now, *b, "a key of a live ingester moved");
            }
        }
        // The same key of another tenant may have another owner.
        let fresh = Ring::new(&list);
        let differ = keys
            .iter()
            .filter(|k| fresh.owner("t", &k[..]) != fresh.owner("u", &k[..]))
            .count();
        assert!(differ > 1000, "{differ}");
        assert!(!ring.all_down());
    }
}
