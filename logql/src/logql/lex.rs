//! Cutting a LogQL query into tokens, each with its byte offset for error positions.

use super::syntax_error;
use crate::LogQueryError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name: label, function, keyword (`by`, `json`, `and`, …).
    Ident(String),
    /// `"…"` with Go's escapes, or a `` `raw` `` string.
    Str(String),
    Number(f64),
    /// A number with a unit: `5m`, `1h30m`, `250ms`, `10KB`, `1.5GiB`.
    Unit(String),
    /// Punctuation and operators: `{ } ( ) [ ] , = != =~ !~ |= |~ |> !> | == > >= < <= + - * / % ^`.
    Op(&'static str),
    /// `--strict`, `--keep-empty`: a parser flag.
    Flag(String),
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("IDENTIFIER {s}"),
            Tok::Str(s) => format!("STRING {s:?}"),
            Tok::Number(n) => format!("NUMBER {n}"),
            Tok::Unit(s) => format!("DURATION {s}"),
            Tok::Op(o) => format!("{o:?}"),
            Tok::Flag(f) => format!("FLAG --{f}"),
        }
    }
}

/// Longest first, so `!=` is not read as `!` then `=`.
const OPS: &[&str] = &[
    "!=", "=~", "!~", "|=", "|~", "|>", "!>", "==", ">=", "<=", "{", "}", "(", ")", "[", "]", ",",
    "=", "|", ">", "<", "+", "-", "*", "/", "%", "^",
];

pub(super) fn lex(q: &str) -> Result<Vec<(Tok, usize)>, LogQueryError> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' {
            // A comment to the end of the line.
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'"' {
            let (s, end) = quoted(q, i)?;
            out.push((Tok::Str(s), i));
            i = end;
        } else if c == b'`' {
            let end = q[i + 1..]
                .find('`')
                .ok_or_else(|| syntax_error(q, i, "unterminated raw string"))?;
            out.push((Tok::Str(q[i + 1..i + 1 + end].to_string()), i));
            i += end + 2;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (t, end) = number(q, i)?;
            out.push((t, i));
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(q[start..i].to_string()), start));
        } else if q[i..].starts_with("--") && b.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
            let start = i;
            i += 2;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Flag(q[start + 2..i].to_string()), start));
        } else if let Some(op) = OPS.iter().find(|op| q[i..].starts_with(**op)) {
            out.push((Tok::Op(op), i));
            i += op.len();
        } else {
            let ch = q[i..].chars().next().unwrap_or('?');
            return Err(syntax_error(q, i, &format!("unexpected character {ch:?}")));
        }
    }
    Ok(out)
}

/// A `"…"` string with Go's escapes; returns it and the offset after the closing quote.
fn quoted(q: &str, start: usize) -> Result<(String, usize), LogQueryError> {
    let mut out = String::new();
    let mut chars = q[start + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + j + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('\'') => out.push('\''),
                Some(other) => {
                    return Err(syntax_error(
                        q,
                        start + 1 + j,
                        &format!("invalid escape sequence \\{other} in string"),
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(syntax_error(q, start, "unterminated string"))
}

/// A number, or a number with a unit (`5m`, `1h30m`, `10KB`).
fn number(q: &str, start: usize) -> Result<(Tok, usize), LogQueryError> {
    let b = q.as_bytes();
    let mut i = start;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
        // An exponent's sign belongs to the number: `1e-3`.
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E') {
            let digits = &q[start..i - 1];
            if digits.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
                i += 1;
            }
        }
    }
    let text = &q[start..i];
    if let Ok(n) = text.parse::<f64>() {
        return Ok((Tok::Number(n), i));
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return Ok((Tok::Number(n as f64), i));
    }
    if text.bytes().any(|c| c.is_ascii_alphabetic()) {
        return Ok((Tok::Unit(text.to_string()), i));
    }
    Err(syntax_error(q, start, &format!("invalid number {text:?}")))
}
