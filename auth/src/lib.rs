//! Who is asking. Every listener attaches a [`RequestContext`] to each request before
//! any handler runs, and handlers take it from there (the [`RequestContext`] axum
//! extractor, or the request's extensions on gRPC): no other crate reads the tenant
//! header. Today the context is the tenant, from `X-Scope-OrgID` as in Loki, Mimir and
//! Tempo (`default` when absent); the hardening issue adds tokens, scopes and limits
//! here.
//!
//! - [`tenant`]: what a tenant id may be (it names directories, so it is restricted).
//! - [`layer`]: the axum middleware for the HTTP listeners and the tower layer for the
//!   gRPC listener, each answering an invalid header in its protocol's terms.

pub mod layer;
pub mod tenant;

pub use layer::{GrpcContextLayer, http_context};
pub use tenant::{DEFAULT_TENANT, TENANT_HEADER, Tenant};

/// Why a request has no valid context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "invalid tenant id {0:?} in X-Scope-OrgID: expected 1-64 characters of [A-Za-z0-9_.-], not '.' or '..'"
    )]
    InvalidTenant(String),
    #[error("X-Scope-OrgID is not valid ASCII")]
    NotAscii,
    /// A handler ran behind no context layer: a wiring bug, not the client's fault.
    #[error("request context missing: the listener has no context layer")]
    Missing,
}

impl AuthError {
    pub fn http_status(&self) -> http::StatusCode {
        match self {
            AuthError::InvalidTenant(_) | AuthError::NotAscii => http::StatusCode::BAD_REQUEST,
            AuthError::Missing => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        match self {
            AuthError::InvalidTenant(_) | AuthError::NotAscii => {
                tonic::Status::invalid_argument(self.to_string())
            }
            AuthError::Missing => tonic::Status::internal(self.to_string()),
        }
    }
}

/// Who is asking, decided once per request by the listener's layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub tenant: Tenant,
}

impl RequestContext {
    /// The context the tenant header gives (`default` without one).
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Self, AuthError> {
        let tenant = match headers.get(TENANT_HEADER) {
            None => Tenant::default(),
            Some(v) => Tenant::parse(v.to_str().map_err(|_| AuthError::NotAscii)?)?,
        };
        Ok(Self { tenant })
    }

    /// The tenant's id.
    pub fn tenant(&self) -> &str {
        self.tenant.as_str()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestContext {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| layer::http_error(&AuthError::Missing))
    }
}

/// The context a gRPC request's listener attached.
pub fn grpc_context<T>(req: &tonic::Request<T>) -> Result<RequestContext, tonic::Status> {
    req.extensions()
        .get::<RequestContext>()
        .cloned()
        .ok_or_else(|| AuthError::Missing.grpc_status())
}
