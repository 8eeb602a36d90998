//! Who is asking. Every listener attaches a [`RequestContext`] to each request before
//! any handler runs, and handlers take it from there (the [`RequestContext`] axum
//! extractor, or the request's extensions on gRPC): no other crate reads the tenant
//! header or the credentials.
//!
//! The context holds the principal (the `[[auth.tokens]]` entry the request's token
//! matched; none when authentication is off), the tenant it acts as (`X-Scope-OrgID`
//! as in Loki, Mimir and Tempo, else the token's first tenant, else `default`) and the
//! scopes it was granted. Each route declares the scope it needs with [`require`]; a
//! handler whose route declared none cannot take the context (a wiring error, 500), so
//! a route cannot be left open by forgetting it.
//!
//! - [`token`]: tokens, their hashes and the [`Authenticator`] that checks them.
//! - [`tenant`]: what a tenant id may be (it names directories, so it is restricted).
//! - [`limits`]: each tenant's limits, its ingest rate buckets and query slots.
//! - [`layer`]: the axum middleware for the HTTP listeners, the per-route scope layer
//!   and the tower layer for the gRPC listener, each answering in its protocol's terms.

pub mod layer;
pub mod limits;
pub mod tenant;
pub mod token;

use std::sync::Arc;

pub use layer::{GrpcContextLayer, RequireScope, http_context, require, require_by_method};
pub use limits::{LimitError, Limiter, Rate};
pub use osprey_config::Scope;
pub use tenant::{DEFAULT_TENANT, TENANT_HEADER, Tenant};
pub use token::{Authenticator, Principal, generate_token, token_sha256};

/// Why a request has no valid context, or may not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid tenant id {0:?} in X-Scope-OrgID: {rule}", rule = osprey_config::TENANT_ID_RULE)]
    InvalidTenant(String),
    #[error("X-Scope-OrgID is not valid ASCII")]
    NotAscii,
    /// No credentials, or ones that match no token.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Valid credentials without the right to this tenant or scope.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// `[auth]` that the config's checks should have refused.
    #[error("invalid [auth] config: {0}")]
    Config(String),
    /// A handler ran behind no context layer: a wiring bug, not the client's fault.
    #[error("request context missing: the listener has no context layer")]
    Missing,
    /// A handler's route declared no scope: a wiring bug, not the client's fault.
    #[error("the route declares no scope (osprey_auth::require): refusing to answer")]
    Unscoped,
}

impl AuthError {
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AuthError::InvalidTenant(_) | AuthError::NotAscii => S::BAD_REQUEST,
            AuthError::Unauthenticated(_) => S::UNAUTHORIZED,
            AuthError::Forbidden(_) => S::FORBIDDEN,
            AuthError::Config(_) | AuthError::Missing | AuthError::Unscoped => {
                S::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        let m = self.to_string();
        match self {
            AuthError::InvalidTenant(_) | AuthError::NotAscii => tonic::Status::invalid_argument(m),
            AuthError::Unauthenticated(_) => tonic::Status::unauthenticated(m),
            AuthError::Forbidden(_) => tonic::Status::permission_denied(m),
            AuthError::Config(_) | AuthError::Missing | AuthError::Unscoped => {
                tonic::Status::internal(m)
            }
        }
    }
}

/// A set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    pub fn contains(self, s: Scope) -> bool {
        self.0 & Self::bit(s) != 0
    }

    fn bit(s: Scope) -> u8 {
        1 << (s as u8)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |acc, s| acc | Self::bit(s)))
    }
}

/// Who is asking, decided once per request by the listener's layer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub tenant: Tenant,
    principal: Option<Arc<Principal>>,
    scopes: ScopeSet,
    /// Set when the route's scope was checked ([`require`]).
    scoped: bool,
}

impl RequestContext {
    pub(crate) fn new(tenant: Tenant, principal: Option<Arc<Principal>>, scopes: ScopeSet) -> Self {
        Self {
            tenant,
            principal,
            scopes,
            scoped: false,
        }
    }

    /// A context for work Osprey does on a tenant's behalf (rule evaluation, tests):
    /// every scope, no principal, already scoped.
    pub fn internal(tenant: Tenant) -> Self {
        Self {
            scoped: true,
            ..Self::new(tenant, None, ScopeSet::all())
        }
    }

    /// The tenant's id.
    pub fn tenant(&self) -> &str {
        self.tenant.as_str()
    }

    /// The name of the token the request presented (none with authentication off).
    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref().map(|p| p.name.as_str())
    }

    /// The tenants this request's token may act as; `None`: any (also with
    /// authentication off).
    pub fn allowed_tenants(&self) -> Option<Vec<&str>> {
        self.principal.as_deref().and_then(Principal::tenants)
    }

    /// The scopes granted, by name.
    pub fn scope_names(&self) -> Vec<&'static str> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.has(*s))
            .map(Scope::as_str)
            .collect()
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Checks that the request may use `scope` (403 naming it otherwise) and marks
    /// the context as scoped.
    pub fn require(&mut self, scope: Scope) -> Result<(), AuthError> {
        if !self.has(scope) {
            return Err(AuthError::Forbidden(format!(
                "token {:?} lacks the scope {:?} this endpoint needs",
                self.principal().unwrap_or("?"),
                scope.as_str()
            )));
        }
        self.scoped = true;
        Ok(())
    }

    fn checked(self) -> Result<Self, AuthError> {
        if self.scoped {
            Ok(self)
        } else {
            Err(AuthError::Unscoped)
        }
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
            .ok_or(AuthError::Missing)
            .and_then(RequestContext::checked)
            .map_err(|e| layer::http_error(&e))
    }
}

/// The context a gRPC request's listener attached.
pub fn grpc_context<T>(req: &tonic::Request<T>) -> Result<RequestContext, tonic::Status> {
    req.extensions()
        .get::<RequestContext>()
        .cloned()
        .ok_or(AuthError::Missing)
        .and_then(RequestContext::checked)
        .map_err(|e| e.grpc_status())
}
