//! Label sets: sorted by name, no empty values, `__name__` included when present.

use std::fmt;

pub const METRIC_NAME: &str = "__name__";

/// A valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Builds a set from pairs in any order; empty values are dropped (Prometheus treats
    /// an empty value as an absent label) and the last of repeated names wins.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels(pairs)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Sets `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_string(), value.to_string())),
        }
    }

    pub fn without_name(&self) -> Labels {
        self.drop_names(&[])
    }

    /// Only the listed labels (`by`, `on`).
    pub fn keep_names(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| names.iter().any(|k| k == n))
                .cloned()
                .collect(),
        )
    }

    /// All labels but the listed ones and the metric name (`without`, `ignoring`).
    pub fn drop_names(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| n != METRIC_NAME && !names.iter().any(|k| k == n))
                .cloned()
                .collect(),
        )
    }

    /// All labels but the listed ones; the metric name stays unless listed.
    pub fn remove_names(&self, names: &[&str]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(n, _)| !names.contains(&n.as_str()))
                .cloned()
                .collect(),
        )
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::new(
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn sorted_without_empty_values() {
        let x = l(&[("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(x.pairs().len(), 2);
        assert_eq!(x.get("a"), Some("1"));
        assert_eq!(x.get("c"), None);
        assert_eq!(x.to_string(), "{a=\"1\", b=\"2\"}");
    }

    #[test]
    fn set_keep_and_drop() {
        let mut x = l(&[("__name__", "m"), ("a", "1"), ("b", "2")]);
        x.set("c", "3");
        x.set("a", "");
        assert_eq!(x, l(&[("__name__", "m"), ("b", "2"), ("c", "3")]));
        assert_eq!(x.keep_names(&["b".into()]), l(&[("b", "2")]));
        assert_eq!(x.drop_names(&["b".into()]), l(&[("c", "3")]));
        assert_eq!(x.remove_names(&["b"]), l(&[("__name__", "m"), ("c", "3")]));
    }
}
