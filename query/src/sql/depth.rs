//! The nesting bound of `/api/v1/sql` statements, checked on the tokens before
//! DataFusion parses anything.
//!
//! sqlparser, its `Expr` visitor (which DataFusion runs to resolve table references),
//! DataFusion's planner and optimizer all recurse over the statement's tree on a 2 MiB
//! stack, and DataFusion's own parser recursion limit (50) does not cover operator
//! chains, which sqlparser builds in a loop: `SELECT 1 + 1 + … + 1` with 1,000 terms
//! aborted the process. [`check`] tokenizes with sqlparser's tokenizer and the
//! session's dialect (strings, quoted identifiers, `E'…'`, nested comments as the
//! parser sees them) and, without recursion, bounds the cost of the deepest path:
//!
//! * along a path of brackets, each bracket costs its [`Group`] weight;
//! * inside one bracket group, an expression (the text between commas and clause
//!   keywords) costs its `OR`s, plus the costliest `OR` operand's `AND`s, plus the
//!   costliest `AND` operand's other operators, plus its costliest bracket: a chain of
//!   `n` operators is at most `n` levels deep however precedence groups it, and a
//!   `WHERE` clause of `k` conditions costs `k - 1` plus one condition;
//! * relations nest across the whole statement (a chain of joins, CTEs referring to
//!   each other, set operations, subqueries decorrelated into joins), so every
//!   subquery, join and set operator adds its [`relation`] weight once, to every path.
//!
//! The weights are measured: each is at least the stack one level of that construct
//! takes, in units of one level of a `+` chain (see [`MAX_DEPTH`]).

use datafusion::sql::sqlparser::dialect::dialect_from_str;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::QueryError;

/// Most levels a statement may nest, in units of one level of an operator chain.
///
/// Measured against the debug build (2 MiB tokio worker stacks; last depth that
/// worked / first that crashed): `1 + 1 + …`, `OR`, `AND`, `||` chains 81/82 (the
/// overflow is in sqlparser's `Expr` visitor, about 23 KB a level); `UNION ALL` 77/78;
/// `NOT` 20/21; unary `-` 28/29; `abs(` 16/17; `1 + (` 21/22; `CASE WHEN` 19/20;
/// `::int` 30/31; `IS NULL` 32/33; `LIKE` 30/31; `BETWEEN` 32/33; scalar subqueries
/// 13/14; `EXISTS` 12/13; `IN (SELECT` 14/15; derived tables 9/10; `JOIN` 38/39; comma
/// joins 56/57; CTEs referring to the previous one 35/36. With the weights below,
/// 64 stays at or below 82% of every one of them (at or below 70% for all but chains
/// of plain operators).
pub const MAX_DEPTH: usize = 64;

/// A binary operator that DataFusion plans without recursion (`+`, `AND`, `=`, `||`, …).
const OPERATOR: usize = 1;
/// `NOT`, unary `-`/`+`.
const UNARY: usize = 4;
/// `IS`, `IN`, `LIKE`, `BETWEEN`, `::`, `COLLATE`, …, and operators not known to be
/// cheap.
const SPECIAL: usize = 3;

/// What a statement's relations add to every path.
mod relation {
    /// A subquery (its bracket also counts on the path, as [`super::Group::Subquery`]).
    pub const SUBQUERY: usize = 3;
    pub const JOIN: usize = 3;
    /// A comma between the tables of a `FROM` clause.
    pub const COMMA_JOIN: usize = 2;
    /// `UNION`, `INTERSECT`, `EXCEPT`.
    pub const SET_OPERATOR: usize = 1;
}

/// A bracket group.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Group {
    /// The statement itself.
    Top,
    /// `( … )` around an expression, a list or a join.
    Paren,
    /// `f( … )`: a function call's arguments.
    Call,
    /// `(SELECT …)`, `(WITH …)`, `(VALUES …)`.
    Subquery,
    /// `[ … ]`, `{ … }`.
    Bracket,
    /// `CASE … END`.
    Case,
}

impl Group {
    fn weight(self) -> usize {
        match self {
            Group::Top => 0,
            Group::Paren | Group::Bracket => 3,
            Group::Call | Group::Case => 5,
            Group::Subquery => 6,
        }
    }

    fn closed_by(self, t: &Token) -> bool {
        match self {
            Group::Paren | Group::Call | Group::Subquery => *t == Token::RParen,
            Group::Bracket => matches!(t, Token::RBracket | Token::RBrace),
            Group::Case => is_keyword(t, Keyword::END),
            Group::Top => false,
        }
    }
}

