//! Ingest's own metrics: rows, rejected rows and bytes by signal.

use osprey_storage::Signal;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Clone, Default)]
pub struct IngestMetrics {
    rows: Family<Labels, Counter>,
    rejected: Family<Labels, Counter>,
    bytes: Family<Labels, Counter>,
    repaired: Family<Labels, Counter>,
}

impl IngestMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "osprey_ingest_rows",
            "Rows stored, by signal",
            self.rows.clone(),
        );
        r.register(
            "osprey_ingest_rejected_rows",
            "Rows rejected (partial success), by signal",
            self.rejected.clone(),
        );
        r.register(
            "osprey_ingest_bytes",
            "Decoded request bytes received, by signal",
            self.bytes.clone(),
        );
        r.register(
            "osprey_ingest_repaired_lines",
            "Log lines stored after a repair: invalid UTF-8 replaced, or cut to the size limit",
            self.repaired.clone(),
        );
    }

    /// Lines stored with invalid UTF-8 replaced, and lines cut to the size limit.
    pub fn repaired(&self, invalid_utf8: usize, truncated: usize) {
        for (reason, n) in [("invalid_utf8", invalid_utf8), ("truncated", truncated)] {
            if n > 0 {
                self.repaired
                    .get_or_create(&vec![("reason", reason)])
                    .inc_by(n as u64);
            }
        }
    }

    pub fn rows(&self, signal: Signal, accepted: u64, rejected: u64) {
        let l = vec![("signal", signal.table())];
        self.rows.get_or_create(&l).inc_by(accepted);
        if rejected > 0 {
            self.rejected.get_or_create(&l).inc_by(rejected);
        }
    }

    pub fn bytes(&self, signal: Signal, n: u64) {
        self.bytes
            .get_or_create(&vec![("signal", signal.table())])
            .inc_by(n);
    }
}
