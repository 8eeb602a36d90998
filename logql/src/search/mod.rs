//! The log search language:
//!
//! | form | matches |
//! |---|---|
//! | `timeout` | a body token (case-insensitive runs of letters and digits) |
//! | `time*` | a body token starting with `time` |
//! | `"card declined"`, `orders_pkey` | consecutive body tokens (a phrase) |
//! | `service:checkout` | the service |
//! | `severity>=warn` (`>`, `<`, `<=`, `=`, `:`; also `level`) | severity levels trace < debug < info < warn < error < fatal |
//! | `trace_id:4bf9…`, `span_id:…` | the record's ids |
//! | `key:value`, `key:"a value"` | an attribute, exactly |
//! | `a b`, `a AND b` | both |
//! | `a OR b` | either |
//! | `NOT a`, `-a` | not |
//! | `( … )` | grouping |
//!
//! Precedence: NOT, then AND (juxtaposition), then OR. An empty query matches every
//! record. Parentheses and NOTs nest at most [`MAX_DEPTH`] levels deep.
//!
//! [`Expr::matches`] checks a record; the query engine turns an expression into its
//! full-text index query (`osprey-query`'s `logs/textquery.rs`).

mod lex;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use crate::level::level_of;
use crate::logql::{LogExpr, detected_level_pair, pipeline, selects_stream, stream_labels};
use crate::tokens::Tokenizer;

pub use parse::{MAX_DEPTH, parse};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    All,
    /// Consecutive body tokens (one token: a term).
    Tokens(Vec<String>),
    /// A body token prefix (lowercase).
    Prefix(String),
    /// The body contains this text, case-sensitively (LogQL's `|=`; not written in the
    /// search language). The index finds candidates by the words in it.
    BodyContains(String),
    Service(String),
    /// The service matches a regex, anchored (LogQL's `service_name=~"…"`; not written
    /// in the search language).
    ServiceMatches(ServiceRegex),
    /// Severity levels in `min..=max` ([`crate::level_of`]).
    Levels {
        min: u64,
        max: u64,
    },
    TraceId(String),
    SpanId(String),
    Attr {
        key: String,
        value: String,
    },
    /// A LogQL log query keeps the record (not written in the search language: the
    /// logs view's LogQL mode). See [`LogqlFilter`].
    Logql(LogqlFilter),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A regex a service name must match: as written, and compiled anchored.
#[derive(Debug, Clone)]
pub struct ServiceRegex {
    pub pattern: String,
    pub anchored: regex::Regex,
}

impl PartialEq for ServiceRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// A LogQL log query as a record filter: the record's stream labels
/// ([`crate::logql::stream_labels`]) are selected by its selector and its line and
/// structured metadata pass its pipeline (line filters, parsers, label filters).
#[derive(Debug, Clone)]
pub struct LogqlFilter(pub Arc<LogExpr>);

impl PartialEq for LogqlFilter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl LogqlFilter {
    fn keeps(&self, r: &Record<'_>) -> bool {
        let resource = r.resource.iter().map(|(k, v)| (k.clone(), v.clone()));
        let labels = stream_labels(resource, r.service);
        if !selects_stream(&self.0, &labels, r.service) {
            return false;
        }
        let mut metadata: Vec<(String, String)> = r
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        metadata.push(detected_level_pair(r.severity_number));
        pipeline::process(&self.0, &labels, (r.ts_ns, r.body), &metadata).is_some()
    }
}

/// The fields of a record an expression looks at.
pub struct Record<'a> {
    /// Nanoseconds since 1970 (what a LogQL template's `__timestamp__` answers).
    pub ts_ns: i64,
    pub body: &'a str,
    pub service: &'a str,
    pub severity_number: i32,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub attributes: &'a HashMap<String, String>,
    /// Resource attributes (Loki's stream labels): `key:value` matches either map.
    pub resource: &'a HashMap<String, String>,
}

/// What [`Expr::matches`] needs besides the record: a tokenizer and the body's tokens,
/// computed once per record, and the last services each service regex was run on
/// (records come in runs of one service).
#[derive(Default)]
pub struct Scratch {
    tok: Tokenizer,
    tokens: Vec<String>,
    body_done: bool,
    /// (the regex's address, a service, whether it matched).
    services: Vec<(usize, String, bool)>,
}

/// Most (regex, service) answers a [`Scratch`] keeps.
const SERVICE_ANSWERS: usize = 16;

