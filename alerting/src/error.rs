//! The alerting crate's error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AlertingError {
    /// A rule file cannot be read or is not valid; the message names the file.
    #[error("{file}: {message}")]
    RuleFile { file: String, message: String },
    /// A request's input is not acceptable (400); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A template does not parse or fails to run.
    #[error("{0}")]
    Template(String),
    #[error(transparent)]
    Query(#[from] osprey_query::QueryError),
    #[error(transparent)]
    Storage(#[from] osprey_storage::StorageError),
}
