//! The search language's grammar: precedence climbing over the lexer's tokens, with
//! the nesting bound checked before each level of recursion.

use super::Expr;
use super::lex::{Tok, lex};
use crate::LogQueryError;
use crate::level::{LEVELS, level_named};
use crate::tokens::tokens;

/// Most levels of parentheses and NOT (`-`) a query may nest. The parser, matching,
/// and the index query all recurse once per level (the parser four frames per
/// parenthesis), on 2 MiB stacks.
///
/// Measured against the debug build on `/api/v1/logs/search` (last depth that worked /
/// first that crashed): nested parentheses 600/601, `NOT ` repeated 5181/5182. 100 is
/// a sixth of the first.
pub const MAX_DEPTH: usize = 100;

/// Parses a query.
pub fn parse(q: &str) -> Result<Expr, LogQueryError> {
    let toks = lex(q)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Ok(Expr::All);
    }
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(LogQueryError::Syntax(format!(
            "unexpected {} in query",
            describe(&p.toks[p.pos])
        )));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Phrase(p) => format!("\"{p}\""),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Minus => "'-'".into(),
        Tok::Field(f, op) => format!("{f}{op}"),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Open parentheses and NOTs around the current position.
    depth: usize,
}

impl Parser {
    /// One level deeper, refused past [`MAX_DEPTH`] before recursing.
    fn enter(&mut self) -> Result<(), LogQueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LogQueryError::TooDeep { max: MAX_DEPTH });
        }
        Ok(())
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, LogQueryError> {
        let mut xs = vec![self.and()?];
        while self.is_word("OR") {
            self.pos += 1;
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn and(&mut self) -> Result<Expr, LogQueryError> {
        let mut xs = vec![self.unary()?];
        loop {
            if self.is_word("AND") {
                self.pos += 1;
                xs.push(self.unary()?);
            } else if self.peek().is_some()
                && !self.is_word("OR")
                && self.peek() != Some(&Tok::RParen)
            {
                xs.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn unary(&mut self) -> Result<Expr, LogQueryError> {
        if self.is_word("NOT") || self.peek() == Some(&Tok::Minus) {
            self.pos += 1;
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, LogQueryError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err(LogQueryError::syntax(
                "query ends where a term was expected",
            ));
        };
        self.pos += 1;
        match t {
            Tok::LParen => {
                self.enter()?;
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(LogQueryError::syntax("missing ')' in query"));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Tok::RParen => Err(LogQueryError::syntax("unexpected ')' in query")),
            Tok::Minus => Err(LogQueryError::syntax("unexpected '-' in query")),
            Tok::Phrase(p) => body_term(&p, false),
            Tok::Word(w) => match w.strip_suffix('*') {
                Some(prefix) => body_term(prefix, true),
                None => body_term(&w, false),
            },
            Tok::Field(field, op) => {
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Word(v)) | Some(Tok::Phrase(v)) => {
                        self.pos += 1;
                        v
                    }
                    _ => {
                        return Err(LogQueryError::Syntax(format!("{field}{op} needs a value")));
                    }
                };
                field_expr(&field, op, &value)
            }
        }
    }
}

fn body_term(text: &str, prefix: bool) -> Result<Expr, LogQueryError> {
    let t = tokens(text);
    if t.is_empty() {
        return Err(LogQueryError::Syntax(format!(
            "search term {text:?} has no letters or digits; terms match whole words"
        )));
    }
    if prefix {
        if t.len() != 1 {
            return Err(LogQueryError::Syntax(format!(
                "wildcard term {text:?}*: a prefix must be one word"
            )));
        }
        return Ok(Expr::Prefix(t[0].clone()));
    }
    Ok(Expr::Tokens(t))
}

fn field_expr(field: &str, op: &str, value: &str) -> Result<Expr, LogQueryError> {
    let equality = op == ":" || op == "=";
    match field {
        "service" if equality => Ok(Expr::Service(value.to_string())),
        "severity" | "level" => {
            let l = level_named(value).ok_or_else(|| {
                LogQueryError::Syntax(format!(
                    "unknown severity {value:?}; expected one of {}",
                    LEVELS.join(", ")
                ))
            })?;
            let (min, max) = match op {
                ":" | "=" => (l, l),
                ">=" => (l, 6),
                ">" => (l + 1, 6),
                "<=" => (1, l),
                _ => (1, l.saturating_sub(1)),
            };
            Ok(Expr::Levels { min, max })
        }
        "trace_id" if equality => Ok(Expr::TraceId(value.to_string())),
        "span_id" if equality => Ok(Expr::SpanId(value.to_string())),
        _ if equality => Ok(Expr::Attr {
            key: field.to_string(),
            value: value.to_string(),
        }),
        _ => Err(LogQueryError::Syntax(format!(
            "{field}{op}{value}: only severity compares with {op}; use {field}:{value}"
        ))),
    }
}
