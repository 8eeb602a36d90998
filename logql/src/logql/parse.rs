//! LogQL's grammar by recursive descent: a log query (selector and pipeline) or a metric
//! query whose binary operators are read by precedence climbing with PromQL's
//! precedences (`^` binds tightest and to the right; `or` loosest).

use regex::Regex;

use super::ast::*;
use super::lex::{Tok, lex};
use super::units::parse_duration_ns;
use super::{MAX_DEPTH, syntax_error};
use crate::LogQueryError;

type Result<T> = std::result::Result<T, LogQueryError>;

/// Parses a log or metric query.
pub fn parse(q: &str) -> Result<Query> {
    let toks = lex(q)?;
    let mut p = Parser {
        q,
        toks,
        pos: 0,
        depth: 0,
        ranges: 0,
    };
    if p.toks.is_empty() {
        return Err(syntax_error(q, 0, "empty query"));
    }
    let query = if p.peek_op("{") {
        Query::Log(p.log_expr()?)
    } else {
        Query::Metric(p.binary(0)?)
    };
    if let Some((t, _)) = p.toks.get(p.pos) {
        return Err(p.error(&format!("unexpected {}", t.describe())));
    }
    Ok(query)
}

pub(super) struct Parser<'q> {
    pub(super) q: &'q str,
    pub(super) toks: Vec<(Tok, usize)>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) ranges: usize,
}

/// Binary operators by token, with their precedence.
const BINARY: &[(&str, BinOp, u8)] = &[
    ("or", BinOp::Or, 1),
    ("and", BinOp::And, 2),
    ("unless", BinOp::Unless, 2),
    ("==", BinOp::Eq, 3),
    ("!=", BinOp::Neq, 3),
    (">", BinOp::Gt, 3),
    (">=", BinOp::Ge, 3),
    ("<", BinOp::Lt, 3),
    ("<=", BinOp::Le, 3),
    ("+", BinOp::Add, 4),
    ("-", BinOp::Sub, 4),
    ("*", BinOp::Mul, 5),
    ("/", BinOp::Div, 5),
    ("%", BinOp::Mod, 5),
    ("^", BinOp::Pow, 6),
];

