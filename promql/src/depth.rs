//! The nesting bound every query text passes before it is parsed.
//!
//! promql-parser, [`crate::functions::check_supported`], [`crate::plan`] and the
//! evaluator all recurse once per level of the expression tree, on threads with 2 MiB
//! stacks, so a deep enough query would overflow the stack and abort the process.
//! [`check`] scans the text (no recursion, no allocation beyond one frame per open
//! bracket) and refuses a query whose tree could be deeper than [`MAX_DEPTH`].
//!
//! The bound counts, along any path from the top: each bracket (groups, function
//! calls, aggregations; a range or subquery `[…]` wraps what precedes it) and, inside
//! one bracket group between commas, every operator (binary or unary). A chain of `n` operators is at
//! most `n` levels deep however precedence groups it, so the count is an upper bound
//! of the tree's depth less one (the leaf).

use crate::error::{PromqlError, Result};

/// Most levels of brackets, function calls and operators a query may nest.
///
/// Measured against the debug build (2 MiB tokio worker and blocking-pool stacks; last
/// depth that worked / first that crashed): `abs(` 249/251, `sum(` 298/303,
/// `up + up + …` 537/547, `up and up and …` and `up ^ up ^ …` 547/548, unary `-`
/// 1425/1445, `(` 2187/2226, nested subqueries
/// `max_over_time(max_over_time(up[5m:1m])[5m:1m])` 131/132 (two levels each here: the
/// call and the range). 128 stays at or below half of every one of them.
pub const MAX_DEPTH: usize = 128;

/// One open bracket: the deepest finished comma-separated item so far, and the
/// current item's operator count and deepest operand.
#[derive(Default)]
struct Frame {
    best: usize,
    ops: usize,
    operand: usize,
    /// The opening bracket.
    open: u8,
}

impl Frame {
    fn end_item(&mut self) {
        self.best = self.best.max(self.ops + self.operand);
        self.ops = 0;
        self.operand = 0;
    }

    fn depth(mut self) -> usize {
        self.end_item();
        self.best
    }
}

/// The upper bound of the expression tree's depth (see the module docs).
pub fn depth(query: &str) -> usize {
    let b = query.as_bytes();
    let mut stack: Vec<Frame> = vec![Frame::default()];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'"' | b'\'' => i = skip_string(b, i, c),
            b'`' => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'`')
                    .map_or(b.len(), |p| i + p + 1)
            }
            b'#' => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p + 1)
            }
            b'(' | b'[' | b'{' => stack.push(Frame {
                open: c,
                ..Frame::default()
            }),
            b')' | b']' | b'}' => close(&mut stack),
            b',' => {
                if let Some(f) = stack.last_mut() {
                    f.end_item();
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => add_op(&mut stack),
            b'=' | b'!' | b'<' | b'>' | b'~' => {
                // One comparison: `==`, `!=`, `<=`, `>=`, `<`, `>` (`=~`, `!~` in matchers).
                while i < b.len() && b"=!<>~".contains(&b[i]) {
                    i += 1;
                }
                add_op(&mut stack);
            }
            c if c.is_ascii_digit() || c == b'.' => i = skip_number(b, i),
            c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let start = i - 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_:".contains(&b[i])) {
                    i += 1;
                }
                let word = &query[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(word))
                {
                    add_op(&mut stack);
                }
            }
            _ => {}
        }
    }
    // Unclosed brackets still count (the parser refuses them, after this check).
    while stack.len() > 1 {
        close(&mut stack);
    }
    stack.pop().map_or(0, Frame::depth)
}

/// Refuses a query that may nest deeper than [`MAX_DEPTH`].
pub fn check(query: &str) -> Result<()> {
    if depth(query) > MAX_DEPTH {
        return Err(PromqlError::Parse(format!(
            "query is nested too deeply: more than {MAX_DEPTH} levels of brackets, function calls and operators"
        )));
    }
    Ok(())
}

fn add_op(stack: &mut [Frame]) {
    if let Some(f) = stack.last_mut()
        && f.open != b'{'
    {
        f.ops += 1;
    }
}

