//! The side-by-side result table: one row per system and workload.

/// One system's result on one workload.
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) system: String,
    pub(crate) rows: u64,
    pub(crate) seconds: f64,
    pub(crate) bytes: u64,
    pub(crate) note: String,
    pub(crate) peak_rss: Option<u64>,
}

impl Row {
    pub(crate) fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
    pub(crate) fn per_row(&self) -> f64 {
        self.bytes as f64 / self.rows.max(1) as f64
    }
}

pub(crate) fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

pub(crate) fn print_table(rows: &[Row]) {
    println!(
        "| workload | system | rows | rows/s | bytes on disk | bytes/row | peak RSS | measured |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {:.2} | {} | {} |",
            r.workload,
            r.system,
            r.rows,
            r.rate(),
            mib(r.bytes),
            r.per_row(),
            r.peak_rss.map_or("?".into(), mib),
            r.note
        );
    }
    println!();
    let osprey = |w: &str| {
        rows.iter()
            .find(|r| r.workload == w && r.system.starts_with("Osprey"))
    };
    let peer = |w: &str, p: &str| {
        rows.iter()
            .find(|r| r.workload == w && r.system.starts_with(p))
    };
    let ratio = |label: &str, a: Option<&Row>, b: Option<&Row>, f: &dyn Fn(&Row) -> f64| {
        if let (Some(a), Some(b)) = (a, b) {
            println!(
                "{label}: {:.2} (Osprey {:.2} vs {:.2})",
                f(a) / f(b),
                f(a),
                f(b)
            );
        }
    };
    ratio(
        "metrics bytes/sample vs VictoriaMetrics (target ≤ 1)",
        osprey("metrics"),
        peer("metrics", "Victoria"),
        &Row::per_row,
    );
    ratio(
        "metrics samples/s vs VictoriaMetrics (target ≥ 1)",
        osprey("metrics"),
        peer("metrics", "Victoria"),
        &Row::rate,
    );
    ratio(
        "logs bytes/line vs ClickHouse (target ≤ 1)",
        osprey("logs"),
        peer("logs", "ClickHouse"),
        &Row::per_row,
    );
    ratio(
        "logs lines/s vs ClickHouse (target ≥ 2)",
        osprey("logs"),
        peer("logs", "ClickHouse"),
        &Row::rate,
    );
    ratio(
        "logs lines/s through POST /api/v1/logs (NDJSON) vs ClickHouse's NDJSON load (target ≥ 2)",
        osprey("logs-ndjson"),
        peer("logs", "ClickHouse"),
        &Row::rate,
    );
    ratio(
        "spans bytes/span vs ClickHouse (target ≤ 1)",
        osprey("traces"),
        peer("spans", "ClickHouse"),
        &Row::per_row,
    );
    ratio(
        "spans/s vs ClickHouse (target ≥ 1)",
        osprey("traces"),
        peer("spans", "ClickHouse"),
        &Row::rate,
    );
}
