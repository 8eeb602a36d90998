//! `[tls]`: TLS on every listener (API + UI, OTLP HTTP, OTLP gRPC). The certificate and
//! key are re-read when their files change, so a renewed certificate (cert-manager,
//! certbot) is served without a restart. Relative paths are read from the config
//! file's directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Problems;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's first; with `key_file`, turns TLS on.
    pub cert_file: PathBuf,
    /// PEM private key of the certificate.
    pub key_file: PathBuf,
    /// PEM CA certificates: when set, every client must present a certificate one of
    /// them signed (mutual TLS).
    pub client_ca_file: PathBuf,
}

impl TlsConfig {
    /// Whether the listeners speak TLS.
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        let empty = |f: &PathBuf| f.as_os_str().is_empty();
        if empty(&self.cert_file) != empty(&self.key_file) {
            p.bad(
                "tls",
                "cert_file and key_file go together: set both (TLS on every listener) or neither"
                    .into(),
            );
        }
        if !empty(&self.client_ca_file) && empty(&self.cert_file) {
            p.bad(
                "tls.client_ca_file",
                "client certificates need TLS: set cert_file and key_file too".into(),
            );
        }
    }
}

/// A client's TLS settings as a scrape job writes them (Prometheus' `tls_config`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTlsConfig {
    /// PEM CA certificates to verify the target with (the system's roots without).
    pub ca_file: String,
    /// A client certificate and key, for targets that ask for one.
    pub cert_file: String,
    pub key_file: String,
    /// The name to verify instead of the target's host.
    pub server_name: String,
    /// Accept any certificate (tests only).
    pub insecure_skip_verify: bool,
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    #[test]
    fn tls_files_go_together() {
        assert!(!load_str("", &[]).unwrap().tls.enabled());
        let c = load_str("[tls]\ncert_file = \"a.pem\"\nkey_file = \"a.key\"\n", &[]).unwrap();
        assert!(c.tls.enabled());
        let e = load_str(
            "[tls]\ncert_file = \"a.pem\"\nclient_ca_file = \"ca.pem\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cert_file and key_file go together"), "{e}");
        let e = load_str("[tls]\nclient_ca_file = \"ca.pem\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls.client_ca_file"), "{e}");
    }
}