/// Ends the innermost bracket: a group or call is an operand one level deeper than
/// its contents; a range or subquery `[…]` wraps the operand before it; label
/// matchers `{…}` belong to their selector (a leaf). A stray closing bracket is left
/// to the parser.
fn close(stack: &mut Vec<Frame>) {
    if stack.len() < 2 {
        return;
    }
    if let (Some(inner), Some(outer)) = (stack.pop(), stack.last_mut()) {
        outer.operand = match inner.open {
            b'[' => outer.operand.max(inner.depth()) + 1,
            b'{' => outer.operand,
            _ => outer.operand.max(inner.depth() + 1),
        };
    }
}

/// The index after a `"…"` or `'…'` string that began before `i` (backslash escapes).
fn skip_string(b: &[u8], mut i: usize, quote: u8) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The index after a number or duration (`1`, `.5`, `1e-5`, `0x1f`, `1h30m`) whose
/// first character is before `i`: an exponent's sign is not an operator.
fn skip_number(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let c = b[i];
        let exponent_sign = (c == b'+' || c == b'-')
            && b[i - 1].eq_ignore_ascii_case(&b'e')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign) {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    }

    fn chain(op: &str, n_ops: usize) -> String {
        vec!["up"; n_ops + 1].join(op)
    }

    #[test]
    fn counts_brackets_calls_and_operators() {
        assert_eq!(depth("up"), 0);
        assert_eq!(depth("up + up"), 1);
        assert_eq!(depth("abs(up)"), 1);
        assert_eq!(depth(&chain(" + ", 39)), 39);
        assert_eq!(depth("sum by (job) (rate(x{a=~\"b|c\", d!=\"e\"}[5m]))"), 3);
        // Operators in one argument do not add to the next one.
        assert_eq!(depth("clamp(up + up + up, 1, 2 * 3)"), 3);
        assert_eq!(depth("-up"), 1);
        assert_eq!(depth("1e-5 + 0x1f"), 1);
        assert_eq!(depth("up offset -5m"), 1);
        assert_eq!(depth("rate(up[5m])"), 2);
        assert_eq!(depth("up AND up Or up unless up"), 3);
        // Brackets and operators inside strings and comments are not code.
        assert_eq!(depth(r#"up{a="((((+++\"(("} # ((((+++"#), 0);
        assert_eq!(depth("label_replace(up, 'a', '((', `b\\`, '-')"), 1);
        assert_eq!(depth("max_over_time(max_over_time(up[5m:1m])[5m:1m])"), 4);
    }

    #[test]
    fn the_limit_is_accepted_and_one_more_refused() {
        for (open, close) in [("abs(", ")"), ("sum(", ")"), ("(", ")")] {
            assert!(
                check(&nested(open, "up", close, MAX_DEPTH)).is_ok(),
                "{open}"
            );
            let e = check(&nested(open, "up", close, MAX_DEPTH + 1)).unwrap_err();
            assert!(e.to_string().contains("more than 128 levels"), "{e}");
        }
        for op in [" + ", " and ", " ^ "] {
            assert!(check(&chain(op, MAX_DEPTH)).is_ok(), "{op}");
            assert!(check(&chain(op, MAX_DEPTH + 1)).is_err(), "{op}");
        }
        assert!(check(&format!("{}up", "-".repeat(MAX_DEPTH))).is_ok());
        assert!(check(&format!("{}up", "-".repeat(MAX_DEPTH + 1))).is_err());
    }

    #[test]
    fn the_crash_inputs_are_refused() {
        for q in [
            nested("abs(", "up", ")", 3000),
            chain(" + ", 9999),
            nested("sum(", "up", ")", 3000),
            format!("{}up", "-".repeat(10_000)),
            nested("(", "up", ")", 3000),
            nested("max_over_time(", "up", "[5m:1m])", 200),
            // Unclosed brackets count too.
            "(".repeat(10_000),
        ] {
            assert!(crate::parse(&q).is_err());
            assert!(check(&q).is_err());
        }
    }
}
