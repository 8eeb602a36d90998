//! The PromQL evaluator, with the semantics of Prometheus 2.42.
//!
//! It has no storage dependency. A query runs in two steps:
//! 1. [`plan`] lists the selectors an expression reads and the time range each needs
//!    (offsets, `@`, ranges, subqueries and the lookback delta applied).
//! 2. The caller fetches those raw samples from wherever they live into [`Data`], and
//!    [`evaluate`] computes the expression at every step of the query, with limits
//!    on samples, series and time.
//!
//! Recursion is bounded by construction: [`parse`] refuses a query deeper than
//! [`MAX_DEPTH`], and checking, planning and evaluation recurse once per level of the
//! tree it returns, so their stack use is bounded too.
//!
//! Values are held per step: a vector is a set of series with an optional value at
//! each step of the evaluation, so instant and range queries share one code path.
//! `osprey-query` fetches from storage and renders Prometheus' JSON.

mod aggregate;
mod binary;
mod depth;
mod error;
mod eval;
mod functions;
#[doc(hidden)]
pub mod fuzzing;
mod labels;
mod plan;
mod range;
mod value;

pub use aggregate::format_go as format_value;
pub use depth::MAX_DEPTH;
pub use error::PromqlError;
pub use eval::{Limits, Query, evaluate};
pub use labels::Labels;
pub use plan::{Selection, plan, selector_key};
pub use value::{Data, RawSeries, STALE_NAN, Series, Value, is_stale};

/// Parses a query, with the functions of Prometheus 2.42 that promql-parser names
/// differently (`holt_winters`) added, and the ones 2.42 does not have refused.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, PromqlError> {
    functions::register_legacy();
    let expr = parse_bounded(query)?;
    functions::check_supported(&expr)?;
    Ok(expr)
}

/// Queries parsed lately, by text: dashboards and rules send the same ones again and
/// again. Cleared whole when full, so it stays small.
static PARSED: std::sync::LazyLock<
    std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Arc<promql_parser::parser::Expr>>,
    >,
> = std::sync::LazyLock::new(Default::default);

/// Most queries [`parse_cached`] keeps.
const PARSED_MAX: usize = 4096;

/// [`parse`], through a cache of the queries parsed lately (errors are not kept).
pub fn parse_cached(
    query: &str,
) -> Result<std::sync::Arc<promql_parser::parser::Expr>, PromqlError> {
    if let Some(e) = PARSED.lock().ok().and_then(|m| m.get(query).cloned()) {
        return Ok(e);
    }
    let expr = std::sync::Arc::new(parse(query)?);
    if let Ok(mut m) = PARSED.lock() {
        if m.len() >= PARSED_MAX {
            m.clear();
        }
        m.insert(query.to_string(), std::sync::Arc::clone(&expr));
    }
    Ok(expr)
}

/// Parses a `match[]` series selector as written (`or` groups included).
pub fn parse_selector(text: &str) -> Result<promql_parser::parser::Expr, PromqlError> {
    parse_bounded(text)
}

/// Every PromQL text (queries and selectors) is parsed here: a text that may nest
/// deeper than [`MAX_DEPTH`] is refused before the parser sees it, so every tree this
/// returns is at most `MAX_DEPTH + 1` levels deep.
fn parse_bounded(text: &str) -> Result<promql_parser::parser::Expr, PromqlError> {
    depth::check(text)?;
    promql_parser::parser::parse(text).map_err(PromqlError::Parse)
}
