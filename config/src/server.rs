//! `[server]`: listeners, request and connection limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

use crate::Problems;

/// Listeners and request limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Where the WAL, Parquet files and manifest live.
    pub data_dir: PathBuf,
    /// HTTP API, UI, Prometheus/Loki ingest and the OTLP HTTP paths again.
    pub http_addr: SocketAddr,
    /// OTLP gRPC.
    pub otlp_grpc_addr: SocketAddr,
    /// OTLP HTTP.
    pub otlp_http_addr: SocketAddr,
    /// Largest accepted request body, after decompression too.
    pub max_body_size: ByteSize,
    /// How long shutdown may take (drain in-flight requests, final flush) before exiting.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers (HTTP/1) or the
    /// connection preface (HTTP/2, gRPC) before its connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body; past it the request
    /// fails with 408 and nothing of it is stored.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long a write may wait for the client to read it (a stalled reader of a
    /// live tail or of a large answer) before the connection is closed.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Most open connections per listener; further clients wait in the kernel's
    /// accept queue until one closes.
    pub max_connections: usize,
    /// Memory that ingest requests being read and decoded may take together (each
    /// counts about 4× its body); beyond it a request gets 429 / RESOURCE_EXHAUSTED at
    /// once. With `storage.memtable_limit` it bounds ingest's memory.
    pub ingest_inflight_limit: ByteSize,
    /// The process's memory bound (resident set size), or 0 for none. When set, ingest
    /// is refused (429 naming this key, with Retry-After) while the resident set is
    /// within [`ServerConfig::memory_headroom`] of it and memtables hold rows a flush
    /// will free: the headroom is what requests already admitted and a flush (its
    /// sorted copy of a memtable, encoders and index) still take. Queries are bounded
    /// by `[limits]`.
    pub memory_limit: ByteSize,
    /// Let a server without `[[auth.tokens]]` listen on a non-loopback address
    /// (anyone who reaches it reads and writes every tenant). Off: such a server
    /// refuses to start.
    pub allow_unauthenticated: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./osprey-data"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 9800)),
            otlp_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            otlp_http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            max_body_size: ByteSize::mib(16),
            shutdown_timeout: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            max_connections: 4096,
            ingest_inflight_limit: ByteSize::mib(256),
            memory_limit: ByteSize::b(0),
            allow_unauthenticated: false,
        }
    }
}

/// A flush's memory besides its sorted copy of a memtable: Parquet column encoders
/// and compressors, and the full-text index being built (measured ~45 MiB with
/// heaptrack on a logs flush).
pub const FLUSH_OVERHEAD: ByteSize = ByteSize::mib(64);

impl ServerConfig {
    /// What ingest leaves free under `memory_limit`: the requests it has admitted
    /// (`ingest_inflight_limit`) and a flush of up to `flush_size`.
    pub fn memory_headroom(&self, flush_size: ByteSize) -> u64 {
        self.ingest_inflight_limit.as_u64() + flush_size.as_u64() + FLUSH_OVERHEAD.as_u64()
    }

    /// The listeners bound to a non-loopback address, as `(key, address)`.
    pub fn exposed(&self) -> Vec<(&'static str, SocketAddr)> {
        [
            ("server.http_addr", self.http_addr),
            ("server.otlp_grpc_addr", self.otlp_grpc_addr),
            ("server.otlp_http_addr", self.otlp_http_addr),
        ]
        .into_iter()
        .filter(|(_, a)| !a.ip().is_loopback())
        .collect()
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        let s = self;
        if s.data_dir.as_os_str().is_empty() {
            p.bad("server.data_dir", "must not be empty".into());
        }
        if s.max_body_size.as_u64() < 1024 {
            p.bad(
                "server.max_body_size",
                format!("{} is too small; expected at least 1KiB", s.max_body_size),
            );
        }
        for (key, d) in [
            ("server.header_read_timeout", s.header_read_timeout),
            ("server.body_read_timeout", s.body_read_timeout),
            ("server.write_timeout", s.write_timeout),
        ] {
            if d.as_millis() < 100 {
                p.bad(key, "must be at least 100ms".into());
            }
        }
        if s.ingest_inflight_limit < s.max_body_size {
            p.bad(
                "server.ingest_inflight_limit",
                format!(
                    "{} is below server.max_body_size ({}); expected at least one body",
                    s.ingest_inflight_limit, s.max_body_size
                ),
            );
        }
        if s.max_connections == 0 {
            p.bad("server.max_connections", "must be greater than 0".into());
        }
        let ports = [
            ("server.http_addr", s.http_addr),
            ("server.otlp_grpc_addr", s.otlp_grpc_addr),
            ("server.otlp_http_addr", s.otlp_http_addr),
        ];
        for (i, (ka, a)) in ports.iter().enumerate() {
            for (kb, b) in &ports[i + 1..] {
                if a == b && a.port() != 0 {
                    p.bad(kb, format!("{b} is already used by {ka}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConfigError, load_str};

    #[test]
    fn listener_limits_have_defaults_and_are_checked() {
        let c = load_str("", &[]).unwrap();
        assert_eq!(c.server.header_read_timeout.as_secs(), 10);
        assert_eq!(c.server.body_read_timeout.as_secs(), 60);
        assert_eq!(c.server.max_connections, 4096);
        let text = "[server]\nheader_read_timeout = \"0s\"\nmax_connections = 0\n";
        let Err(ConfigError::Invalid(p)) = load_str(text, &[]) else {
            panic!("expected problems");
        };
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["server.header_read_timeout", "server.max_connections"]
        );
    }
}
