//! Rendezvous (highest random weight) hashing over `cluster.ingesters`: each key's
//! owner is the ingester with the highest hash of (its address, the key). Every
//! ingester computes the same owner from the same list, and a key moves only when the
//! list changes under it. A part its owner refuses goes to the next ingester in its
//! own rendezvous order ([`Ring::ranked`]), so the parts of a refusing ingester spread
//! over the others.

use twox_hash::XxHash64;

/// The ingesters a key may go to.
pub struct Ring<'a> {
    addrs: &'a [String],
    /// Address hashes, computed once.
    seeds: Vec<u64>,
}

impl<'a> Ring<'a> {
    pub fn new(addrs: &'a [String]) -> Self {
        Ring {
            addrs,
            seeds: addrs
                .iter()
                .map(|a| XxHash64::oneshot(0x0005_b7e1_u64, a.as_bytes()))
                .collect(),
        }
    }

    /// How many ingesters there are.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The owner of `tenant`'s `key` (0 when there are no ingesters).
    pub fn owner(&self, tenant: &str, key: &[u8]) -> usize {
        let base = XxHash64::oneshot(XxHash64::oneshot(0, tenant.as_bytes()), key);
        self.seeds
            .iter()
            .enumerate()
            .max_by_key(|(_, seed)| XxHash64::oneshot(**seed, &base.to_le_bytes()))
            .map_or(0, |(i, _)| i)
    }

    /// Every ingester, `first` first and then the others by their rendezvous weight
    /// for `key`: where a part goes when its owner refuses it.
    pub fn ranked(&self, first: usize, key: &[u8]) -> Vec<usize> {
        let base = XxHash64::oneshot(0, key);
        let mut rest: Vec<(u64, usize)> = (0..self.seeds.len())
            .filter(|&i| i != first)
            .map(|i| (XxHash64::oneshot(self.seeds[i], &base.to_le_bytes()), i))
            .collect();
        rest.sort_unstable_by(|a, b| b.cmp(a));
        std::iter::once(first)
            .chain(rest.into_iter().map(|(_, i)| i))
            .collect()
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
    fn keys_spread_evenly_and_stay_put_when_the_list_grows() {
        let three = addrs(3);
        let ring = Ring::new(&three);
        let keys: Vec<[u8; 8]> = (0u64..3000).map(|k| k.to_le_bytes()).collect();
        let before: Vec<usize> = keys.iter().map(|k| ring.owner("t", k)).collect();
        for o in 0..3 {
            let n = before.iter().filter(|b| **b == o).count();
            assert!((800..1200).contains(&n), "ingester {o} owns {n} of 3000");
        }
        // A fourth ingester takes about a quarter, only from the others' keys.
        let four = addrs(4);
        let grown = Ring::new(&four);
        let mut moved = 0;
        for (k, b) in keys.iter().zip(&before) {
            let now = grown.owner("t", k);
            if now != *b {
                assert_eq!(now, 3, "a key moved between two old ingesters");
                moved += 1;
            }
        }
        assert!((600..900).contains(&moved), "{moved} keys moved");
        // The same key of another tenant may have another owner.
        let differ = keys
            .iter()
            .filter(|k| ring.owner("t", &k[..]) != ring.owner("u", &k[..]))
            .count();
        assert!(differ > 1000, "{differ}");
    }

    #[test]
    fn a_refused_part_goes_on_to_every_other_ingester_in_a_spread_order() {
        let three = addrs(3);
        let ring = Ring::new(&three);
        let mut second = [0usize; 3];
        for k in 0u64..900 {
            let order = ring.ranked(1, &k.to_le_bytes());
            assert_eq!(order.len(), 3);
            assert_eq!(order[0], 1);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2]);
            second[order[1]] += 1;
        }
        assert_eq!(second[1], 0);
        assert!(second[0] > 300 && second[2] > 300, "{second:?}");
        assert_eq!(ring.len(), 3);
    }
}
