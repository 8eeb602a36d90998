//! SQL filters on a log's `body` asked of the full-text index first: `body LIKE` and
//! `ILIKE` patterns, `body = '…'`, regexes (`~`, `~*`, `regexp_like`), and `AND`/`OR`
//! of them become a [`TextQuery`] whose rows are a superset of the filter's: each
//! literal run of the pattern (for a regex, one of the literals every match holds)
//! must be in the row's lowercased tokens, a word at a run's edge possibly inside a longer
//! token (`logs::textquery::contains_query`, the search API's substring rule). The logs
//! table then reads only those rows of each file and drops files with none
//! (`provider.rs`); DataFusion still applies the filter itself to them, so case and
//! exact matching stay the filter's.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use osprey_storage::index::fulltext::TextQuery;

use crate::logs::textquery::{all_of, contains_query, regex_literals};

/// The index query narrowing `f`, when `f` is a body filter the index can narrow.
pub(crate) fn text_query_of(f: &Expr) -> Option<TextQuery> {
    let q = match f {
        Expr::Like(like) => like_query(like)?,
        Expr::ScalarFunction(f) if f.name() == "regexp_like" => match f.args.as_slice() {
            [body, pattern] if body_column(body) => regex_query(literal(pattern)?, false)?,
            [body, pattern, flags] if body_column(body) => {
                regex_query(literal(pattern)?, literal(flags)?.contains('i'))?
            }
            _ => return None,
        },
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::RegexMatch | Operator::RegexIMatch if body_column(left) => {
                regex_query(literal(right)?, *op == Operator::RegexIMatch)?
            }
            Operator::Eq => match (body_column(left), body_column(right)) {
                (true, false) => contains_query(literal(right)?),
                (false, true) => contains_query(literal(left)?),
                _ => return None,
            },
            // One side narrowing is enough for AND; OR needs both.
            Operator::And => match (text_query_of(left), text_query_of(right)) {
                (Some(a), Some(b)) => TextQuery::And(vec![a, b]),
                (a, b) => a.or(b)?,
            },
            Operator::Or => TextQuery::Or(vec![text_query_of(left)?, text_query_of(right)?]),
            _ => return None,
        },
        _ => return None,
    };
    (q != TextQuery::All).then_some(q)
}

/// A regex on the body: one of the literals every match holds is in the body.
fn regex_query(pattern: &str, case_insensitive: bool) -> Option<TextQuery> {
    let mut any: Vec<TextQuery> = Vec::new();
    for text in regex_literals(pattern, case_insensitive)? {
        let q = contains_query(&text);
        if q == TextQuery::All {
            return None;
        }
        // Case variants cut to the same lowercase words.
        if !any.contains(&q) {
            any.push(q);
        }
    }
    Some(match any.len() {
        1 => any.remove(0),
        _ => TextQuery::Or(any),
    })
}

/// `body [I]LIKE 'pattern'`: every literal run between wildcards is in the body.
fn like_query(like: &Like) -> Option<TextQuery> {
    if like.negated || !body_column(&like.expr) {
        return None;
    }
    let pattern = literal(&like.pattern)?;
    // An escaped wildcard is a literal: such patterns are left to the filter alone.
    if pattern.contains(like.escape_char.unwrap_or('\\')) {
        return None;
    }
    let parts: Vec<TextQuery> = pattern
        .split(['%', '_'])
        .filter(|run| !run.is_empty())
        .map(contains_query)
        .filter(|q| *q != TextQuery::All)
        .collect();
    (!parts.is_empty()).then(|| all_of(parts))
}

fn body_column(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == "body",
        // The table's strings as views, or a cast the planner added.
        Expr::Cast(c) => body_column(&c.expr),
        _ => false,
    }
}

fn literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s),
        Expr::Cast(c) => literal(&c.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn token(t: &str) -> TextQuery {
        TextQuery::Token(t.into())
    }

    #[test]
    fn like_runs_become_index_terms() {
        let q = |f: Expr| text_query_of(&f);
        // A run's inner words are whole tokens; its edges may be inside longer ones.
        assert_eq!(
            q(col("body").like(lit("%Connection refused to %"))),
            Some(TextQuery::And(vec![
                TextQuery::Contains("connection".into()),
                token("refused")
            ]))
        );
        assert_eq!(
            q(col("body").ilike(lit("%timeout%"))),
            Some(TextQuery::Contains("timeout".into()))
        );
        assert_eq!(
            q(col("body").like(lit("GET %/api_%"))),
            Some(TextQuery::And(vec![
                TextQuery::Contains("get".into()),
                TextQuery::Prefix("api".into())
            ]))
        );
        assert_eq!(
            q(col("body").eq(lit("disk full on /var"))),
            Some(TextQuery::And(vec![
                TextQuery::Contains("disk".into()),
                token("full"),
                TextQuery::Prefix("var".into())
            ]))
        );
        assert_eq!(
            q(col("body")
                .like(lit("%abc%"))
                .or(col("body").like(lit("%xyz%")))),
            Some(TextQuery::Or(vec![
                TextQuery::Contains("abc".into()),
                TextQuery::Contains("xyz".into())
            ]))
        );
        // AND: one narrowing side is enough.
        assert_eq!(
            q(col("body")
                .like(lit("%abc%"))
                .and(col("service").eq(lit("x")))),
            Some(TextQuery::Contains("abc".into()))
        );
    }

    #[test]
    fn regexes_narrow_through_their_literals() {
        use datafusion::functions::expr_fn::regexp_like;
        let q = |f: Expr| text_query_of(&f);
        let re = |op, p: &str| {
            Expr::BinaryExpr(BinaryExpr::new(Box::new(col("body")), op, Box::new(lit(p))))
        };
        assert_eq!(
            q(re(Operator::RegexMatch, "timeout|refused")),
            Some(TextQuery::Or(vec![
                TextQuery::Contains("timeout".into()),
                TextQuery::Contains("refused".into())
            ]))
        );
        // Every case variant is the same lowercase word.
        assert_eq!(
            q(re(Operator::RegexIMatch, "error")),
            Some(TextQuery::Contains("error".into()))
        );
        assert_eq!(
            q(regexp_like(col("body"), lit("disk (full|gone)"), None)),
            Some(TextQuery::Or(vec![
                TextQuery::And(vec![
                    TextQuery::Contains("disk".into()),
                    TextQuery::Prefix("full".into())
                ]),
                TextQuery::And(vec![
                    TextQuery::Contains("disk".into()),
                    TextQuery::Prefix("gone".into())
                ])
            ]))
        );
        assert_eq!(q(re(Operator::RegexMatch, ".*")), None);
        assert_eq!(
            q(re(Operator::RegexMatch, "a|bcd")),
            None,
            "a short literal"
        );
        assert_eq!(q(re(Operator::RegexNotMatch, "timeout")), None);
    }

    #[test]
    fn what_the_index_cannot_narrow_is_left_alone() {
        let q = |f: Expr| text_query_of(&f);
        assert_eq!(q(col("body").not_like(lit("%abc%"))), None);
        assert_eq!(
            q(col("body").like(lit("%ab%"))),
            None,
            "words under 3 letters"
        );
        assert_eq!(q(col("body").like(lit("%"))), None);
        assert_eq!(
            q(col("body").like(lit("%50\\%%"))),
            None,
            "escaped wildcard"
        );
        assert_eq!(q(col("service").like(lit("%abc%"))), None);
        assert_eq!(
            q(col("body")
                .like(lit("%abc%"))
                .or(col("service").eq(lit("x")))),
            None
        );
    }
}
