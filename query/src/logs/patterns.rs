//! Log patterns: the matching records' bodies clustered into templates per service, so an
//! SRE sees what kinds of lines there are before reading lines.
//!
//! The clustering follows Drain (He et al., "Drain: An Online Log Parsing Approach with
//! Fixed Depth Tree", ICWS 2017), simplified: a body is split on whitespace and every
//! token holding a digit becomes the wildcard `<*>` (ids, numbers, durations, addresses);
//! lines are grouped by service, token count and first token; within a group a line
//! joins the most similar template (the share of positions whose tokens are equal, a
//! template's `<*>` matching anything) when that share is at least [`SIMILARITY`], and
//! positions where they differ become `<*>`; otherwise it starts a template. A group
//! holds at most [`MAX_PER_GROUP`] templates (then a line joins the most similar one),
//! which bounds memory. Records are visited newest first within each file, so which
//! line becomes a template's example can depend on storage order; counts do not.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use serde::Serialize;

use super::search::{Loc, Search, Visitor, scan};
use super::stats::{StatsParams, Window};
use crate::columns::{rfc3339, strings};
use crate::{QueryError, QueryState};
use osprey_storage::Signal;

/// Least share of equal positions for a line to join a template.
pub const SIMILARITY: f64 = 0.5;
/// Most templates per (service, length, first token) group.
pub const MAX_PER_GROUP: usize = 100;
/// Tokens compared (longer lines are grouped by their first this many tokens).
const MAX_TOKENS: usize = 64;
const WILDCARD: &str = "<*>";

/// The tokens of a body as Drain sees them.
pub fn tokens(body: &str) -> Vec<String> {
    body.split_whitespace()
        .take(MAX_TOKENS)
        .map(|t| {
            if t.bytes().any(|b| b.is_ascii_digit()) {
                WILDCARD.to_string()
            } else {
                t.to_string()
            }
        })
        .collect()
}

struct Template {
    tokens: Vec<String>,
    count: u64,
    buckets: Vec<u64>,
    example: String,
    example_ts: i64,
    first_ns: i64,
    last_ns: i64,
}

impl Template {
    /// Drain's similarity: equal tokens over all positions; a wildcard counts as no
    /// evidence either way (had it counted as equal, templates made mostly of
    /// wildcards would swallow unrelated lines).
    fn similarity(&self, toks: &[String]) -> f64 {
        let same = self
            .tokens
            .iter()
            .zip(toks)
            .filter(|(a, b)| *a != WILDCARD && a == b)
            .count();
        same as f64 / self.tokens.len().max(1) as f64
    }

    fn merge(&mut self, toks: &[String]) {
        for (a, b) in self.tokens.iter_mut().zip(toks) {
            if a != b {
                *a = WILDCARD.to_string();
            }
        }
    }
}

/// Templates found so far.
pub struct Drain {
    groups: HashMap<(String, usize, String), Vec<Template>>,
    /// The current batch's service and body columns (when fed by a scan).
    cols: Option<(arrow::array::StringArray, arrow::array::StringArray)>,
    start_ns: i64,
    step_ns: i64,
    buckets: usize,
}

impl Drain {
    pub fn new(start_ns: i64, step_ns: i64, buckets: usize) -> Self {
        Self {
            groups: HashMap::new(),
            cols: None,
            start_ns,
            step_ns: step_ns.max(1),
            buckets,
        }
    }

    pub fn add(&mut self, service: &str, body: &str, ts: i64) {
        let toks = tokens(body);
        let first = toks.first().cloned().unwrap_or_default();
        let group = self
            .groups
            .entry((service.to_string(), toks.len(), first))
            .or_default();
        let best = group
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.similarity(&toks)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let idx = match best {
            Some((i, s)) if s >= SIMILARITY || group.len() >= MAX_PER_GROUP => {
                group[i].merge(&toks);
                i
            }
            _ => {
                group.push(Template {
                    tokens: toks,
                    count: 0,
                    buckets: vec![0; self.buckets],
                    example: body.to_string(),
                    example_ts: ts,
                    first_ns: ts,
                    last_ns: ts,
                });
                group.len() - 1
            }
        };
        let t = &mut group[idx];
        t.count += 1;
        t.first_ns = t.first_ns.min(ts);
        t.last_ns = t.last_ns.max(ts);
        // The newest line is the example.
        if ts > t.example_ts {
            t.example = body.to_string();
            t.example_ts = ts;
        }
        let b = (ts - self.start_ns).div_euclid(self.step_ns);
        if let Some(slot) = usize::try_from(b).ok().and_then(|b| t.buckets.get_mut(b)) {
            *slot += 1;
        }
    }