/// One open group: the costliest finished expression, and the current one's
/// `OR`/`AND` tiers (see the module docs).
struct Frame {
    group: Group,
    best: usize,
    ors: usize,
    or_best: usize,
    ands: usize,
    and_best: usize,
    others: usize,
    operand: usize,
    /// Between `FROM` and the next clause: a comma joins.
    in_from: bool,
    /// `BETWEEN`s whose `AND` is still to come: that `AND` is not boolean.
    betweens: usize,
}

impl Frame {
    fn new(group: Group) -> Self {
        Frame {
            group,
            best: 0,
            ors: 0,
            or_best: 0,
            ands: 0,
            and_best: 0,
            others: 0,
            operand: 0,
            in_from: false,
            betweens: 0,
        }
    }

    fn end_and_operand(&mut self) {
        self.and_best = self.and_best.max(self.others.saturating_add(self.operand));
        self.others = 0;
        self.operand = 0;
    }

    fn end_or_operand(&mut self) {
        self.end_and_operand();
        self.or_best = self.or_best.max(self.ands.saturating_add(self.and_best));
        self.ands = 0;
        self.and_best = 0;
    }

    fn end_expr(&mut self) {
        self.end_or_operand();
        self.best = self.best.max(self.ors.saturating_add(self.or_best));
        self.ors = 0;
        self.or_best = 0;
        self.betweens = 0;
    }

    /// The group's cost as an operand of the group around it.
    fn cost(mut self) -> usize {
        self.end_expr();
        self.best.saturating_add(self.group.weight())
    }
}

struct Scan {
    /// Never empty: the bottom is [`Group::Top`].
    stack: Vec<Frame>,
    relations: usize,
    /// The previous token ends an operand: a `-` or `+` now is binary, a `(` a call.
    after_operand: bool,
}

impl Scan {
    fn top(&mut self) -> &mut Frame {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn operator(&mut self, weight: usize) {
        let f = self.top();
        f.others = f.others.saturating_add(weight);
        self.after_operand = false;
    }

    fn open(&mut self, group: Group) {
        if group == Group::Subquery {
            self.relations = self.relations.saturating_add(relation::SUBQUERY);
        }
        self.stack.push(Frame::new(group));
        self.after_operand = false;
    }

    /// Closes the innermost group `t` closes, and any unclosed ones inside it; a
    /// closing token that matches no open group is left to the parser.
    fn close(&mut self, t: &Token) {
        let Some(at) = self.stack.iter().rposition(|f| f.group.closed_by(t)) else {
            return;
        };
        while self.stack.len() > at {
            self.fold();
        }
        self.after_operand = true;
    }

    /// Ends the innermost group: its cost is an operand of the one around it.
    fn fold(&mut self) {
        if self.stack.len() < 2 {
            return;
        }
        if let Some(inner) = self.stack.pop() {
            let cost = inner.cost();
            let outer = self.top();
            outer.operand = outer.operand.max(cost);
        }
    }

    /// An expression ends (comma, clause keyword); `from` says whether a `FROM`
    /// clause begins (`Some(true)`) or ends (`Some(false)`).
    fn boundary(&mut self, from: Option<bool>) {
        let f = self.top();
        f.end_expr();
        if let Some(b) = from {
            f.in_from = b;
        }
        self.after_operand = false;
    }

    fn token(&mut self, t: &Token, next: Option<&Token>) {
        match t {
            Token::LParen => {
                let subquery = next.is_some_and(|n| {
                    [
                        Keyword::SELECT,
                        Keyword::WITH,
                        Keyword::VALUES,
                        Keyword::FROM,
                    ]
                    .iter()
                    .any(|k| is_keyword(n, *k))
                });
                let group = match (subquery, self.after_operand) {
                    (true, _) => Group::Subquery,
                    (false, true) => Group::Call,
                    (false, false) => Group::Paren,
                };
                self.open(group);
            }
            Token::LBracket | Token::LBrace => self.open(Group::Bracket),
            Token::RParen | Token::RBracket | Token::RBrace => self.close(t),
            Token::Comma => {
                if self.top().in_from {
                    self.relations = self.relations.saturating_add(relation::COMMA_JOIN);
                }
                self.boundary(None);
            }
            Token::SemiColon => self.boundary(Some(false)),
            Token::Plus | Token::Minus if !self.after_operand => self.operator(UNARY),
            Token::Word(w) if w.quote_style.is_none() => self.keyword(t, w.keyword),
            Token::Period | Token::Colon => self.after_operand = false,
            t if is_operand(t) => self.after_operand = true,
            t if is_cheap_operator(t) => self.operator(OPERATOR),
            _ => self.operator(SPECIAL),
        }
    }

    fn keyword(&mut self, t: &Token, k: Keyword) {
        use Keyword as K;
        match k {
            K::AND if self.top().betweens > 0 => {
                self.top().betweens -= 1;
                self.after_operand = false;
            }
            K::BETWEEN => {
                self.top().betweens += 1;
                self.operator(SPECIAL);
            }
            K::AND => {
                let f = self.top();
                f.end_and_operand();
                f.ands = f.ands.saturating_add(OPERATOR);
                self.after_operand = false;
            }
            K::OR => {
                let f = self.top();
                f.end_or_operand();
                f.ors = f.ors.saturating_add(OPERATOR);
                self.after_operand = false;
            }
            K::XOR | K::DIV => self.operator(OPERATOR),
            K::NOT => self.operator(UNARY),
            K::IS
            | K::IN
            | K::LIKE
            | K::ILIKE
            | K::SIMILAR
            | K::REGEXP
            | K::RLIKE
            | K::OVERLAPS
            | K::AT
            | K::COLLATE
            | K::NOTNULL
            | K::MEMBER
            | K::OPERATOR
            | K::ESCAPE => self.operator(SPECIAL),
            K::CASE => self.open(Group::Case),
            K::END => self.close(t),
            K::UNION | K::INTERSECT | K::EXCEPT => {
                self.relations = self.relations.saturating_add(relation::SET_OPERATOR);
                self.boundary(Some(false));
            }
            K::JOIN => {
                self.relations = self.relations.saturating_add(relation::JOIN);
                self.boundary(None);
            }
            K::FROM => self.boundary(Some(true)),
            K::SELECT
            | K::WHERE
            | K::GROUP
            | K::HAVING
            | K::ORDER
            | K::LIMIT
            | K::OFFSET
            | K::WINDOW
            | K::QUALIFY => self.boundary(Some(false)),
            K::ON
            | K::USING
            | K::AS
            | K::BY
            | K::WHEN
            | K::THEN
            | K::ELSE
            | K::WITH
            | K::VALUES => self.boundary(None),
            // An identifier, a function's or type's name, TRUE, NULL, …
            _ => self.after_operand = true,
        }
    }
}

fn is_keyword(t: &Token, k: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.keyword == k)
}

