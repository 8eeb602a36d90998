//! The query crate's error type, mapped once to HTTP status and Prometheus `errorType`.

use axum::http::StatusCode;

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
    /// It could not start now: the tenant's concurrent queries are all taken (503).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (403), e.g. change a built-in dashboard.
    #[error("{0}")]
    Forbidden(String),
    /// The request is stale: what it was based on changed (409).
    #[error("{0}")]
    Conflict(String),
    /// A change cannot be saved: the disk is full (507).
    #[error("{0}")]
    InsufficientStorage(String),
    /// Something is wrong on our side (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    pub fn status(&self) -> StatusCode {
        match self {
            QueryError::BadData(_) => StatusCode::BAD_REQUEST,
            QueryError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            QueryError::Timeout(_) | QueryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            QueryError::NotFound(_) => StatusCode::NOT_FOUND,
            QueryError::Forbidden(_) => StatusCode::FORBIDDEN,
            QueryError::Conflict(_) => StatusCode::CONFLICT,
            QueryError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            QueryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Prometheus' `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Unavailable(_) | QueryError::InsufficientStorage(_) => "unavailable",
            QueryError::NotFound(_) => "not_found",
            QueryError::Forbidden(_) => "forbidden",
            QueryError::Conflict(_) => "conflict",
            QueryError::Internal(_) => "internal",
        }
    }
}

/// Storage's answer to a read: a cluster's missing ingester, a stale view or a data
/// file gone from under the snapshot read is unavailable for now (503), what a role
/// cannot serve is the caller's to redirect (422 naming it), the rest is ours.
impl From<osprey_storage::StorageError> for QueryError {
    fn from(e: osprey_storage::StorageError) -> Self {
        use osprey_storage::StorageError as S;
        match e {
            S::Unreachable { .. } | S::StaleSnapshot { .. } | S::Closed(_) => {
                QueryError::Unavailable(e.to_string())
            }
            S::ObjectStore { path, source }
                if matches!(*source, datafusion::object_store::Error::NotFound { .. }) =>
            {
                file_gone(&path)
            }
            S::Unsupported(m) => QueryError::Execution(m),
            other => QueryError::Internal(other.client_message()),
        }
    }
}

/// What arrow's regexp kernels and datafusion-functions write when a regex fails to
/// compile; they keep only the text of the `regex::Error`.
const REGEX_FAILED: &str = "Regular expression did not compile";

/// Why a regular expression of the query did not compile (invalid, or larger than the
/// regex crate's size limit), if that is what failed: the caller's error, not ours.
/// The error's source chain is searched by type: DataFusion keeps a `regex::Error` or
/// `regex_syntax::Error` as such (`External`; the optimizer parses literal patterns
/// with regex-syntax). Only strings are left in two places, matched on
/// [`REGEX_FAILED`]: arrow's `ArrowError::ComputeError`, and DataFusion's `~` kernel,
/// which turns that error into `DataFusionError::Internal("failed to call
/// 'regex_match_dyn_scalar' …")`.
fn bad_regex(e: &datafusion::error::DataFusionError) -> Option<String> {
    use arrow::error::ArrowError;
    use datafusion::error::DataFusionError as D;
    let from_text = |m: &str| m.find(REGEX_FAILED).map(|i| m[i..].to_string());
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(r) = x.downcast_ref::<regex::Error>() {
            return Some(r.to_string());
        }
        if let Some(r) = x.downcast_ref::<regex_syntax::Error>() {
            return Some(r.to_string());
        }
        if let Some(ArrowError::ComputeError(m)) = x.downcast_ref::<ArrowError>()
            && let Some(found) = from_text(m)
        {
            return Some(found);
        }
        if let Some(D::Internal(m)) = x.downcast_ref::<D>()
            && let Some(found) = from_text(m)
        {
            return Some(found);
        }
        cur = x.source();
    }
    None
}

/// A data file the query's snapshot lists is not in the store: the snapshot is older
/// than the store (503); a retry reads a newer one.
fn file_gone(path: &str) -> QueryError {
    QueryError::Unavailable(format!(
        "data file {path} is gone: {}; retry the query",
        crate::sql::GONE
    ))
}

/// The object a scan did not find, if that is what failed: a data file the query's
/// snapshot lists that left the store (`sql/listed_files.rs`). Its cause is found by
/// type anywhere in the source chain (DataFusion, arrow and Parquet wrap it).
fn missing_object(e: &datafusion::error::DataFusionError) -> Option<String> {
    use datafusion::object_store::Error as O;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(O::NotFound { path, .. }) = x.downcast_ref::<O>() {
            return Some(path.clone());
        }
        cur = x.source();
    }
    None
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        if let Some(why) = bad_regex(&e) {
            return QueryError::BadData(format!("invalid regular expression: {why}"));
        }
        if let Some(path) = missing_object(&e) {
            // The snapshot the query read is older than the store: retry reads a newer.
            return file_gone(&path);
        }
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

/// Every log-language error is the asker's: 400 with the parser's message; a LogQL
/// pipeline error (a line a parser could not read, left unfiltered) arises while the
/// query runs (422, as Prometheus' `execution`).
impl From<osprey_logql::LogQueryError> for QueryError {
    fn from(e: osprey_logql::LogQueryError) -> Self {
        match e {
            osprey_logql::LogQueryError::Pipeline(m) => QueryError::Execution(m),
            e => QueryError::BadData(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::error::ArrowError;
    use datafusion::error::DataFusionError as D;
    use datafusion::parquet::errors::ParquetError;

    use super::*;

    fn too_big() -> ArrowError {
        ArrowError::ComputeError(
            "Regular expression did not compile: CompiledTooBig(10485760)".into(),
        )
    }

    #[test]
    fn regexes_that_do_not_compile_are_bad_input() {
        let pattern = String::from("(a");
        let invalid = || regex::Regex::new(&pattern).unwrap_err();
        for e in [
            D::External(Box::new(invalid())),
            D::ArrowError(Box::new(too_big()), None),
            D::Context("filter".into(), Box::new(D::External(Box::new(invalid())))),
            D::ParquetError(Box::new(ParquetError::External(Box::new(too_big())))),
            D::External(Box::new(ArrowError::ExternalError(Box::new(invalid())))),
            D::Context(
                "Invalid regex".into(),
                Box::new(D::External(Box::new(
                    regex_syntax::Parser::new().parse(&pattern).unwrap_err(),
                ))),
            ),
            D::Internal(
                "failed to call 'regex_match_dyn_scalar' Compute error: \
                 Regular expression did not compile: CompiledTooBig(10485760)"
                    .into(),
            ),
        ] {
            let q = QueryError::from(e);
            assert_eq!(q.status(), StatusCode::BAD_REQUEST, "{q}");
            assert!(
                q.to_string().starts_with("invalid regular expression"),
                "{q}"
            );
        }
        // Other compute errors keep their class.
        let other = QueryError::from(D::ArrowError(
            Box::new(ArrowError::ComputeError("overflow".into())),
            None,
        ));
        assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let ours = QueryError::from(D::Internal("a bug".into()));
        assert_eq!(ours.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