    /// Templates, most frequent first.
    pub fn finish(self, limit: usize) -> Vec<Pattern> {
        let mut out: Vec<Pattern> = self
            .groups
            .into_iter()
            .flat_map(|((service, _, _), ts)| {
                ts.into_iter().map(move |t| Pattern {
                    service: service.clone(),
                    pattern: t.tokens.join(" "),
                    count: t.count,
                    example: t.example,
                    first_seen: rfc3339(t.first_ns),
                    last_seen: rfc3339(t.last_ns),
                    counts: t.buckets,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        out.truncate(limit);
        out
    }
}

#[derive(Debug, Serialize)]
pub struct Pattern {
    pub service: String,
    pub pattern: String,
    pub count: u64,
    /// The newest line of the template.
    pub example: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Counts per bucket (see [`Patterns::start_ns`] and [`Patterns::step_ms`]).
    pub counts: Vec<u64>,
}

#[derive(Debug, Serialize)]
pub struct Patterns {
    pub start_ns: i64,
    pub step_ms: i64,
    pub patterns: Vec<Pattern>,
    /// Records clustered.
    pub matched: usize,
}

impl Visitor for Drain {
    fn columns(&self) -> &[&'static str] {
        &["service", "body"]
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.cols = Some((strings(b, "service")?, strings(b, "body")?));
        Ok(())
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((service, body)) = self.cols.take() else {
            return Err(QueryError::Internal("patterns: batch not begun".into()));
        };
        self.add(service.value(i), body.value(i), ts);
        self.cols = Some((service, body));
        Ok(())
    }
}

/// The templates of the records matching `p`.
pub async fn patterns(
    st: &QueryState,
    tenant: &str,
    p: &StatsParams,
    limit: usize,
    step_ms: Option<i64>,
) -> Result<Patterns, QueryError> {
    let expr = p.expr()?;
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let (start, end) = (p.start_ns, p.end_ns);
    st.blocking("patterns", move || {
        let snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let Some(w) = Window::of(&snap, start, end, step_ms)? else {
            return Ok(Patterns {
                start_ns: start.unwrap_or(0),
                step_ms: 1000,
                patterns: Vec::new(),
                matched: 0,
            });
        };
        let mut drain = Drain::new(w.first, w.step_ns, w.n);
        let search = Search {
            expr,
            start_ns: w.start_ns,
            end_ns: w.end_ns,
        };
        let matched = scan(&storage, &snap, &search, &mut drain)?;
        Ok(Patterns {
            start_ns: w.first,
            step_ms: w.step_ms,
            patterns: drain.finish(limit),
            matched,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_lines_into_templates() {
        let mut d = Drain::new(0, 10, 3);
        let lines = [
            ("api", "user alice logged in from 10.0.0.1", 1),
            ("api", "user bob logged in from 10.0.0.2", 2),
            ("api", "user carol logged in from 10.0.0.3", 12),
            ("api", "GET /api/items/17 took 12ms", 3),
            ("api", "GET /api/items/18 took 9ms", 25),
            ("db", "user alice logged in from 10.0.0.1", 4),
            ("api", "connection reset by peer", 5),
        ];
        for (svc, body, ts) in lines {
            d.add(svc, body, ts);
        }
        let p = d.finish(10);
        let summary: Vec<(&str, &str, u64, &[u64])> = p
            .iter()
            .map(|p| {
                (
                    p.service.as_str(),
                    p.pattern.as_str(),
                    p.count,
                    p.counts.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("api", "user <*> logged in from <*>", 3, &[2u64, 1, 0][..]),
                ("api", "GET <*> took <*>", 2, &[1, 0, 1][..]),
                ("api", "connection reset by peer", 1, &[1, 0, 0][..]),
                ("db", "user alice logged in from <*>", 1, &[1, 0, 0][..]),
            ]
        );
        assert_eq!(p[0].example, "user carol logged in from 10.0.0.3");
    }

    #[test]
    fn groups_are_bounded() {
        let mut d = Drain::new(0, 1, 1);
        for i in 0..(MAX_PER_GROUP * 3) {
            // All different words, same length and first token.
            d.add(
                "s",
                &format!(
                    "x a{} b{} c{}",
                    char_word(i),
                    char_word(i + 1),
                    char_word(i + 2)
                ),
                0,
            );
        }
        let p = d.finish(usize::MAX);
        assert!(p.len() <= MAX_PER_GROUP, "{}", p.len());
        assert_eq!(
            p.iter().map(|p| p.count).sum::<u64>(),
            (MAX_PER_GROUP * 3) as u64
        );
    }

    fn char_word(i: usize) -> String {
        let mut s = String::new();
        let mut n = i + 1;
        while n > 0 {
            s.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        s
    }
}
