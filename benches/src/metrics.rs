//! Metrics workload: node_exporter-like host series plus HTTP RED counters and
//! histograms for 20 services, one sample per series every `interval`, with values that
//! move like the real ones (counters that grow by realistic steps with the precision
//! the exporters use, gauges that wander).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use osprey_ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};

#[derive(Clone, Copy)]
enum Kind {
    /// Grows by `rate * interval * (1 ± jitter)`, rounded to `quantum`.
    Counter { rate: f64, quantum: f64 },
    /// Wanders around `base` by up to `step` per interval, rounded to `quantum`.
    Gauge { base: f64, step: f64, quantum: f64 },
    /// Never changes (sizes, boot time, `up`).
    Constant,
}

struct Series {
    labels: Vec<Label>,
    kind: Kind,
    value: f64,
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// The whole metrics workload.
pub struct MetricsWorkload {
    series: Vec<Series>,
    rng: SmallRng,
    pub start_ms: i64,
    pub interval_ms: i64,
    pub steps: usize,
}

/// Rounds to a multiple of `q` the way exporters' text output does: fractional quanta
/// give the nearest double to a short decimal (`1.23`, not `123 * 0.01`).
fn quantize(v: f64, q: f64) -> f64 {
    if q <= 0.0 {
        v
    } else if q < 1.0 {
        let inv = (1.0 / q).round();
        (v * inv).round() / inv
    } else {
        (v / q).round() * q
    }
}

impl MetricsWorkload {
    /// `hosts` node_exporter targets and 20 services' RED series; `steps` samples per
    /// series `interval_ms` apart, ending at `end_ms`.
    pub fn new(seed: u64, hosts: usize, steps: usize, interval_ms: i64, end_ms: i64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut series = Vec::new();
        let mut add = |name: &str,
                       extra: &[(&str, &str)],
                       job: &str,
                       instance: &str,
                       kind: Kind,
                       value: f64| {
            let mut labels = vec![
                label("__name__", name),
                label("job", job),
                label("instance", instance),
            ];
            labels.extend(extra.iter().map(|(k, v)| label(k, v)));
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            series.push(Series {
                labels,
                kind,
                value,
            });
        };
        for h in 0..hosts {
            let inst = format!("node-{h:03}:9100");
            let i = inst.as_str();
            let mem_total = [8.0, 16.0, 32.0, 64.0][h % 4] * 1024.0 * 1024.0 * 1024.0;
            for cpu in 0..4 {
                let c = cpu.to_string();
                for (mode, share) in [
                    ("idle", 0.62),
                    ("user", 0.21),
                    ("system", 0.08),
                    ("iowait", 0.04),
                    ("irq", 0.0),
                    ("softirq", 0.02),
                    ("steal", 0.01),
                    ("nice", 0.002),
                ] {
                    add(
                        "node_cpu_seconds_total",
                        &[("cpu", &c), ("mode", mode)],
                        "node",
                        i,
                        Kind::Counter {
                            rate: share,
                            quantum: 0.01,
                        },
                        100_000.0 * share + rng.random_range(0.0..1000.0),
                    );
                }
            }
            for (name, frac, step) in [
                ("node_memory_MemTotal_bytes", 1.0, 0.0),
                ("node_memory_MemFree_bytes", 0.2, 0.01),
                ("node_memory_MemAvailable_bytes", 0.45, 0.01),
                ("node_memory_Buffers_bytes", 0.02, 0.001),
                ("node_memory_Cached_bytes", 0.3, 0.005),
                ("node_memory_Active_bytes", 0.35, 0.005),
                ("node_memory_Inactive_bytes", 0.2, 0.005),
                ("node_memory_Dirty_bytes", 0.001, 0.0005),
                ("node_memory_Slab_bytes", 0.03, 0.001),
                ("node_memory_SwapTotal_bytes", 0.25, 0.0),
                ("node_memory_SwapFree_bytes", 0.24, 0.0001),
                ("node_memory_Shmem_bytes", 0.01, 0.0005),
                ("node_memory_Mapped_bytes", 0.05, 0.001),
                ("node_memory_PageTables_bytes", 0.005, 0.0001),
                ("node_memory_Committed_AS_bytes", 0.6, 0.01),
                ("node_memory_KernelStack_bytes", 0.001, 0.00001),
            ] {
                let kind = if step == 0.0 {
                    Kind::Constant
                } else {
                    Kind::Gauge {
                        base: mem_total * frac,
                        step: mem_total * step,
                        quantum: 4096.0,
                    }
                };
                add(name, &[], "node", i, kind, mem_total * frac);
            }
            for (name, base) in [
                ("node_load1", 1.2),
                ("node_load5", 1.1),
                ("node_load15", 1.0),
            ] {
                add(
                    name,
                    &[],
                    "node",
                    i,
                    Kind::Gauge {
                        base,
                        step: 0.15,
                        quantum: 0.01,
                    },
                    base,
                );
            }
            for (dev, mnt, fs, size) in [
                ("/dev/vda1", "/", "ext4", 100e9),
                ("/dev/vdb1", "/data", "xfs", 500e9),
                ("tmpfs", "/run", "tmpfs", 1.6e9),
            ] {
                let l = [("device", dev), ("mountpoint", mnt), ("fstype", fs)];
                add(
                    "node_filesystem_size_bytes",
                    &l,
                    "node",
                    i,
                    Kind::Constant,
                    size,
                );
                add(
                    "node_filesystem_free_bytes",
                    &l,
                    "node",
                    i,
                    Kind::Gauge {
                        base: size * 0.4,
                        step: size * 0.0001,
                        quantum: 4096.0,
                    },
                    size * 0.4,
                );
                add(
                    "node_filesystem_avail_bytes",
                    &l,
                    "node",
                    i,
                    Kind::Gauge {
                        base: size * 0.35,
                        step: size * 0.0001,
                        quantum: 4096.0,
                    },
                    size * 0.35,
                );
                add(
                    "node_filesystem_files",
                    &l,
                    "node",
                    i,
                    Kind::Constant,
                    (size / 16384.0).round(),
                );
                add(
                    "node_filesystem_files_free",
                    &l,
                    "node",
                    i,
                    Kind::Gauge {
                        base: size / 20000.0,
                        step: 50.0,
                        quantum: 1.0,
                    },
                    (size / 20000.0).round(),
                );
                add(
                    "node_filesystem_readonly",
                    &l,
                    "node",
                    i,
                    Kind::Constant,
                    0.0,
                );
            }
            for dev in ["eth0", "lo"] {
                for (name, rate) in [
                    ("node_network_receive_bytes_total", 250_000.0),
                    ("node_network_transmit_bytes_total", 180_000.0),
                    ("node_network_receive_packets_total", 900.0),
                    ("node_network_transmit_packets_total", 800.0),
                    ("node_network_receive_errs_total", 0.001),
                    ("node_network_transmit_errs_total", 0.0005),
                    ("node_network_receive_drop_total", 0.01),
                    ("node_network_transmit_drop_total", 0.0),
                ] {
                    add(
                        name,
                        &[("device", dev)],
                        "node",
                        i,
                        Kind::Counter { rate, quantum: 1.0 },
                        rng.random_range(0.0..1e9f64).round(),
                    );
                }
            }
            for dev in ["vda", "vdb"] {
                for (name, rate, q) in [
                    ("node_disk_reads_completed_total", 40.0, 1.0),
                    ("node_disk_writes_completed_total", 120.0, 1.0),
                    ("node_disk_read_bytes_total", 2.0e6, 512.0),
                    ("node_disk_written_bytes_total", 5.0e6, 512.0),
                    ("node_disk_io_time_seconds_total", 0.08, 0.001),
                    ("node_disk_read_time_seconds_total", 0.03, 0.001),
                    ("node_disk_write_time_seconds_total", 0.2, 0.001),
                    ("node_disk_io_now", 0.0, 1.0),
                ] {
                    let kind = if rate == 0.0 {
                        Kind::Gauge {
                            base: 0.0,
                            step: 1.0,
                            quantum: 1.0,
                        }
                    } else {
                        Kind::Counter { rate, quantum: q }
                    };
                    add(name, &[("device", dev)], "node", i, kind, 0.0);
                }
            }
            for (name, kind, v) in [
                (
                    "node_context_switches_total",
                    Kind::Counter {
                        rate: 4000.0,
                        quantum: 1.0,
                    },
                    1e9,
                ),
                (
                    "node_intr_total",
                    Kind::Counter {
                        rate: 2500.0,
                        quantum: 1.0,
                    },
                    5e8,
                ),
                (
                    "node_forks_total",
                    Kind::Counter {
                        rate: 12.0,
                        quantum: 1.0,
                    },
                    1e6,
                ),
                (
                    "node_procs_running",
                    Kind::Gauge {
                        base: 3.0,
                        step: 2.0,
                        quantum: 1.0,
                    },
                    3.0,
                ),
                (
                    "node_procs_blocked",
                    Kind::Gauge {
                        base: 0.0,
                        step: 1.0,
                        quantum: 1.0,
                    },
                    0.0,
                ),
                ("node_boot_time_seconds", Kind::Constant, 1.79e9),
                (
                    "node_entropy_available_bits",
                    Kind::Gauge {
                        base: 256.0,
                        step: 0.0,
                        quantum: 1.0,
                    },
                    256.0,
                ),
                (
                    "node_netstat_Tcp_CurrEstab",
                    Kind::Gauge {
                        base: 80.0,
                        step: 5.0,
                        quantum: 1.0,
                    },
                    80.0,
                ),
                (
                    "node_sockstat_TCP_inuse",
                    Kind::Gauge {
                        base: 95.0,
                        step: 5.0,
                        quantum: 1.0,
                    },
                    95.0,
                ),
                (
                    "node_vmstat_pgfault",
                    Kind::Counter {
                        rate: 30000.0,
                        quantum: 1.0,
                    },
                    1e10,
                ),
                (
                    "node_vmstat_pgmajfault",
                    Kind::Counter {
                        rate: 2.0,
                        quantum: 1.0,
                    },
                    1e5,
                ),
                (
                    "node_timex_offset_seconds",
                    Kind::Gauge {
                        base: 0.0,
                        step: 0.0002,
                        quantum: 0.000001,
                    },
                    0.0,
                ),
                (
                    "node_filefd_allocated",
                    Kind::Gauge {
                        base: 2500.0,
                        step: 20.0,
                        quantum: 1.0,
                    },
                    2500.0,
                ),
                ("up", Kind::Constant, 1.0),
                (
                    "scrape_duration_seconds",
                    Kind::Gauge {
                        base: 0.02,
                        step: 0.005,
                        quantum: 0.000001,
                    },
                    0.02,
                ),
                ("scrape_samples_scraped", Kind::Constant, 850.0),
            ] {
                add(name, &[], "node", i, kind, v);
            }
        }
        let buckets = [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
        ];
        let shares = [
            0.05, 0.15, 0.35, 0.6, 0.8, 0.92, 0.97, 0.99, 0.997, 0.999, 1.0, 1.0,
        ];
        for s in 0..20 {
            let svc = format!("svc-{s:02}");
            let inst = format!("10.0.{s}.7:8080");
            let rps = 5.0 + (s as f64) * 3.0;
            for route in ["/", "/api/items", "/api/cart", "/api/checkout"] {
                for method in ["GET", "POST"] {
                    for (code, share) in [("200", 0.97), ("404", 0.02), ("500", 0.01)] {
                        add(
                            "http_requests_total",
                            &[
                                ("service", &svc),
                                ("route", route),
                                ("method", method),
                                ("code", code),
                            ],
                            "api",
                            &inst,
                            Kind::Counter {
                                rate: rps * share,
                                quantum: 1.0,
                            },
                            0.0,
                        );
                    }
                    for (le, share) in buckets.iter().zip(shares) {
                        add(
                            "http_request_duration_seconds_bucket",
                            &[
                                ("service", &svc),
                                ("route", route),
                                ("method", method),
                                ("le", le),
                            ],
                            "api",
                            &inst,
                            Kind::Counter {
                                rate: rps * share,
                                quantum: 1.0,
                            },
                            0.0,
                        );
                    }
                    add(
                        "http_request_duration_seconds_sum",
                        &[("service", &svc), ("route", route), ("method", method)],
                        "api",
                        &inst,
                        Kind::Counter {
                            rate: rps * 0.045,
                            quantum: 0.000001,
                        },
                        0.0,
                    );
                    add(
                        "http_request_duration_seconds_count",
                        &[("service", &svc), ("route", route), ("method", method)],
                        "api",
                        &inst,
                        Kind::Counter {
                            rate: rps,
                            quantum: 1.0,
                        },
                        0.0,
                    );
                }
            }
        }
        let start_ms = end_ms - interval_ms * steps as i64;
        MetricsWorkload {
            series,
            rng,
            start_ms,
            interval_ms,
            steps,
        }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    pub fn samples(&self) -> u64 {
        (self.series.len() * self.steps) as u64
    }

    /// Advances every series one interval and returns the step's requests, each with at
    /// most `per_request` series (one sample each, like Prometheus' remote_write).
    pub fn step(&mut self, step: usize, per_request: usize) -> Vec<WriteRequest> {
        let ts = self.start_ms + self.interval_ms * step as i64;
        let secs = self.interval_ms as f64 / 1000.0;
        let mut out = Vec::new();
        let mut current = Vec::with_capacity(per_request);
        for s in &mut self.series {
            s.value = match s.kind {
                Kind::Constant => s.value,
                Kind::Counter { rate, quantum } => {
                    let inc = rate * secs * self.rng.random_range(0.7..1.3);
                    quantize(s.value + inc, quantum)
                }
                Kind::Gauge {
                    base,
                    step,
                    quantum,
                } => {
                    let v = s.value + self.rng.random_range(-1.0..1.0) * step;
                    // Pulled back towards the base, so gauges stay realistic.
                    quantize((v * 0.9 + base * 0.1).max(0.0), quantum)
                }
            };
            current.push(TimeSeries {
                labels: s.labels.clone(),
                samples: vec![Sample {
                    value: s.value,
                    timestamp: ts,
                }],
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
            if current.len() == per_request {
                out.push(WriteRequest {
                    timeseries: std::mem::take(&mut current),
                    metadata: Vec::new(),
                });
            }
        }
        if !current.is_empty() {
            out.push(WriteRequest {
                timeseries: current,
                metadata: Vec::new(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_ten_thousand_series_deterministic() {
        let mut a = MetricsWorkload::new(1, 65, 4, 15_000, 1_000_000_000);
        let mut b = MetricsWorkload::new(1, 65, 4, 15_000, 1_000_000_000);
        assert!(
            (9_000..12_000).contains(&a.series_count()),
            "{}",
            a.series_count()
        );
        assert_eq!(a.step(0, 5000), b.step(0, 5000));
        let reqs = a.step(1, 5000);
        assert_eq!(
            reqs.iter().map(|r| r.timeseries.len()).sum::<usize>(),
            a.series_count()
        );
    }
}
