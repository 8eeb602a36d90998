//! The query crate's error type, mapped once to HTTP status and Prometheus `errorType`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query or a parameter is malformed (Prometheus `bad_data`, 400).
    #[error("{0}")]
    BadData(String),
    /// The query is valid but failed while running (Prometheus `execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// It ran out of time (Prometheus `timeout`, 503).
    #[error("query timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("{0}")]
    NotFound(String),
    /// Something is wrong on our side (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    pub fn status(&self) -> StatusCode {
        match self {
            QueryError::BadData(_) => StatusCode::BAD_REQUEST,
            QueryError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            QueryError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            QueryError::NotFound(_) => StatusCode::NOT_FOUND,
            QueryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Prometheus' `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::NotFound(_) => "not_found",
            QueryError::Internal(_) => "internal",
        }
    }
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        match e {
            D::SQL(..) | D::Plan(_) | D::SchemaError(..) | D::NotImplemented(_) => {
                QueryError::BadData(e.to_string())
            }
            D::Context(ctx, inner) => match QueryError::from(*inner) {
                QueryError::BadData(m) => QueryError::BadData(format!("{ctx}: {m}")),
                QueryError::Execution(m) => QueryError::Execution(format!("{ctx}: {m}")),
                other => other,
            },
            D::ResourcesExhausted(_) | D::Execution(_) | D::ArrowError(..) => {
                QueryError::Execution(e.to_string())
            }
            other => QueryError::Internal(other.to_string()),
        }
    }
}

/// Prometheus' error shape, used by every query endpoint that has no shape of its own.
impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        if matches!(self, QueryError::Internal(_)) {
            tracing::error!(error = %self, "query failed");
        }
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.error_type(),
            "error": self.to_string(),
        });
        (self.status(), axum::Json(body)).into_response()
    }
}
