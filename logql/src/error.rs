//! The one error type of the log query languages: every variant is the asker's fault
//! (the query surfaces answer 400) and says what is wrong with the query.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LogQueryError {
    /// The query does not follow the grammar; the message names the offending part.
    #[error("{0}")]
    Syntax(String),
    /// A LogQL pipeline left an error label on a sample (Loki's `pipeline error`).
    #[error("{0}")]
    Pipeline(String),
    /// Parentheses, operators and NOTs nest deeper than the parser allows.
    #[error("query is nested too deeply: more than {max} levels of parentheses, operators and NOT")]
    TooDeep { max: usize },
}

impl LogQueryError {
    pub(crate) fn syntax(msg: impl Into<String>) -> Self {
        LogQueryError::Syntax(msg.into())
    }
}
