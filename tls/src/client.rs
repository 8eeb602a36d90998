//! A client's TLS settings and the HTTPS connector built from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::TlsError;

/// A client's TLS settings (Prometheus' `tls_config`). Paths are used as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// PEM CA certificates to verify the server with; the system's roots without.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (both or neither).
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The name to verify instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any certificate for any name (signatures are still checked): tests only.
    pub insecure_skip_verify: bool,
    /// `TLS10` … `TLS13`; rustls speaks 1.2 and 1.3.
    pub min_version: Option<String>,
}

/// The rustls client config `o` describes.
pub fn client_config(o: &ClientOptions) -> Result<ClientConfig, TlsError> {
    let provider = crate::provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match o.min_version.as_deref() {
        None | Some("" | "TLS10" | "TLS11" | "TLS12") => rustls::DEFAULT_VERSIONS,
        Some("TLS13") => &[&rustls::version::TLS13],
        Some(other) => {
            return Err(TlsError::Invalid(format!("unknown TLS version: {other}")));
        }
    };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    let builder = if o.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(
                provider.signature_verification_algorithms,
            )))
    } else {
        builder.with_root_certificates(roots(o.ca_file.as_deref())?)
    };
    match (&o.cert_file, &o.key_file) {
        (Some(cert), Some(key)) => {
            let (certs, key) = crate::server::read_pair(cert, key, "client")?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| TlsError::Invalid(format!("unable to use the client certificate: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(_), None) => Err(TlsError::Invalid(
            "exactly one of key or key_file must be configured when a client certificate is configured".into(),
        )),
        (None, Some(_)) => Err(TlsError::Invalid(
            "exactly one of cert or cert_file must be configured when a client key is configured".into(),
        )),
    }
}

/// An HTTP(S) connector with `o`'s TLS (`http2`: offer HTTP/2, for gRPC). Plain
/// `http://` URLs still connect without TLS.
pub fn https_connector(
    o: &ClientOptions,
    http2: bool,
) -> Result<hyper_rustls::HttpsConnector<HttpConnector>, TlsError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client_config(o)?)
        .https_or_http();
    let builder = match o.server_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let name = ServerName::try_from(name.to_string())
                .map_err(|e| TlsError::Invalid(format!("invalid server_name {name:?}: {e}")))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(if http2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    })
}

/// A connector for `http://` URLs only, made without reading the system's roots (tens
/// of milliseconds of file reads): an `https://` URL fails verification through it.
pub fn http_connector(http2: bool) -> hyper_rustls::HttpsConnector<HttpConnector> {
    let config = ClientConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(RootCertStore::empty())
                .with_no_client_auth()
        });
    let builder = match config {
        Ok(c) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(c),
        // The ring provider supports the default versions; this cannot happen.
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
    .https_or_http();
    if http2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    }
}

/// The CA file's certificates, or the system's.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |reason: String| TlsError::File {
                what: "specified CA cert",
                path: path.display().to_string(),
                reason,
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
                roots
                    .add(cert.map_err(|e| bad(e.to_string()))?)
                    .map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("no certificates in it".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    Ok(roots)
}

/// `insecure_skip_verify`: any certificate, any name; signatures still checked.
#[derive(Debug)]
struct NoVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A key file's private key (shared with the server's certificate loading).
pub(crate) fn read_key(
    path: &Path,
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