/// A literal, a quoted identifier or a placeholder.
fn is_operand(t: &Token) -> bool {
    matches!(
        t,
        Token::Word(_)
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
    )
}

/// Operators sqlparser makes a `BinaryOp` of, which DataFusion plans with an explicit
/// stack rather than recursion.
fn is_cheap_operator(t: &Token) -> bool {
    matches!(
        t,
        Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::DuckIntDiv
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Spaceship
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret
            | Token::ShiftLeft
            | Token::ShiftRight
            | Token::Tilde
            | Token::TildeAsterisk
            | Token::ExclamationMarkTilde
            | Token::ExclamationMarkTildeAsterisk
            | Token::DoubleTilde
            | Token::DoubleTildeAsterisk
            | Token::ExclamationMarkDoubleTilde
            | Token::ExclamationMarkDoubleTildeAsterisk
    )
}

/// The cost of the statement's deepest path (see the module docs), or `None` when it
/// does not tokenize (the parser then refuses it with the tokenizer's message, before
/// any recursion).
pub fn depth(dialect: &str, sql: &str) -> Option<usize> {
    let dialect = dialect_from_str(dialect)?;
    let tokens = Tokenizer::new(dialect.as_ref(), sql).tokenize().ok()?;
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    let mut scan = Scan {
        stack: vec![Frame::new(Group::Top)],
        relations: 0,
        after_operand: false,
    };
    for (i, t) in tokens.iter().enumerate() {
        scan.token(t, tokens.get(i + 1));
    }
    while scan.stack.len() > 1 {
        scan.fold();
    }
    let top = scan.stack.pop().map_or(0, Frame::cost);
    Some(scan.relations.saturating_add(top))
}

/// Refuses a statement that may nest deeper than [`MAX_DEPTH`]; `dialect` is the
/// session's (`datafusion.sql_parser.dialect`).
pub fn check(dialect: &str, sql: &str) -> Result<(), QueryError> {
    match depth(dialect, sql) {
        Some(d) if d > MAX_DEPTH => Err(QueryError::BadData(format!(
            "query is nested too deeply: more than {MAX_DEPTH} levels of operators and \
             parentheses (a function call, CASE, NOT, subquery or join counts as several)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "depth_tests.rs"]
mod tests;
