#!/usr/bin/env bash
# The one test command of the Osprey project.
#
#   scripts/test.sh [extra pytest args...]
#
# 1. creates/refreshes the Python venv at .venv with tests/e2e/requirements.txt
# 2. cargo fmt --check and cargo clippy -D warnings (the code habits), then
#    cargo build --locked             (the osprey binary, embedded UI via npm)
# 3. cargo nextest run --workspace    (Rust unit and integration tests)
# 4. pytest tests/e2e                 (end-to-end tests against target/debug/osprey),
#    then the suites that commit again with [cluster] manifest = "bucket"
#
# Needs: Rust (cargo), Python 3.11+ with venv and pip, Node 20+ with npm.
# cargo-nextest is installed with `cargo install --locked` if it is missing.
# Exits non-zero as soon as any step fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

CURRENT_STEP="setup"
section() {
    CURRENT_STEP="$*"
    printf '\n========== %s ==========\n' "$*"
}
trap 'status=$?; printf "\n========== FAILED (exit %s) during: %s ==========\n" "$status" "$CURRENT_STEP" >&2' ERR

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "error: '$1' not found on PATH ($2)" >&2
        exit 1
    }
}

section "Checking tools"
need python3 "install Python 3.11+"
need cargo "install Rust via rustup"
need npm "install Node.js 20+ with npm (the UI is built by cargo build)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "error: Python 3.11+ required, found $(python3 --version 2>&1)" >&2
    exit 1
}
echo "python3: $(python3 --version 2>&1 | cut -d' ' -f2)  cargo: $(cargo --version | cut -d' ' -f2)  node: $(node --version 2>/dev/null || echo '?')"

# --- 1. Python venv -----------------------------------------------------------
section "Python venv (.venv)"
REQUIREMENTS="tests/e2e/requirements.txt"
STAMP=".venv/.requirements.sha256"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "creating .venv"
    rm -rf .venv
    python3 -m venv .venv || {
        echo "error: 'python3 -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 1
    }
fi
WANT="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" = "$WANT" ] \
    && .venv/bin/python -c 'import pytest, requests, cramjam, grpc, opentelemetry.sdk, playwright' 2>/dev/null; then
    echo "requirements unchanged, venv intact"
else
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$WANT" >"$STAMP"
    echo "installed $REQUIREMENTS"
fi

# --- 2. Code habits, then build -------------------------------------------------------
for tool in fmt clippy; do
    cargo "$tool" --version >/dev/null 2>&1 || {
        echo "error: 'cargo $tool' not found; install it with: rustup component add $([ $tool = fmt ] && echo rustfmt || echo clippy)" >&2
        exit 1
    }
done
section "cargo fmt --check"
cargo fmt --all --check

section "cargo clippy --workspace --all-targets --locked -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

section "cargo build --locked"
cargo build --locked

# --- 3. Rust tests ------------------------------------------------------------------
section "Rust tests (cargo nextest run --workspace --locked)"
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "cargo-nextest not found; installing it (one-time, takes a few minutes)"
    cargo install --locked cargo-nextest
fi
NEXTEST_ARGS=(--workspace --locked)
cargo nextest run "${NEXTEST_ARGS[@]}"

# --- 4. End-to-end tests ---------------------------------------------------------------
section "Chromium for the UI tests"
# Playwright drives Debian's Chromium (no browser download: the machine has no internet
# beyond the package registries).
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
chromium --version

section "Prometheus, promtool, Alertmanager, amtool and node_exporter (the peers)"
# The compliance suite compares Osprey's PromQL with Debian's prometheus 2.42 on the
# same samples; Prometheus remote_writes into Osprey and Osprey scrapes node_exporter;
# the alerting tests compare rules with Prometheus and promtool, and forwarding and
# the Alertmanager API with Alertmanager 0.25 and amtool.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v prometheus-node-exporter >/dev/null 2>&1 \
    || ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1 \
    || ! command -v amtool >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-node-exporter prometheus-alertmanager >/dev/null
fi
prometheus --version 2>&1 | head -1
promtool --version 2>&1 | head -1
prometheus-alertmanager --version 2>&1 | head -1
amtool --version 2>&1 | head -1
prometheus-node-exporter --version 2>&1 | head -1

section "End-to-end tests (pytest tests/e2e)"
OSPREY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/osprey"
[ -x "$OSPREY_BIN" ] || {
    echo "error: $OSPREY_BIN was not built" >&2
    false
}
export OSPREY_BIN
echo "OSPREY_BIN=$OSPREY_BIN ($("$OSPREY_BIN" version 2>/dev/null || echo 'version unknown'))"
.venv/bin/pytest -q tests/e2e "$@"

section "End-to-end tests that commit, again with [cluster] manifest = \"bucket\""
# The suites whose outcome rests on the commit point (flush, restart, crash points,
# quarantine, S3, disk full, the cluster tests) run a second time with every server
# committing its manifest as bucket snapshots on its data directory
# (storage/docs/format/cluster.md). The whole suite passes in that mode too; it is not
# run twice in full, to keep this command well inside CI's time.
OSPREY_TEST_MANIFEST=bucket .venv/bin/pytest -q \
    tests/e2e/test_crash.py tests/e2e/test_crash_points.py tests/e2e/test_restart.py \
    tests/e2e/test_storage.py tests/e2e/test_s3.py tests/e2e/test_probe_disk_full.py \
    tests/e2e/test_metrics_head.py tests/e2e/test_cluster.py "$@"

CURRENT_STEP="done"
printf '\n========== All tests passed ==========\n'
