//! The pipeline's grammar: line filters, parsers, label filters, `drop`/`keep`,
//! `decolorize`, `line_format`/`label_format` and `| unwrap` with its filters; the rest of [`Parser`] is `parse.rs`.

use super::ast::*;
use super::format::{self, LabelFmt, Template};
use super::lex::Tok;
use super::parse::Parser;
use super::units::{parse_bytes, parse_duration_seconds};
use crate::LogQueryError;

type Result<T> = std::result::Result<T, LogQueryError>;

/// Loki's error for a stage that cannot be built: `parse error : stage '…' : why`.
fn stage_error(stage: &str, why: &str) -> LogQueryError {
    LogQueryError::Syntax(format!("parse error : stage '{stage}' : {why}"))
}

impl Parser<'_> {
    /// The stages up to the range (metric) or the end (log query); `| unwrap` only in a
    /// range.
    pub(super) fn pipeline(&mut self, in_range: bool) -> Result<(Vec<Stage>, Option<Unwrap>)> {
        let mut stages = Vec::new();
        let mut unwrap: Option<Unwrap> = None;
        loop {
            let line_op = match self.peek() {
                Some(Tok::Op("|=")) => Some(LineOp::Contains),
                Some(Tok::Op("!=")) => Some(LineOp::NotContains),
                Some(Tok::Op("|~")) => Some(LineOp::Regex),
                Some(Tok::Op("!~")) => Some(LineOp::NotRegex),
                Some(Tok::Op("|>")) => Some(LineOp::Pattern),
                Some(Tok::Op("!>")) => Some(LineOp::NotPattern),
                Some(Tok::Op("|")) => None,
                _ => break,
            };
            self.pos += 1;
            if let Some(op) = line_op {
                if unwrap.is_some() {
                    return Err(self.error("a line filter cannot follow unwrap"));
                }
                stages.push(Stage::LineFilter(self.line_filter(op)?));
                continue;
            }
            if self.peek_ident("unwrap") {
                if !in_range || unwrap.is_some() {
                    return Err(
                        self.error("unwrap is only allowed once, in a metric query's range")
                    );
                }
                self.pos += 1;
                unwrap = Some(self.unwrap()?);
                continue;
            }
            match &mut unwrap {
                Some(u) => u.post_filters.push(self.label_filter_or()?),
                None => stages.push(self.stage()?),
            }
        }
        Ok((stages, unwrap))
    }

    fn line_filter(&mut self, op: LineOp) -> Result<LineFilter> {
        let mut values = vec![self.string()?];
        while self.peek_ident("or") && matches!(self.toks.get(self.pos + 1), Some((Tok::Str(_), _)))
        {
            self.pos += 1;
            values.push(self.string()?);
        }
        let res = match op {
            LineOp::Regex | LineOp::NotRegex => values
                .iter()
                .map(|v| self.regex(v))
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        };
        let patterns = match op {
            LineOp::Pattern | LineOp::NotPattern => values
                .iter()
                .map(|v| super::pattern::Pattern::parse(v, false).map_err(|e| self.error(&e)))
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        };
        Ok(LineFilter {
            op,
            values,
            res,
            patterns,
        })
    }

    fn unwrap(&mut self) -> Result<Unwrap> {
        let first = self.ident("a label name")?;
        let kind = match first.as_str() {
            "duration" | "duration_seconds" if self.peek_op("(") => NumberKind::Duration,
            "bytes" if self.peek_op("(") => NumberKind::Bytes,
            _ => {
                return Ok(Unwrap {
                    label: first,
                    kind: NumberKind::Number,
                    post_filters: Vec::new(),
                });
            }
        };
        self.expect_op("(")?;
        let label = self.ident("a label name")?;
        self.expect_op(")")?;
        Ok(Unwrap {
            label,
            kind,
            post_filters: Vec::new(),
        })
    }

    fn stage(&mut self) -> Result<Stage> {
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            if self.peek_op("(") {
                return Ok(Stage::LabelFilter(self.label_filter_or()?));
            }
            return Err(self.unexpected("a parser, a label filter or a formatter"));
        };
        // A label filter starts with a name and an operator.
        if matches!(self.toks.get(self.pos + 1), Some((Tok::Op(o), _)) if is_filter_op(o)) {
            return Ok(Stage::LabelFilter(self.label_filter_or()?));
        }
        self.pos += 1;
        match name.as_str() {
            "json" => Ok(Stage::Json(self.json_params()?)),
            "logfmt" => self.logfmt(),
            "regexp" => {
                let re = self.string()?;
                let re = self.regex(&re)?;
                if re.capture_names().flatten().next().is_none() {
                    return Err(self.error("at least one named capture must be supplied"));
                }
                Ok(Stage::Regexp(re))
            }
            "decolorize" => Ok(Stage::Decolorize),
            "drop" => Ok(Stage::Drop(self.name_list()?)),
            "keep" => Ok(Stage::Keep(self.name_list()?)),
            "pattern" => {
                let text = self.string()?;
                let p = super::pattern::Pattern::parse(&text, true).map_err(|e| self.error(&e))?;
                Ok(Stage::Pattern(p))
            }
            "unpack" => Ok(Stage::Unpack),
            "line_format" => {
                let src = self.string()?;
                let t = Template::compile("line", &src).map_err(|e| {
                    let stage = format::stage_text(Some(&src), &[]);
                    stage_error(&stage, &format!("invalid line template: {e}"))
                })?;
                Ok(Stage::LineFormat(t))
            }
            "label_format" => self.label_format(),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a parser, a label filter or a formatter"))
            }
        }
    }

    /// `| label_format a=b, c="{{…}}"`: the entries, then Loki's checks of them.
    fn label_format(&mut self) -> Result<Stage> {
        // (dst, src as written: a name, or a template's text)
        let mut raw: Vec<format::RawLabelFmt> = Vec::new();
        loop {
            let dst = self.ident("IDENTIFIER")?;
            self.expect_op("=")?;
            let src = match self.peek() {
                Some(Tok::Str(s)) => Err(s.clone()),
                Some(Tok::Ident(i)) => Ok(i.clone()),
                _ => return Err(self.unexpected("IDENTIFIER or STRING")),
            };
            self.pos += 1;
            raw.push((dst, src));
            if !self.eat_op(",") {
                break;
            }
        }
        let stage = format::stage_text(None, &raw);
        format::check_destinations(raw.iter().map(|(d, _)| d.as_str()))
            .map_err(|e| stage_error(&stage, &e))?;
        let mut entries = Vec::with_capacity(raw.len());
        for (dst, src) in raw {
            entries.push(match src {
                Ok(src) => LabelFmt::Rename { dst, src },
                Err(text) => {
                    let tmpl = Template::compile("label", &text).map_err(|e| {
                        stage_error(&stage, &format!("invalid template for label '{dst}': {e}"))
                    })?;
                    LabelFmt::Template { dst, tmpl }
                }
            });
        }
        Ok(Stage::LabelFormat(entries))
    }

    fn json_params(&mut self) -> Result<Vec<(String, Vec<PathPart>)>> {
        let mut out = Vec::new();
        while matches!(self.peek(), Some(Tok::Ident(_)))
            && !matches!(self.toks.get(self.pos + 1), Some((Tok::Op(o), _)) if is_filter_op(o) && *o != "=")
        {
            let label = self.ident("a label name")?;
            let path = if self.eat_op("=") {
                let expr = self.string()?;
                parse_json_path(&expr)
                    .ok_or_else(|| self.error(&format!("invalid JSON path {expr:?}")))?
            } else {
                vec![PathPart::Key(label.clone())]
            };
            out.push((label, path));
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(out)
    }

    fn logfmt(&mut self) -> Result<Stage> {
        let (mut strict, mut keep_empty) = (false, false);
        while let Some(Tok::Flag(f)) = self.peek().cloned() {
            match f.as_str() {
                "strict" => strict = true,
                "keep-empty" => keep_empty = true,
                _ => return Err(self.error(&format!("invalid logfmt flag --{f}"))),
            }
            self.pos += 1;
        }
        let mut fields = Vec::new();
        while matches!(self.peek(), Some(Tok::Ident(_)))
            && !matches!(self.toks.get(self.pos + 1), Some((Tok::Op(o), _)) if is_filter_op(o) && *o != "=")
        {
            let label = self.ident("a label name")?;
            let key = if self.eat_op("=") {
                self.string()?
            } else {
                label.clone()
            };
            fields.push((label, key));
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(Stage::Logfmt {
            strict,
            keep_empty,
            fields,
        })
    }

    fn name_list(&mut self) -> Result<Vec<(String, Option<Matcher>)>> {
        let mut out = Vec::new();
        loop {
            let name = self.ident("a label name")?;
            let m = match self.peek() {
                Some(Tok::Op("=" | "!=" | "=~" | "!~")) => {
                    let op = self.match_op()?;
                    let value = self.string()?;
                    Some(self.matcher(name.clone(), op, value)?)
                }
                _ => None,
            };
            out.push((name, m));
            if !self.eat_op(",") {
                return Ok(out);
            }
        }
    }

    fn label_filter_or(&mut self) -> Result<LabelFilter> {
        self.enter()?;
        let mut lhs = self.label_filter_and()?;
        while self.peek_ident("or") {
            self.pos += 1;
            let rhs = self.label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// `and` binds tighter than `or`; a `,` or a space joins what follows whole, as
    /// Loki's grammar reads it: `a, b or c` is `a and (b or c)`.
    fn label_filter_and(&mut self) -> Result<LabelFilter> {
        let mut lhs = self.label_filter_atom()?;
        loop {
            if self.eat_ident("and") {
                let rhs = self.label_filter_atom()?;
                lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
                continue;
            }
            let comma = self.eat_op(",");
            let implicit = matches!(self.peek(), Some(Tok::Ident(_)))
                && matches!(self.toks.get(self.pos + 1), Some((Tok::Op(o), _)) if is_filter_op(o));
            if !comma && !implicit {
                return Ok(lhs);
            }
            let rhs = self.label_filter_or()?;
            return Ok(LabelFilter::And(Box::new(lhs), Box::new(rhs)));
        }
    }

    fn label_filter_atom(&mut self) -> Result<LabelFilter> {
        if self.eat_op("(") {
            let f = self.label_filter_or()?;
            self.expect_op(")")?;
            return Ok(f);
        }
        let name = self.ident("a label name")?;
        let op = match self.peek() {
            Some(Tok::Op(o)) if is_filter_op(o) => *o,
            _ => return Err(self.unexpected("a comparison operator")),
        };
        self.pos += 1;
        let cmp = match op {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Neq,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            _ => CmpOp::Eq,
        };
        let negative = self.eat_op("-");
        if !negative {
            self.eat_op("+");
        }
        let sign = if negative { -1.0 } else { 1.0 };
        match self.peek().cloned() {
            Some(Tok::Str(s)) if !negative && matches!(op, "=" | "==" | "!=" | "=~" | "!~") => {
                self.pos += 1;
                let mop = match op {
                    "!=" => MatchOp::Neq,
                    "=~" => MatchOp::Re,
                    "!~" => MatchOp::Nre,
                    _ => MatchOp::Eq,
                };
                Ok(LabelFilter::String(self.matcher(name, mop, s)?))
            }
            Some(Tok::Number(n)) if !matches!(op, "=~" | "!~") => {
                self.pos += 1;
                Ok(LabelFilter::Number {
                    name,
                    op: cmp,
                    value: sign * n,
                    kind: NumberKind::Number,
                })
            }
            Some(Tok::Unit(u)) if !matches!(op, "=~" | "!~") => {
                let (value, kind) = if let Some(s) = parse_duration_seconds(&u) {
                    (s, NumberKind::Duration)
                } else if let Some(b) = parse_bytes(&u) {
                    (b, NumberKind::Bytes)
                } else {
                    return Err(self.error(&format!("invalid duration or byte size {u:?}")));
                };
                self.pos += 1;
                Ok(LabelFilter::Number {
                    name,
                    op: cmp,
                    value: sign * value,
                    kind,
                })
            }
            _ => Err(self.unexpected("a string, a number, a duration or a byte size")),
        }
    }
}

fn is_filter_op(o: &str) -> bool {
    matches!(o, "=" | "==" | "!=" | "=~" | "!~" | ">" | ">=" | "<" | "<=")
}

/// `a.b[0]["c d"]`: keys separated by dots, indexes and quoted keys in brackets.
fn parse_json_path(expr: &str) -> Option<Vec<PathPart>> {
    let mut out = Vec::new();
    let mut rest = expr;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            if let Some(q) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                out.push(PathPart::Key(q.to_string()));
            } else {
                out.push(PathPart::Index(inner.trim().parse().ok()?));
            }
            rest = &r[end + 1..];
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push(PathPart::Key(r[..end].to_string()));
            rest = &r[end..];
        }
    }
    (!out.is_empty()).then_some(out)
}
