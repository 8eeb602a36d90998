//! Tenant ids.

use crate::AuthError;

/// The header that names the tenant (lowercase, as `http` stores names).
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// The tenant of requests without the header.
pub const DEFAULT_TENANT: &str = "default";

/// A valid tenant id ([`osprey_config::TENANT_ID_RULE`]: ids name directories and
/// object-store prefixes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    pub fn parse(id: &str) -> Result<Self, AuthError> {
        if is_valid(id) {
            Ok(Self(id.to_string()))
        } else {
            Err(AuthError::InvalidTenant(id.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Self(DEFAULT_TENANT.to_string())
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `id` may be a tenant id.
pub fn is_valid(id: &str) -> bool {
    osprey_config::tenant_id_is_valid(id)
}

/// The tenant a request's header names, if it names one.
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Result<Option<Tenant>, AuthError> {
    headers
        .get(TENANT_HEADER)
        .map(|v| Tenant::parse(v.to_str().map_err(|_| AuthError::NotAscii)?))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        for ok in ["default", "a", "team-1", "a.b_c", &"x".repeat(64)] {
            assert!(Tenant::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65), "../etc"] {
            assert!(Tenant::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Tenant::default().as_str(), "default");
    }
}
