//! API tokens: how a request proves who it is. A token is 32 random bytes shown once
//! (`osp_` + base64url); the config keeps only its SHA-256. A fast hash is enough for
//! secrets of 256 random bits (there is nothing to brute-force, unlike a password), and
//! looking the presented token's hash up in a map keeps the check's time independent
//! of how many tokens there are and of how close a wrong token comes to a right one.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use osprey_config::{ANY_TENANT, AuthConfig, Scope};
use sha2::{Digest, Sha256};

use crate::tenant::Tenant;
use crate::{AuthError, RequestContext, ScopeSet};

/// What a token's bearer may do.
#[derive(Debug)]
pub struct Principal {
    /// The token's name in the config (never the token).
    pub name: String,
    tenants: Tenants,
    scopes: ScopeSet,
}

#[derive(Debug)]
enum Tenants {
    Any,
    /// Never empty; the first is the token's tenant when a request names none.
    Only(Vec<Tenant>),
}

impl Principal {
    /// The tenants the token may act as, the first being its own; `None`: any.
    pub fn tenants(&self) -> Option<Vec<&str>> {
        match &self.tenants {
            Tenants::Any => None,
            Tenants::Only(list) => Some(list.iter().map(Tenant::as_str).collect()),
        }
    }

    fn tenant(&self, asked: Option<Tenant>) -> Result<Tenant, AuthError> {
        match (&self.tenants, asked) {
            (Tenants::Any, asked) => Ok(asked.unwrap_or_default()),
            (Tenants::Only(list), None) => Ok(list.first().cloned().unwrap_or_default()),
            (Tenants::Only(list), Some(t)) if list.contains(&t) => Ok(t),
            (Tenants::Only(list), Some(t)) => Err(AuthError::Forbidden(format!(
                "token {:?} may not act as tenant {:?} (it may act as {})",
                self.name,
                t.as_str(),
                list.iter()
                    .map(|t| format!("{:?}", t.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Decides every request's [`RequestContext`] from its headers. Without tokens in the
/// config it is off: the tenant header alone decides and every scope is granted.
#[derive(Debug, Default)]
pub struct Authenticator {
    /// SHA-256 of each token → its principal; empty when authentication is off.
    tokens: HashMap<[u8; 32], Arc<Principal>>,
}

impl Authenticator {
    /// The tokens of `[auth]` (validated by the config's own checks).
    pub fn new(cfg: &AuthConfig) -> Result<Self, AuthError> {
        let mut tokens = HashMap::new();
        for t in &cfg.tokens {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&t.sha256, &mut digest).map_err(|_| {
                AuthError::Config(format!("token {:?}: sha256 is not 64 hex digits", t.name))
            })?;
            let tenants = if t.tenants.iter().any(|x| x == ANY_TENANT) {
                Tenants::Any
            } else {
                let list = t
                    .tenants
                    .iter()
                    .map(|x| Tenant::parse(x))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AuthError::Config(format!("token {:?}: {e}", t.name)))?;
                if list.is_empty() {
                    return Err(AuthError::Config(format!("token {:?}: no tenants", t.name)));
                }
                Tenants::Only(list)
            };
            let principal = Principal {
                name: t.name.clone(),
                tenants,
                scopes: t.scopes.iter().copied().collect(),
            };
            tokens.insert(digest, Arc::new(principal));
        }
        Ok(Self { tokens })
    }

    /// Whether requests must carry a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The authenticator of a cluster's node-to-node listener: `token` (the contents of
    /// `cluster.token_file`) only, acting as any tenant, with every scope.
    pub fn cluster(token: &str) -> Self {
        let principal = Principal {
            name: "cluster".into(),
            tenants: Tenants::Any,
            scopes: Scope::ALL.iter().copied().collect(),
        };
        Self {
            tokens: HashMap::from([(digest(token), Arc::new(principal))]),
        }
    }

    /// Adds a token only this process knows (for its own calls to itself, like the
    /// self-monitoring scrape) and returns it. No effect when authentication is off
    /// (the token is returned all the same, and sending it is harmless).
    pub fn add_internal(&mut self, name: &str, tenant: &str, scopes: &[Scope]) -> String {
        let token = generate_token();
        if self.enabled() {
            let principal = Principal {
                name: name.to_string(),
                tenants: Tenant::parse(tenant).map_or(Tenants::Any, |t| Tenants::Only(vec![t])),
                scopes: scopes.iter().copied().collect(),
            };
            self.tokens.insert(digest(&token), Arc::new(principal));
        }
        token
    }

    /// The context of a request with these headers: who sent it (401 without valid
    /// credentials) and the tenant it acts as (403 when the token may not).
    pub fn context(&self, headers: &http::HeaderMap) -> Result<RequestContext, AuthError> {
        let asked = crate::tenant::from_headers(headers)?;
        if !self.enabled() {
            return Ok(RequestContext::new(
                asked.unwrap_or_default(),
                None,
                ScopeSet::all(),
            ));
        }
        let token = credentials(headers)?;
        let Some(principal) = self.tokens.get(&digest(&token)) else {
            return Err(AuthError::Unauthenticated(
                "invalid token: it matches none of [[auth.tokens]]".into(),
            ));
        };
        let tenant = principal.tenant(asked)?;
        Ok(RequestContext::new(
            tenant,
            Some(Arc::clone(principal)),
            principal.scopes,
        ))
    }
}

/// The token a request presents: `Authorization: Bearer <token>`, or basic auth with
/// the token as the password (as the username when the password is empty), which
/// every Prometheus-ecosystem client and a browser's login prompt can send.
fn credentials(headers: &http::HeaderMap) -> Result<String, AuthError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(AuthError::Unauthenticated(
            "missing credentials: send `Authorization: Bearer <token>` (or basic auth with the token as password)".into(),
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::Unauthenticated("the Authorization header is not ASCII".into()))?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                AuthError::Unauthenticated(
                    "basic auth credentials are not base64 of user:password".into(),
                )
            })?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let token = if password.is_empty() { user } else { password };
        if !token.is_empty() {
            return Ok(token.to_string());
        }
    }
    Err(AuthError::Unauthenticated(format!(
        "unsupported Authorization {scheme:?}: expected `Bearer <token>` or basic auth"
    )))
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The lowercase hex SHA-256 of `token`, as `[[auth.tokens]] sha256` holds it.
pub fn token_sha256(token: &str) -> String {
    hex::encode(digest(token))
}

/// A new random token: `osp_` and 32 bytes from the OS's generator in base64url.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator does not fail on the systems Osprey runs on; if it ever did,
    // a token must not be made of zeros.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random generator failed: {e}");
    }
    format!(
        "osp_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_config::TokenConfig;

    fn auth() -> (Authenticator, String, String) {
        let (a, b) = (generate_token(), generate_token());
        let cfg = AuthConfig {
            tokens: vec![
                TokenConfig {
                    name: "prom".into(),
                    sha256: token_sha256(&a),
                    tenants: vec!["team-a".into(), "team-c".into()],
                    scopes: vec![Scope::Ingest],
                },
                TokenConfig {
                    name: "ops".into(),
                    sha256: token_sha256(&b),
                    tenants: vec!["*".into()],
                    scopes: vec![Scope::Query, Scope::Admin],
                },
            ],
        };
        (Authenticator::new(&cfg).unwrap(), a, b)
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_token_acts_as_its_tenants_with_its_scopes() {
        let (auth, a, b) = auth();
        assert!(a.starts_with("osp_") && a.len() == 47 && a != b);
        let bearer = format!("Bearer {a}");
        let ctx = auth
            .context(&headers(&[("authorization", &bearer)]))
            .unwrap();
        assert_eq!(ctx.tenant(), "team-a");
        assert_eq!(ctx.principal(), Some("prom"));
        assert!(ctx.has(Scope::Ingest) && !ctx.has(Scope::Query));
        let ctx = auth
            .context(&headers(&[
                ("authorization", &bearer),
                ("x-scope-orgid", "team-c"),
            ]))
            .unwrap();
        assert_eq!(ctx.tenant(), "team-c");
        let e = auth
            .context(&headers(&[
                ("authorization", &bearer),
                ("x-scope-orgid", "team-b"),
            ]))
            .unwrap_err();
        assert_eq!(e.http_status(), http::StatusCode::FORBIDDEN);
        assert!(
            e.to_string().contains("\"team-b\"") && !e.to_string().contains(&a),
            "{e}"
        );

        // Basic auth: the token as password, or as the user with no password.
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        for creds in [format!("anyone:{b}"), format!("{b}:")] {
            let ctx = auth
                .context(&headers(&[
                    ("authorization", &basic(&creds)),
                    ("x-scope-orgid", "x"),
                ]))
                .unwrap();
            assert_eq!((ctx.tenant(), ctx.principal()), ("x", Some("ops")));
        }
        let ctx = auth
            .context(&headers(&[("authorization", &format!("bearer {b}"))]))
            .unwrap();
        assert_eq!(ctx.tenant(), "default");
    }

    #[test]
    fn missing_and_wrong_credentials_are_401() {
        let (auth, a, _) = auth();
        for h in [
            headers(&[]),
            headers(&[("authorization", "Bearer osp_wrong")]),
            headers(&[("authorization", &format!("Token {a}"))]),
            headers(&[("authorization", "Basic !!!")]),
            headers(&[("authorization", "Bearer ")]),
        ] {
            let e = auth.context(&h).unwrap_err();
            assert_eq!(e.http_status(), http::StatusCode::UNAUTHORIZED, "{e}");
            assert_eq!(e.grpc_status().code(), tonic::Code::Unauthenticated);
        }
        // An invalid tenant header is the client's mistake whoever sends it.
        let e = auth
            .context(&headers(&[
                ("authorization", &format!("Bearer {a}")),
                ("x-scope-orgid", "../x"),
            ]))
            .unwrap_err();
        assert_eq!(e.http_status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn without_tokens_the_header_decides_and_every_scope_is_granted() {
        let auth = Authenticator::new(&AuthConfig::default()).unwrap();
        assert!(!auth.enabled());
        let ctx = auth.context(&headers(&[("x-scope-orgid", "t1")])).unwrap();
        assert_eq!((ctx.tenant(), ctx.principal()), ("t1", None));
        assert!(Scope::ALL.iter().all(|s| ctx.has(*s)));
    }

    #[test]
    fn an_internal_token_is_bound_to_its_tenant_and_scopes() {
        let (mut auth, _, _) = auth();
        let t = auth.add_internal("self-monitor", "default", &[Scope::Admin]);
        let ctx = auth
            .context(&headers(&[("authorization", &format!("Bearer {t}"))]))
            .unwrap();
        assert_eq!(
            (ctx.tenant(), ctx.principal()),
            ("default", Some("self-monitor"))
        );
        assert!(ctx.has(Scope::Admin) && !ctx.has(Scope::Ingest));
    }
}
