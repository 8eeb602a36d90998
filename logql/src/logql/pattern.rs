//! Loki's pattern expressions (`| pattern "<ip> - <_> [<ts>] <_>"`, `|> "<_> error <_>"`):
//! literals and captures (`<name>`, or `<_>` to skip), with Loki's matching rules
//! (`pkg/logql/log/pattern`):
//!
//! - **Extraction** (`| pattern`): a leading literal anchors the match at the line's
//!   start; each capture takes the text up to the first occurrence of the literal after
//!   it (the rest of the line when it ends the pattern, or when that literal is
//!   missing, which also ends the matching); captures after that stay unset.
//! - **Filter** (`|>`, `!>`): the literals occur in order, each first occurrence after
//!   the previous one and not right at it (a capture between two literals is not
//!   empty); a pattern ending on a literal matches only when the line ends there, one
//!   ending on a capture only when text is left for it.

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Literal(String),
    /// A capture's name; `None` for `<_>`.
    Capture(Option<String>),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub nodes: Vec<Node>,
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

impl Pattern {
    /// Parses `text`; `Err` names the problem (two captures in a row, a repeated name,
    /// no named capture when `need_named`).
    pub fn parse(text: &str, need_named: bool) -> Result<Pattern, String> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<')
                && let Some(end) = after.find('>')
                && is_name(&after[..end])
            {
                if !literal.is_empty() {
                    nodes.push(Node::Literal(std::mem::take(&mut literal)));
                }
                let name = &after[..end];
                if matches!(nodes.last(), Some(Node::Capture(_))) {
                    return Err(format!(
                        "invalid pattern {text:?}: two captures must be separated by a literal"
                    ));
                }
                nodes.push(Node::Capture((name != "_").then(|| name.to_string())));
                rest = &after[end + 1..];
                continue;
            }
            let ch = rest.chars().next().unwrap_or_default();
            literal.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
        if !literal.is_empty() {
            nodes.push(Node::Literal(literal));
        }
        let names: Vec<&String> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Capture(Some(name)) => Some(name),
                _ => None,
            })
            .collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(format!("invalid pattern {text:?}: duplicate capture {n:?}"));
            }
        }
        if need_named && names.is_empty() {
            return Err(format!(
                "invalid pattern {text:?}: at least one capture is required"
            ));
        }
        Ok(Pattern { nodes })
    }

    /// The named captures of `line` (see the module doc), in pattern order.
    pub fn extract<'l>(&self, line: &'l str) -> Vec<(&str, &'l str)> {
        let mut out = Vec::new();
        if line.is_empty() {
            return out;
        }
        let mut nodes = &self.nodes[..];
        let mut rest = line;
        if let Some(Node::Literal(lit)) = nodes.first() {
            match rest.strip_prefix(lit.as_str()) {
                Some(r) => rest = r,
                None => return out,
            }
            nodes = &nodes[1..];
        }
        while let Some(Node::Capture(name)) = nodes.first() {
            let Some(Node::Literal(lit)) = nodes.get(1) else {
                if let Some(n) = name {
                    out.push((n.as_str(), rest));
                }
                return out;
            };
            nodes = &nodes[2..];
            let Some(at) = rest.find(lit.as_str()) else {
                if let Some(n) = name {
                    out.push((n.as_str(), rest));
                }
                return out;
            };
            if let Some(n) = name {
                out.push((n.as_str(), &rest[..at]));
            }
            rest = &rest[at + lit.len()..];
        }
        out
    }

    /// Whether `line` matches as a pattern line filter (see the module doc).
    pub fn test(&self, line: &str) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0usize;
        for (i, n) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = n else { continue };
            let Some(j) = line[off..].find(lit.as_str()) else {
                return false;
            };
            if i != 0 && j == 0 {
                return false;
            }
            off += j + lit.len();
        }
        let ends_on_capture = matches!(self.nodes.last(), Some(Node::Capture(_)));
        ends_on_capture == (off != line.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s, false).unwrap()
    }

    #[test]
    fn extraction_follows_lokis_rules() {
        let access = p(r#"<ip> - - [<_>] "<method> <uri> <_>" <status> <size>"#);
        let line = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /api/x HTTP/1.1" 200 512"#;
        assert_eq!(
            access.extract(line),
            [
                ("ip", "10.0.0.1"),
                ("method", "GET"),
                ("uri", "/api/x"),
                ("status", "200"),
                ("size", "512")
            ]
        );
        // A leading literal anchors; a missing literal ends the match with the rest.
        assert!(p("level=<l> x").extract("msg level=info x").is_empty());
        assert_eq!(
            p("<a> | <b> | <c>").extract("1 | 2"),
            [("a", "1"), ("b", "2")]
        );
        assert_eq!(
            p("<_> took <ms>ms").extract("GET / took 12ms"),
            [("ms", "12")]
        );
        // `<` that opens no capture is a literal.
        assert_eq!(p("a <= <x>").extract("a <= 5"), [("x", "5")]);
        assert!(Pattern::parse("<a><b>", false).is_err());
        assert!(Pattern::parse("<a> <a>", false).is_err());
        assert!(Pattern::parse("<_> x", true).is_err());
    }

    #[test]
    fn filters_follow_lokis_rules() {
        assert!(p("<_> bar <_>").test("foo bar baz"));
        assert!(!p("<_> bar").test("foo bar baz"));
        assert!(p("<_> baz").test("foo bar baz"));
        assert!(p("foo <_>").test("foo bar baz"));
        // Empty captures do not match.
        assert!(!p("<_> bar <_>").test(" bar "));
        assert!(p("<_>bar<_>").test(" bar "));
        assert!(!p("<_> x").test(""));
    }
}
