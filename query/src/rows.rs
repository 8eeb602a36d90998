//! Row numbers of a file, as the indexes name them (ascending lists): the operations
//! both scans (logs and traces) combine candidates with.

/// The rows in both ascending lists.
pub(crate) fn intersect_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn intersects() {
        assert_eq!(
            super::intersect_sorted(&[1, 3, 5, 9], &[0, 3, 4, 9, 10]),
            vec![3, 9]
        );
        assert!(super::intersect_sorted(&[], &[1]).is_empty());
    }
}
