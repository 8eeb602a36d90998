//! A listener's TLS: its certificate, reloaded when the files change, and optional
//! client-certificate authentication.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::TlsError;

/// A listener's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// PEM certificate chain, the server's own first.
    pub cert_file: PathBuf,
    /// PEM private key of that certificate.
    pub key_file: PathBuf,
    /// PEM CA certificates: when set, a client must present a certificate one of them
    /// signed, or the handshake fails.
    pub client_ca_file: Option<PathBuf>,
}

/// How often, at most, the certificate files are checked for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The server config `o` describes, offering `alpn` (e.g. `h2`, `http/1.1`). The
/// files are read now (a start with unreadable ones fails) and again whenever they
/// change.
pub fn server_config(o: &ServerOptions, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crate::provider();
    let resolver = Arc::new(Reloading::new(&o.cert_file, &o.key_file)?);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    let builder = match &o.client_ca_file {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca, "client CA file")? {
                roots.add(cert).map_err(|e| TlsError::File {
                    what: "client CA file",
                    path: ca.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Invalid(format!("client CA file {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A PEM file's certificates (at least one).
fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::File {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificates in it".into()));
    }
    Ok(certs)
}

/// A certificate chain and its key from two PEM files (`who`: "server" or "client").
pub(crate) fn read_pair(
    cert: &Path,
    key: &Path,
    who: &'static str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let (cert_what, key_what) = match who {
        "client" => ("client cert file", "client key file"),
        _ => ("certificate file", "key file"),
    };
    Ok((
        read_certs(cert, cert_what)?,
        crate::client::read_key(key, key_what)?,
    ))
}

/// The certificate of a listener, read again when its files' modification times
/// change; a pair that does not load (half written, mismatched) keeps the previous
/// one in service and is logged.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamp: Stamp,
    checked: Instant,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl Reloading {
    fn new(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let stamp = stamp(cert, key);
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            state: Mutex::new(Loaded {
                key: load(cert, key)?,
                stamp,
                checked: Instant::now(),
            }),
        })
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let (certs, private) = read_pair(cert, key, "server")?;
    CertifiedKey::from_der(certs, private, &crate::provider())
        .map(Arc::new)
        .map_err(|e| {
            TlsError::Invalid(format!(
                "certificate {} and key {} do not make a pair: {e}",
                cert.display(),
                key.display()
            ))
        })
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.checked.elapsed() >= RELOAD_CHECK {
            s.checked = Instant::now();
            let now = stamp(&self.cert, &self.key);
            if now != s.stamp {
                // A failed load is tried again on the files' next change.
                s.stamp = now;
                match load(&self.cert, &self.key) {
                    Ok(k) => {
                        s.key = k;
                        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS certificate files changed but do not load; the previous certificate stays in use");
                    }
                }
            }
        }
        Some(Arc::clone(&s.key))
    }
}