impl Scratch {
    fn service_matches(&mut self, x: &ServiceRegex, service: &str) -> bool {
        let id = std::ptr::from_ref(x) as usize;
        if let Some((_, _, hit)) = self
            .services
            .iter()
            .find(|(i, s, _)| *i == id && s == service)
        {
            return *hit;
        }
        let hit = x.anchored.is_match(service);
        if self.services.len() >= SERVICE_ANSWERS {
            self.services.clear();
        }
        self.services.push((id, service.to_string(), hit));
        hit
    }

    fn body_tokens(&mut self, body: &str) -> &[String] {
        if !self.body_done {
            self.tokens.clear();
            let out = &mut self.tokens;
            self.tok.each(body, |t| {
                out.push(t.to_string());
                true
            });
            self.body_done = true;
        }
        &self.tokens
    }
}

impl Expr {
    /// Whether the record matches.
    pub fn matches(&self, r: &Record<'_>, s: &mut Scratch) -> bool {
        s.body_done = false;
        self.eval(r, s)
    }

    fn eval(&self, r: &Record<'_>, s: &mut Scratch) -> bool {
        match self {
            Expr::All => true,
            Expr::Tokens(want) => s
                .body_tokens(r.body)
                .windows(want.len())
                .any(|w| w == want.as_slice()),
            Expr::Prefix(p) => s.body_tokens(r.body).iter().any(|t| t.starts_with(p)),
            Expr::BodyContains(x) => r.body.contains(x.as_str()),
            Expr::Service(x) => r.service == x,
            Expr::ServiceMatches(x) => s.service_matches(x, r.service),
            Expr::Levels { min, max } => (*min..=*max).contains(&level_of(r.severity_number)),
            Expr::TraceId(x) => r.trace_id.eq_ignore_ascii_case(x),
            Expr::SpanId(x) => r.span_id.eq_ignore_ascii_case(x),
            Expr::Attr { key, value } => {
                r.attributes.get(key).is_some_and(|v| v == value)
                    || r.resource.get(key).is_some_and(|v| v == value)
            }
            Expr::Logql(f) => f.keeps(r),
            Expr::And(xs) => xs.iter().all(|x| x.eval(r, s)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(r, s)),
            Expr::Not(x) => !x.eval(r, s),
        }
    }

    /// Whether checking a record needs its trace and span ids.
    pub fn uses_ids(&self) -> bool {
        match self {
            Expr::TraceId(_) | Expr::SpanId(_) | Expr::Logql(_) => true,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::uses_ids),
            Expr::Not(x) => x.uses_ids(),
            _ => false,
        }
    }

    /// Whether checking a record needs its body (reading it costs).
    pub fn uses_body(&self) -> bool {
        match self {
            Expr::Tokens(_) | Expr::Prefix(_) | Expr::BodyContains(_) | Expr::Logql(_) => true,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::uses_body),
            Expr::Not(x) => x.uses_body(),
            _ => false,
        }
    }

    /// Whether checking a record needs its attributes (reading them costs).
    pub fn uses_attributes(&self) -> bool {
        match self {
            Expr::Attr { .. } | Expr::Logql(_) => true,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::uses_attributes),
            Expr::Not(x) => x.uses_attributes(),
            _ => false,
        }
    }

    /// The trace ids a matching record must carry one of, when every match needs one
    /// (`trace_id:X`, alone, in an `and`, or in every branch of an `or`): files are
    /// then searched by their trace-id filters first. `None`: no such bound.
    pub fn required_trace_ids(&self) -> Option<Vec<String>> {
        match self {
            Expr::TraceId(x) => Some(vec![x.to_ascii_lowercase()]),
            Expr::And(xs) => xs.iter().find_map(Expr::required_trace_ids),
            Expr::Or(xs) => {
                let mut all = Vec::new();
                for x in xs {
                    all.extend(x.required_trace_ids()?);
                }
                all.sort();
                all.dedup();
                Some(all)
            }
            _ => None,
        }
    }

    /// Whether a phrase (two or more consecutive tokens) is anywhere in it.
    pub fn has_phrase(&self) -> bool {
        match self {
            Expr::Tokens(t) => t.len() > 1,
            Expr::And(xs) | Expr::Or(xs) => xs.iter().any(Expr::has_phrase),
            Expr::Not(x) => x.has_phrase(),
            _ => false,
        }
    }
}
