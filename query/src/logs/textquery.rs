//! A search expression as a full-text index query: what a file's index can answer
//! ([`IndexCaps`]) decides whether the index query is exact or a superset that the
//! rows are checked against.

use osprey_logql::search::Expr;
use osprey_storage::index::fulltext::{MAX_ATTR_VALUE, TextQuery};

/// What a file's full-text index holds, as far as queries care.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexCaps {
    /// Token positions: phrases are answered in the index; without them a phrase is
    /// its tokens, checked against the body.
    pub positions: bool,
    /// Resource attributes are among the `key=value` terms; without them a
    /// `key:value` condition is checked against the rows.
    pub resource: bool,
}

impl IndexCaps {
    /// What indexes written now hold.
    pub const CURRENT: IndexCaps = IndexCaps {
        positions: true,
        resource: true,
    };
}

/// Words shorter than this do not narrow a substring search enough to be worth their
/// postings (a one-letter word matches most of the dictionary).
const MIN_WORD: usize = 3;

/// Candidates for a body containing `text` (case-sensitive, so never exact): every
/// word of `text` is in the line's tokens, lowercased: a word inside `text` is a whole
/// token, the first word may be the end of a longer token, the last one its start, a
/// word that is both all of one (`Contains`). Words shorter than [`MIN_WORD`] are not
/// asked for; without a longer word every row is a candidate.
pub(crate) fn contains_query(text: &str) -> TextQuery {
    let words = osprey_logql::tokens::tokens(text);
    let starts_inside = text.chars().next().is_some_and(char::is_alphanumeric);
    let ends_inside = text.chars().last().is_some_and(char::is_alphanumeric);
    let last = words.len().saturating_sub(1);
    let parts: Vec<TextQuery> = words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.chars().count() >= MIN_WORD)
        .map(|(i, w)| {
            let open_start = i == 0 && starts_inside;
            let open_end = i == last && ends_inside;
            match (open_start, open_end) {
                (false, false) => TextQuery::Token(w.clone()),
                (false, true) => TextQuery::Prefix(w.clone()),
                (true, _) => TextQuery::Contains(w.clone()),
            }
        })
        .collect();
    all_of(parts)
}

/// Rows matching every one of `parts`: all rows for none, the one itself for one.
pub(crate) fn all_of(mut parts: Vec<TextQuery>) -> TextQuery {
    match parts.len() {
        0 => TextQuery::All,
        1 => parts.remove(0),
        _ => TextQuery::And(parts),
    }
}

/// Texts one of which every match of the regex `pattern` contains: the literals every
/// match starts with, or else those every match ends with (`regex_syntax`'s literal
/// extractor; past its limits it shortens them, which keeps them true). `None` when
/// no such set exists (`.*x.*`), one of them is empty, or a shortened literal splits a
/// character. `case_insensitive` as SQL's `~*` says; a `(?i)` inside the pattern is
/// the pattern's own.
pub(crate) fn regex_literals(pattern: &str, case_insensitive: bool) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .parse(pattern)
        .ok()?;
    [ExtractKind::Prefix, ExtractKind::Suffix]
        .into_iter()
        .find_map(|kind| {
            let seq = Extractor::new().kind(kind).extract(&hir);
            let literals = seq.literals()?;
            if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
                return None;
            }
            literals
                .iter()
                .map(|l| String::from_utf8(l.as_bytes().to_vec()).ok())
                .collect()
        })
}

