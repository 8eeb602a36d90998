//! An `http_config`'s `tls_config` (Prometheus' common HTTP client settings, as
//! Alertmanager 0.25 reads them): a CA file instead of the system's roots, a client
//! certificate, the server name to verify, no verification at all
//! (`insecure_skip_verify`), the lowest TLS version. Files are read when the
//! configuration loads, so a missing one fails the load (and `osprey config check`).
//! The TLS itself is `osprey-tls`'s, as for every other client.

use serde::Deserialize;

use super::webhook::HttpClient;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13`; rustls speaks 1.2 and 1.3.
    #[serde(default)]
    pub min_version: Option<String>,
}

/// An HTTP client that speaks TLS as `tls` says (relative files against `base`).
pub fn client(tls: &TlsConfig, base: &std::path::Path) -> Result<HttpClient, String> {
    let options = osprey_tls::ClientOptions {
        ca_file: tls.ca_file.as_ref().map(|f| base.join(f)),
        cert_file: tls.cert_file.as_ref().map(|f| base.join(f)),
        key_file: tls.key_file.as_ref().map(|f| base.join(f)),
        server_name: tls.server_name.clone(),
        insecure_skip_verify: tls.insecure_skip_verify,
        min_version: tls.min_version.clone(),
    };
    let https = osprey_tls::https_connector(&options, false).map_err(|e| e.to_string())?;
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}
