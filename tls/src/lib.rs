//! TLS, once for every listener and client, on rustls with the ring provider.
//!
//! - [`server`]: a listener's `rustls::ServerConfig` from PEM certificate and key
//!   files, which it reloads when they change (checked at most once a second, on a
//!   handshake), and optional client-certificate authentication against a CA file.
//! - [`client`]: a client's `rustls::ClientConfig`, as Prometheus' `tls_config` says:
//!   a CA file instead of the system's roots, a client certificate, the server name to
//!   verify, `insecure_skip_verify` (for tests), the lowest TLS version; and the
//!   HTTPS connector the HTTP and gRPC clients use.

pub mod client;
pub mod server;

pub use client::{ClientOptions, client_config, http_connector, https_connector};
pub use server::{ServerOptions, server_config};

/// Why TLS could not be set up; each names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("unable to load {what} {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// An error and its causes: hyper's own message names only the step that failed
/// ("client error (Connect)"); the causes say why (the certificate's issuer, say).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The crypto provider of every config made here.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
