//! The evaluator's errors; `osprey-query` maps them to Prometheus' error types.

#[derive(Debug, thiserror::Error)]
pub enum PromqlError {
    /// The query does not parse (Prometheus `bad_data`).
    #[error("{0}")]
    Parse(String),
    /// Valid syntax that this evaluator (or Prometheus 2.42) does not accept (`bad_data`).
    #[error("{0}")]
    Unsupported(String),
    /// The query failed while running (Prometheus `execution`).
    #[error("{0}")]
    Execution(String),
    /// A limit was reached (Prometheus `execution`, its own messages).
    #[error("{0}")]
    Limit(String),
    /// The deadline passed (Prometheus `timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
}

pub type Result<T> = std::result::Result<T, PromqlError>;

pub(crate) fn exec(msg: impl Into<String>) -> PromqlError {
    PromqlError::Execution(msg.into())
}
