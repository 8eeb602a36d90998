#!/usr/bin/env bash
# Runs Osprey's benchmarks side by side with the peers, on this machine.
#
#   bash benches/run.sh [--scale 1.0] [--workload all|metrics|logs|traces]
#
# Installs the peers (Debian prometheus and victoria-metrics, chdb from PyPI into
# .venv-bench), builds Osprey in release, runs the load generator with --peers and
# prints the table (paste it into benches/README.md with the date and the commit).
# Criterion micro-benchmarks: cargo bench -p osprey-benches.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ! command -v prometheus >/dev/null || ! command -v victoria-metrics >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus victoria-metrics >/dev/null
fi
# The Debian package starts a system Prometheus on :9090; the benchmark runs its own.
$SUDO systemctl stop prometheus prometheus-node-exporter 2>/dev/null || true
if [ ! -x .venv-bench/bin/python ]; then
    python3 -m venv .venv-bench
fi
.venv-bench/bin/python -c 'import chdb' 2>/dev/null || .venv-bench/bin/pip install -q chdb==4.4.0

cargo build --release -p osprey -p osprey-benches
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) cores"
target/release/osprey-load --osprey target/release/osprey --peers "$@"
