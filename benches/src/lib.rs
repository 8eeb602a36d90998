//! Osprey's benchmarks: deterministic, seeded workloads shaped like real telemetry
//! (node_exporter hosts and HTTP RED series; service logs; microservice traces), the
//! senders that push them over the real protocols, and the peers they are compared
//! with. `src/bin/osprey-load.rs` is the end-to-end load generator; `benches/` holds
//! the criterion micro-benchmarks of storage hot paths.

pub mod http;
pub mod logs;
pub mod metrics;
pub mod proc;
pub mod traces;
