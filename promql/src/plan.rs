//! Which samples a query reads: each selector with the time range it needs.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use crate::eval::Query;

/// One selector to fetch: every series it matches, samples in `start..=end` (ms).
#[derive(Clone, Debug)]
pub struct Selection {
    pub key: String,
    /// The selector without `offset` and `@`.
    pub selector: VectorSelector,
    pub start: i64,
    pub end: i64,
}

/// The key a selector's samples are stored under in [`crate::Data`]: the selector
/// without its modifiers, so `x` and `x offset 1h` share one fetch.
pub fn selector_key(vs: &VectorSelector) -> String {
    bare(vs).to_string()
}

fn bare(vs: &VectorSelector) -> VectorSelector {
    let mut b = vs.clone();
    b.offset = None;
    b.at = None;
    b
}

pub(crate) fn system_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// The fixed time an `@` modifier names, if any (`start()`/`end()` are the query's).
pub(crate) fn at_ms(at: &Option<AtModifier>, q: &Query) -> Option<i64> {
    match at {
        None => None,
        Some(AtModifier::Start) => Some(q.start),
        Some(AtModifier::End) => Some(q.end),
        Some(AtModifier::At(t)) => Some(system_ms(t)),
    }
}

/// The time a selector reads at when evaluated at step time `t`.
pub(crate) fn shifted(at: &Option<AtModifier>, off: &Option<Offset>, t: i64, q: &Query) -> i64 {
    at_ms(at, q).unwrap_or(t).saturating_sub(offset_ms(off))
}

/// The first multiple of `step` at or after `t`: where a subquery's steps start.
pub(crate) fn align_up(t: i64, step: i64) -> i64 {
    let a = t.div_euclid(step).saturating_mul(step);
    if a < t { a.saturating_add(step) } else { a }
}

/// The selectors `expr` reads when evaluated over the top-level query's steps.
pub fn plan(expr: &Expr, q: &Query) -> Vec<Selection> {
    let mut out: BTreeMap<String, Selection> = BTreeMap::new();
    walk(expr, q, q.start, q.end, &mut out);
    out.into_values().collect()
}

fn need(out: &mut BTreeMap<String, Selection>, vs: &VectorSelector, start: i64, end: i64) {
    let key = selector_key(vs);
    out.entry(key.clone())
        .and_modify(|s| {
            s.start = s.start.min(start);
            s.end = s.end.max(end);
        })
        .or_insert_with(|| Selection {
            key,
            selector: bare(vs),
            start,
            end,
        });
}

/// `start..=end` is the range of step times the node is evaluated at.
fn walk(e: &Expr, q: &Query, start: i64, end: i64, out: &mut BTreeMap<String, Selection>) {
    match e {
        Expr::VectorSelector(vs) => {
            let (s, e) = (
                shifted(&vs.at, &vs.offset, start, q),
                shifted(&vs.at, &vs.offset, end, q),
            );
            need(out, vs, s.saturating_sub(q.lookback), e);
        }
        Expr::MatrixSelector(ms) => {
            let vs = &ms.vs;
            let (s, e) = (
                shifted(&vs.at, &vs.offset, start, q),
                shifted(&vs.at, &vs.offset, end, q),
            );
            need(out, vs, s.saturating_sub(ms.range.as_millis() as i64), e);
        }
        Expr::Subquery(sq) => {
            let step = sq
                .step
                .map(|d| d.as_millis() as i64)
                .filter(|&s| s > 0)
                .unwrap_or(q.subquery_step);
            let s = shifted(&sq.at, &sq.offset, start, q);
            let e = shifted(&sq.at, &sq.offset, end, q);
            let inner_start = align_up(s.saturating_sub(sq.range.as_millis() as i64), step);
            walk(&sq.expr, q, inner_start, e, out);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                walk(p, q, start, end, out);
            }
            walk(&a.expr, q, start, end, out);
        }
        Expr::Unary(u) => walk(&u.expr, q, start, end, out),
        Expr::Binary(b) => {
            walk(&b.lhs, q, start, end, out);
            walk(&b.rhs, q, start, end, out);
        }
        Expr::Paren(p) => walk(&p.expr, q, start, end, out),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, q, start, end, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(start: i64, end: i64) -> Query {
        Query {
            start,
            end,
            step: 15_000,
            lookback: 300_000,
            subquery_step: 60_000,
            instant: false,
        }
    }

    #[test]
    fn ranges_cover_offsets_ranges_and_subqueries() {
        let e = crate::parse("rate(x[5m] offset 1m) + y @ 100 + max_over_time(z[10m:1m])").unwrap();
        let p = plan(&e, &q(1_000_000, 2_000_000));
        let get = |k: &str| p.iter().find(|s| s.key == k).unwrap();
        assert_eq!(
            (get("x").start, get("x").end),
            (1_000_000 - 360_000, 1_940_000)
        );
        assert_eq!((get("y").start, get("y").end), (100_000 - 300_000, 100_000));
        // Subquery steps start at the first minute boundary after start - 10m.
        assert_eq!(get("z").start, 420_000 - 300_000);
        assert_eq!(get("z").end, 2_000_000);
    }

    #[test]
    fn same_selector_fetched_once() {
        let e = crate::parse("x + x offset 1h").unwrap();
        let p = plan(&e, &q(10_000_000, 10_000_000));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].start, 10_000_000 - 3_600_000 - 300_000);
    }
}