/// An index query returning a superset of `e`'s matches, and whether it returns
/// exactly the matches, for an index that holds `caps`.
pub fn to_text_query(e: &Expr, caps: IndexCaps) -> (TextQuery, bool) {
    let positions = caps.positions;
    let sub = |x: &Expr| to_text_query(x, caps);
    match e {
        Expr::All => (TextQuery::All, true),
        Expr::Tokens(t) if t.len() == 1 => (TextQuery::Token(t[0].clone()), true),
        Expr::Tokens(t) if positions => (TextQuery::Phrase(t.clone()), true),
        // No positions in the index: all the tokens, then the body is checked.
        Expr::Tokens(t) => (
            TextQuery::And(t.iter().map(|x| TextQuery::Token(x.clone())).collect()),
            false,
        ),
        Expr::Prefix(p) => (TextQuery::Prefix(p.clone()), true),
        Expr::BodyContains(text) => (contains_query(text), false),
        Expr::Service(s) => (TextQuery::Service(s.clone()), true),
        // The term automaton's regex dialect is Rust's, as the check's: the rows are
        // still checked, in case a pattern reads differently there.
        Expr::ServiceMatches(s) => (TextQuery::ServiceMatches(s.pattern.clone()), false),
        Expr::Levels { min, max } => (
            TextQuery::Levels {
                min: *min,
                max: *max,
            },
            true,
        ),
        // Ids are not in the index; a LogQL query's indexable parts are beside it
        // (`logs::logql::prefilter`).
        Expr::TraceId(_) | Expr::SpanId(_) | Expr::Logql(_) => (TextQuery::All, false),
        Expr::Attr { key, value } if value.len() <= MAX_ATTR_VALUE && caps.resource => (
            TextQuery::Attr {
                key: key.clone(),
                value: value.clone(),
            },
            true,
        ),
        Expr::Attr { .. } => (TextQuery::All, false),
        Expr::And(xs) => {
            let (qs, exact): (Vec<_>, Vec<_>) = xs.iter().map(sub).unzip();
            (TextQuery::And(qs), exact.into_iter().all(|x| x))
        }
        Expr::Or(xs) => {
            let (qs, exact): (Vec<_>, Vec<_>) = xs.iter().map(sub).unzip();
            (TextQuery::Or(qs), exact.into_iter().all(|x| x))
        }
        // The complement of a superset is not a superset: only an exact inner query
        // can be negated in the index.
        // tantivy's phrase scorer cannot be excluded (it panics when seeked back), so a
        // phrase under NOT is checked against the body instead.
        Expr::Not(x) if positions && x.has_phrase() => (TextQuery::All, false),
        Expr::Not(x) => match sub(x) {
            (q, true) => (TextQuery::Not(Box::new(q)), true),
            (_, false) => (TextQuery::All, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use osprey_logql::search::{Record, Scratch, parse};

    use super::*;

    /// Whether `q` holds over a line's tokens (as the index would answer).
    fn holds(q: &TextQuery, tokens: &[String]) -> bool {
        match q {
            TextQuery::All => true,
            TextQuery::Token(t) => tokens.contains(t),
            TextQuery::Prefix(p) => tokens.iter().any(|t| t.starts_with(p.as_str())),
            TextQuery::Contains(p) => tokens.iter().any(|t| t.contains(p.as_str())),
            TextQuery::And(qs) => qs.iter().all(|q| holds(q, tokens)),
            other => panic!("not made by contains_query: {other:?}"),
        }
    }

    #[test]
    fn regex_literals_every_match_contains() {
        let lits = |p: &str, ci: bool| regex_literals(p, ci);
        assert_eq!(lits("timeout", false), Some(vec!["timeout".into()]));
        assert_eq!(
            lits("refused|timed? out", false),
            Some(vec![
                "refused".into(),
                "timed out".into(),
                "time out".into()
            ])
        );
        // Inexact prefixes are still in every match; suffixes when prefixes are not finite.
        assert_eq!(lits("error.*disk", false), Some(vec!["error".into()]));
        assert_eq!(lits(".*disk full", false), Some(vec!["disk full".into()]));
        // Case-insensitive: every case variant, from the flag or the pattern.
        assert_eq!(lits("(?i)ab", false).map(|v| v.len()), Some(4));
        assert_eq!(lits("ab", true).map(|v| v.len()), Some(4));
        assert_eq!(lits(".*", false), None);
        assert_eq!(lits("a?", false), None, "the empty string matches");
        assert_eq!(lits("(", false), None, "not a regex");
    }

    #[test]
    fn substring_candidates_use_whole_words_inside_and_partial_words_at_the_edges() {
        assert_eq!(
            contains_query("level=error msg"),
            TextQuery::And(vec![
                TextQuery::Contains("level".into()),
                TextQuery::Token("error".into()),
                TextQuery::Prefix("msg".into()),
            ])
        );
        assert_eq!(
            contains_query(" Timeout "),
            TextQuery::Token("timeout".into())
        );
        assert_eq!(contains_query("eedl"), TextQuery::Contains("eedl".into()));
        assert_eq!(contains_query("a=1"), TextQuery::All);
    }

    proptest::proptest! {
        /// Every line that contains a text is a candidate for it (the index query is a
        /// superset of the substring matches).
        #[test]
        fn substring_candidates_never_miss_a_line(
            line in "[a-zA-Z0-9 .=/_é-]{0,40}",
            from in 0usize..40,
            len in 0usize..40,
        ) {
            let chars: Vec<char> = line.chars().collect();
            let from = from.min(chars.len());
            let to = (from + len).min(chars.len());
            let needle: String = chars[from..to].iter().collect();
            let tokens = osprey_logql::tokens::tokens(&line);
            proptest::prop_assert!(holds(&contains_query(&needle), &tokens), "{needle:?} in {line:?}");
        }

        /// Any parsed query turns into an index query for every kind of index, and
        /// checks records, without panicking.
        #[test]
        fn any_parsed_query_has_an_index_query(q in "[ a-zA-Z0-9:<>=()\"*.\\-é_]{0,40}") {
            if let Ok(e) = parse(&q) {
                for positions in [true, false] {
                    for resource in [true, false] {
                        let _ = to_text_query(&e, IndexCaps { positions, resource });
                    }
                }
                let attrs = HashMap::new();
                let r = Record {
                    ts_ns: 0,
                    body: "a b c",
                    service: "s",
                    severity_number: 9,
                    trace_id: "",
                    span_id: "",
                    attributes: &attrs,
                    resource: &attrs,
                };
                let _ = e.matches(&r, &mut Scratch::default());
            }
        }
    }

    #[test]
    fn index_queries_are_supersets_and_say_when_exact() {
        let no_positions = IndexCaps {
            positions: false,
            resource: true,
        };
        let (_, exact) = to_text_query(
            &parse("a b* service:x severity>=warn k:v").unwrap(),
            no_positions,
        );
        assert!(exact);
        // An index without resource attributes cannot answer k:v (it may be a label).
        let old = IndexCaps {
            positions: true,
            resource: false,
        };
        let (q, exact) = to_text_query(&parse("k:v").unwrap(), old);
        assert_eq!((q, exact), (TextQuery::All, false));
        let (_, exact) = to_text_query(
            &parse("a b* service:x severity>=warn k:v").unwrap(),
            IndexCaps::CURRENT,
        );
        assert!(exact);
        let (_, exact) = to_text_query(&parse(r#""a b""#).unwrap(), no_positions);
        assert!(!exact);
        let (q, exact) = to_text_query(&parse(r#"NOT "a b""#).unwrap(), no_positions);
        assert_eq!((q, exact), (TextQuery::All, false));
        // With positions a phrase is exact; under NOT it is checked against the body.
        let (q, exact) = to_text_query(&parse(r#""a b" c"#).unwrap(), IndexCaps::CURRENT);
        assert!(exact);
        assert_eq!(
            q,
            TextQuery::And(vec![
                TextQuery::Phrase(vec!["a".into(), "b".into()]),
                TextQuery::Token("c".into())
            ])
        );
        let (q, exact) = to_text_query(&parse(r#"NOT "a b""#).unwrap(), IndexCaps::CURRENT);
        assert_eq!((q, exact), (TextQuery::All, false));
        let (q, exact) = to_text_query(&parse("NOT a").unwrap(), no_positions);
        assert_eq!(
            (q, exact),
            (TextQuery::Not(Box::new(TextQuery::Token("a".into()))), true)
        );
    }
}