impl Parser<'_> {
    // ---- tokens ----

    pub(super) fn error(&self, msg: &str) -> LogQueryError {
        let at = self.toks.get(self.pos).map_or(self.q.len(), |(_, at)| *at);
        syntax_error(self.q, at, msg)
    }

    pub(super) fn unexpected(&self, expecting: &str) -> LogQueryError {
        match self.toks.get(self.pos) {
            Some((t, _)) => self.error(&format!(
                "unexpected {}, expecting {expecting}",
                t.describe()
            )),
            None => self.error(&format!("unexpected end of query, expecting {expecting}")),
        }
    }

    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    pub(super) fn peek_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    pub(super) fn peek_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
    }

    pub(super) fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.peek_op(op);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub(super) fn eat_ident(&mut self, name: &str) -> bool {
        let yes = self.peek_ident(name);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub(super) fn expect_op(&mut self, op: &str) -> Result<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("{op:?}")))
        }
    }

    pub(super) fn ident(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Some(Tok::Ident(i)) => {
                let i = i.clone();
                self.pos += 1;
                Ok(i)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    pub(super) fn string(&mut self) -> Result<String> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.unexpected("STRING")),
        }
    }

    pub(super) fn number(&mut self) -> Result<f64> {
        match self.peek() {
            Some(Tok::Number(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.unexpected("NUMBER")),
        }
    }

    pub(super) fn duration_ns(&mut self) -> Result<i64> {
        match self.peek() {
            Some(Tok::Unit(u)) => match parse_duration_ns(u) {
                Some(ns) => {
                    self.pos += 1;
                    Ok(ns as i64)
                }
                None => Err(self.error(&format!("invalid duration {u:?}"))),
            },
            _ => Err(self.unexpected("DURATION")),
        }
    }

    pub(super) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LogQueryError::TooDeep { max: MAX_DEPTH });
        }
        Ok(())
    }

    // ---- metric queries ----

    fn binary(&mut self, min_prec: u8) -> Result<MetricExpr> {
        self.enter()?;
        let mut lhs = self.unary()?;
        // Each operator of a chain nests the tree one level deeper (`a + b + c` is
        // `(a + b) + c`): bounded like parentheses, before the tree is built, so that
        // neither evaluation nor dropping it recurses past the stack.
        let mut chain = 0;
        while let Some((op, prec)) = self.peek_binary() {
            if prec < min_prec {
                break;
            }
            chain += 1;
            if self.depth + chain > MAX_DEPTH {
                return Err(LogQueryError::TooDeep { max: MAX_DEPTH });
            }
            self.pos += 1;
            let return_bool = self.eat_ident("bool");
            if return_bool && op.comparison().is_none() {
                return Err(self.error("bool modifier can only be used on comparison operators"));
            }
            let matching = self.vector_matching()?;
            // `^` is right-associative; the others left.
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.binary(next)?;
            lhs = MetricExpr::Binary {
                op,
                return_bool,
                matching,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn peek_binary(&self) -> Option<(BinOp, u8)> {
        let text = match self.peek()? {
            Tok::Op(o) => *o,
            Tok::Ident(i) => i.as_str(),
            _ => return None,
        };
        BINARY
            .iter()
            .find(|(t, _, _)| *t == text)
            .map(|(_, op, prec)| (*op, *prec))
    }

    fn vector_matching(&mut self) -> Result<Option<VectorMatching>> {
        let on = if self.eat_ident("on") {
            true
        } else if self.eat_ident("ignoring") {
            false
        } else {
            return Ok(None);
        };
        let labels = self.label_list()?;
        let left = if self.eat_ident("group_left") {
            true
        } else if self.eat_ident("group_right") {
            false
        } else {
            return Ok(Some(VectorMatching {
                on,
                labels,
                group: None,
            }));
        };
        // The included labels are optional: `group_left` alone copies none.
        let include = if self.peek_op("(") {
            self.label_list()?
        } else {
            Vec::new()
        };
        Ok(Some(VectorMatching {
            on,
            labels,
            group: Some(Group { left, include }),
        }))
    }

    fn unary(&mut self) -> Result<MetricExpr> {
        if self.eat_op("-") {
            self.enter()?;
            let e = match self.unary()? {
                MetricExpr::Number(n) => MetricExpr::Number(-n),
                e => MetricExpr::Negate(Box::new(e)),
            };
            self.depth -= 1;
            return Ok(e);
        }
        if self.eat_op("+") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(e);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<MetricExpr> {
        match self.peek().cloned() {
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let e = self.binary(0)?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(Tok::Number(n)) => {
                self.pos += 1;
                Ok(MetricExpr::Number(n))
            }
            Some(Tok::Ident(name)) => {
                if let Some((_, op)) = RANGE_OPS.iter().find(|(n, _)| *n == name) {
                    self.pos += 1;
                    return self.range_aggregation(*op);
                }
                if let Some((_, op)) = AGG_OPS.iter().find(|(n, _)| *n == name) {
                    self.pos += 1;
                    return self.vector_aggregation(*op);
                }
                match name.as_str() {
                    "vector" => {
                        self.pos += 1;
                        self.expect_op("(")?;
                        let n = self.number()?;
                        self.expect_op(")")?;
                        Ok(MetricExpr::Vector(n))
                    }
                    "label_replace" => {
                        self.pos += 1;
                        self.label_replace()
                    }
                    _ => Err(self.error(&format!("unknown function {name:?}"))),
                }
            }
            Some(Tok::Op("{")) => {
                Err(self.error("a log query is not a metric: wrap it in a range aggregation such as count_over_time({…}[5m])"))
            }
            _ => Err(self.unexpected("a metric expression")),
        }
    }

    fn range_aggregation(&mut self, op: RangeOp) -> Result<MetricExpr> {
        self.expect_op("(")?;
        let param = if op == RangeOp::QuantileOverTime {
            let n = self.number()?;
            self.expect_op(",")?;
            Some(n)
        } else {
            None
        };
        let mut range = self.log_range()?;
        if !matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) {
            super::format::drop_unread_line_formats(&mut range.log.pipeline);
        }
        self.expect_op(")")?;
        let grouping = self.grouping()?;
        match (&range.unwrap, op.needs_unwrap(), op.allows_unwrap()) {
            (None, true, _) => {
                return Err(
                    self.error(&format!("invalid aggregation {} without unwrap", op.name()))
                );
            }
            (Some(_), _, false) => {
                return Err(self.error(&format!("invalid aggregation {} with unwrap", op.name())));
            }
            _ => {}
        }
        if grouping.is_some() && !op.allows_grouping() {
            return Err(self.error(&format!(
                "grouping not allowed for {} aggregation",
                op.name()
            )));
        }
        Ok(MetricExpr::Range {
            op,
            param,
            range,
            grouping,
        })
    }

    /// `label_replace(v, "dst", "replacement", "src", "regex")`, PromQL's.
    fn label_replace(&mut self) -> Result<MetricExpr> {
        self.expect_op("(")?;
        let inner = self.binary(0)?;
        let mut args = Vec::with_capacity(4);
        for _ in 0..4 {
            self.expect_op(",")?;
            args.push(self.string()?);
        }
        self.expect_op(")")?;
        let [dst, replacement, src, regex] = <[String; 4]>::try_from(args)
            .map_err(|_| self.error("label_replace takes five arguments"))?;
        if !super::pipeline::is_label_name(&dst) {
            return Err(self.error(&format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let regex = self.regex(&format!("^(?s:{regex})$"))?;
        Ok(MetricExpr::LabelReplace {
            inner: Box::new(inner),
            dst,
            replacement,
            src,
            regex,
        })
    }

    fn vector_aggregation(&mut self, op: AggOp) -> Result<MetricExpr> {
        let mut grouping = self.grouping()?;
        self.expect_op("(")?;
        let param = if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let n = self.number()?;
            if n < 1.0 || n.fract() != 0.0 {
                return Err(self.error(&format!(
                    "invalid parameter {n} for {op:?}: a positive integer"
                )));
            }
            self.expect_op(",")?;
            Some(n)
        } else {
            None
        };
        let inner = self.binary(0)?;
        self.expect_op(")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner: Box::new(inner),
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>> {
        let without = if self.eat_ident("by") {
            false
        } else if self.eat_ident("without") {
            true
        } else {
            return Ok(None);
        };
        Ok(Some(Grouping {
            without,
            labels: self.label_list()?,
        }))
    }

    fn label_list(&mut self) -> Result<Vec<String>> {
        self.expect_op("(")?;
        let mut out = Vec::new();
        while !self.eat_op(")") {
            out.push(self.ident("a label name")?);
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok(out)
    }

    /// `{…} pipeline [range] offset d`, with the range before or after the pipeline.
    /// The forms Loki reads: `{…} | … [5m]`, `{…}[5m] | …`, `{…}[5m] offset 1h | …`,
    /// `({…} | …)[5m]` and `({…} | … [5m])`, each with an optional `offset` last.
    fn log_range(&mut self) -> Result<LogRange> {
        let parenthesised = self.eat_op("(");
        if parenthesised {
            self.enter()?;
        }
        let matchers = self.selector()?;
        let mut range_ns = None;
        let mut offset_ns = None;
        if self.peek_op("[") {
            range_ns = Some(self.range()?);
            offset_ns = self.offset()?;
        }
        let (pipeline, unwrap) = self.pipeline(true)?;
        if parenthesised {
            if range_ns.is_none() && self.peek_op("[") {
                range_ns = Some(self.range()?);
            }
            self.expect_op(")")?;
            self.depth -= 1;
        }
        if range_ns.is_none() {
            range_ns = Some(self.range()?);
        }
        if offset_ns.is_none() {
            offset_ns = self.offset()?;
        }
        let id = self.ranges;
        self.ranges += 1;
        Ok(LogRange {
            id,
            log: LogExpr { matchers, pipeline },
            unwrap,
            range_ns: range_ns.unwrap_or_default(),
            offset_ns: offset_ns.unwrap_or_default(),
        })
    }

    fn offset(&mut self) -> Result<Option<i64>> {
        if self.eat_ident("offset") {
            Ok(Some(self.duration_ns()?))
        } else {
            Ok(None)
        }
    }

    fn range(&mut self) -> Result<i64> {
        self.expect_op("[")?;
        let ns = self.duration_ns()?;
        if ns <= 0 {
            return Err(self.error("a range must be positive"));
        }
        self.expect_op("]")?;
        Ok(ns)
    }

    // ---- log queries ----

    fn log_expr(&mut self) -> Result<LogExpr> {
        let matchers = self.selector()?;
        let (pipeline, _) = self.pipeline(false)?;
        Ok(LogExpr { matchers, pipeline })
    }

    fn selector(&mut self) -> Result<Vec<Matcher>> {
        let start = self.pos;
        self.expect_op("{")?;
        let mut out = Vec::new();
        while !self.eat_op("}") {
            let name = self.ident("a label name")?;
            let op = self.match_op()?;
            let value = self.string()?;
            out.push(self.matcher(name, op, value)?);
            if !self.eat_op(",") {
                self.expect_op("}")?;
                break;
            }
        }
        if !out.iter().any(|m| !m.matches("")) {
            let at = self.toks.get(start).map_or(0, |(_, at)| *at);
            return Err(syntax_error(
                self.q,
                at,
                "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
            ));
        }
        Ok(out)
    }

    pub(super) fn match_op(&mut self) -> Result<MatchOp> {
        let op = match self.peek() {
            Some(Tok::Op("=")) => MatchOp::Eq,
            Some(Tok::Op("!=")) => MatchOp::Neq,
            Some(Tok::Op("=~")) => MatchOp::Re,
            Some(Tok::Op("!~")) => MatchOp::Nre,
            _ => return Err(self.unexpected("one of =, !=, =~, !~")),
        };
        self.pos += 1;
        Ok(op)
    }

    pub(super) fn matcher(&self, name: String, op: MatchOp, value: String) -> Result<Matcher> {
        let re = match op {
            MatchOp::Re | MatchOp::Nre => Some(self.regex(&format!("^(?:{value})$"))?),
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    pub(super) fn regex(&self, re: &str) -> Result<Regex> {
        Regex::new(re).map_err(|e| self.error(&format!("invalid regular expression: {e}")))
    }
}
