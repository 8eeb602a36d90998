//! `[auth]`: API tokens. Each `[[auth.tokens]]` entry is the SHA-256 of a token
//! (never the token itself), the tenants it may act as and the scopes it grants.
//! Without any entry authentication is off (every request is allowed, as before);
//! `server.allow_unauthenticated` decides whether that may face a non-loopback address.

use serde::{Deserialize, Serialize};

use crate::Problems;

/// What a token may do. Each route of every listener requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Write telemetry: OTLP, remote_write, Loki push, lines.
    Ingest,
    /// Read it: PromQL, LogQL, SQL, search, traces, rule and alert state, dashboards.
    Query,
    /// Change the tenant's saved configuration: rule groups, dashboards, reloads.
    Rules,
    /// The Alertmanager API: alerts and silences, read and written.
    Alerts,
    /// Storage status, flush and compaction of the tenant, and Osprey's own metrics.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::Query,
        Scope::Rules,
        Scope::Alerts,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Query => "query",
            Scope::Rules => "rules",
            Scope::Alerts => "alerts",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tenants entry that means "any tenant".
pub const ANY_TENANT: &str = "*";

/// Authentication settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens: Vec<TokenConfig>,
}

impl AuthConfig {
    /// Whether requests must carry a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }
}

/// One API token (`osprey token create` prints a new one with its entry).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it; named in 403 messages and logs, never the token.
    pub name: String,
    /// Lowercase hex SHA-256 of the token.
    pub sha256: String,
    /// The tenants it may act as; `"*"` is any. The first is used when a request
    /// names none (`default` for `"*"`).
    pub tenants: Vec<String>,
    pub scopes: Vec<Scope>,
}

/// The hash stays out of debug output: it is not the secret, but nothing about a
/// token needs to reach a log.
impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("tenants", &self.tenants)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        let mut names = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let key = |field: &str| format!("auth.tokens[{i}].{field}");
            if t.name.trim().is_empty() {
                p.bad(&key("name"), "must not be empty".into());
            } else if !names.insert(t.name.as_str()) {
                p.bad(&key("name"), format!("{:?} names two tokens", t.name));
            }
            if t.sha256.len() != 64
                || !t
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                p.bad(
                    &key("sha256"),
                    "expected 64 lowercase hex digits (the SHA-256 of the token; `osprey token hash` prints it)".into(),
                );
            } else if !hashes.insert(t.sha256.as_str()) {
                p.bad(&key("sha256"), "the same token is listed twice".into());
            }
            if t.tenants.is_empty() {
                p.bad(
                    &key("tenants"),
                    "must name at least one tenant (or \"*\" for any)".into(),
                );
            }
            for tenant in &t.tenants {
                if tenant != ANY_TENANT && !crate::tenant_id_is_valid(tenant) {
                    p.bad(
                        &key("tenants"),
                        format!(
                            "{tenant:?} is not a valid tenant id: {}",
                            crate::TENANT_ID_RULE
                        ),
                    );
                }
            }
            if t.scopes.is_empty() {
                p.bad(
                    &key("scopes"),
                    "must grant at least one of ingest, query, rules, alerts, admin".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConfigError, Scope, load_str};

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn tokens_load_with_their_tenants_and_scopes() {
        let text = format!(
            "[[auth.tokens]]\nname = \"prom\"\nsha256 = \"{HASH}\"\ntenants = [\"team-a\"]\nscopes = [\"ingest\", \"query\"]\n"
        );
        let c = load_str(&text, &[]).unwrap();
        assert!(c.auth.enabled());
        assert_eq!(c.auth.tokens[0].scopes, [Scope::Ingest, Scope::Query]);
        assert!(!format!("{:?}", c.auth).contains(HASH));
        assert!(!load_str("", &[]).unwrap().auth.enabled());
    }

    #[test]
    fn bad_tokens_are_explained() {
        let text = format!(
            "[[auth.tokens]]\nname = \"a\"\nsha256 = \"xyz\"\ntenants = []\nscopes = []\n\
             [[auth.tokens]]\nname = \"b\"\nsha256 = \"{HASH}\"\ntenants = [\"../x\"]\nscopes = [\"query\"]\n\
             [[auth.tokens]]\nname = \"b\"\nsha256 = \"{HASH}\"\ntenants = [\"*\"]\nscopes = [\"query\"]\n"
        );
        let Err(ConfigError::Invalid(p)) = load_str(&text, &[]) else {
            panic!("expected problems");
        };
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "auth.tokens[0].sha256",
                "auth.tokens[0].tenants",
                "auth.tokens[0].scopes",
                "auth.tokens[1].tenants",
                "auth.tokens[2].name",
                "auth.tokens[2].sha256",
            ]
        );
        let unknown = "[[auth.tokens]]\nname = \"a\"\nsha256 = \"x\"\ntenants = [\"*\"]\nscopes = [\"everything\"]\n";
        let e = load_str(unknown, &[]).unwrap_err().to_string();
        assert!(e.contains("everything"), "{e}");
    }
}
