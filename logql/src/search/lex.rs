//! Cutting a search query into words, phrases, parentheses, `-` and `field<op>`.

use crate::LogQueryError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Phrase(String),
    LParen,
    RParen,
    Minus,
    /// `field` + operator (`:`, `=`, `>=`, `>`, `<=`, `<`).
    Field(String, &'static str),
}

pub(super) fn lex(q: &str) -> Result<Vec<Tok>, LogQueryError> {
    let mut out = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == '-' && out_allows_prefix(&chars, i) {
            out.push(Tok::Minus);
            i += 1;
        } else if c == '"' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|c| *c == '"')
                .ok_or_else(|| LogQueryError::syntax("unterminated \"phrase\" in query"))?;
            out.push(Tok::Phrase(chars[start..start + end].iter().collect()));
            i = start + end + 1;
        } else {
            let start = i;
            let mut field = None;
            while i < chars.len() && !chars[i].is_whitespace() && !"()\"".contains(chars[i]) {
                // `field:`, `field>=` …: an identifier, then an operator.
                if let Some(op) = operator_at(&chars, i)
                    && i > start
                    && chars[start..i]
                        .iter()
                        .all(|c| c.is_alphanumeric() || "_.-".contains(*c))
                {
                    field = Some((chars[start..i].iter().collect::<String>(), op));
                    i += op.len();
                    break;
                }
                i += 1;
            }
            match field {
                Some((f, op)) => {
                    out.push(Tok::Field(f, op));
                    // The value: a phrase (next round) or everything up to a space.
                    if chars
                        .get(i)
                        .is_some_and(|c| *c != '"' && !c.is_whitespace())
                    {
                        let v = i;
                        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ')' {
                            i += 1;
                        }
                        out.push(Tok::Word(chars[v..i].iter().collect()));
                    }
                }
                None => out.push(Tok::Word(chars[start..i].iter().collect())),
            }
        }
    }
    Ok(out)
}

/// `-x` is "not x" at the start of a word (not inside `a-b`).
fn out_allows_prefix(chars: &[char], i: usize) -> bool {
    (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(')
        && chars.get(i + 1).is_some_and(|c| !c.is_whitespace())
}

fn operator_at(chars: &[char], i: usize) -> Option<&'static str> {
    match (chars[i], chars.get(i + 1)) {
        ('>', Some('=')) => Some(">="),
        ('<', Some('=')) => Some("<="),
        ('>', _) => Some(">"),
        ('<', _) => Some("<"),
        ('=', _) => Some("="),
        (':', _) => Some(":"),
        _ => None,
    }
}
