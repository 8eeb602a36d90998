"""Ingest in a cluster against a single node (the scale-out issue's targets): ingester
CPU-seconds per million rows within 1.15x of a single node's, and manifest commits
with p99 under 200 ms on a local S3 server with three ingesters flushing every 2 s.

Starts moto's S3 server serving one request at a time (`tests/e2e/moto_locked.py`),
three ingesters committing bucket snapshots under one prefix (`flush_interval = "2s"`)
and a single node (`--role all`, the same settings, its own prefix), sends the same
spans, metric points and log lines to both (the cluster's round-robin over its
ingesters, so two thirds of each request's spans and points are forwarded), then
reads each process's CPU time from /proc and the commit histogram from `/metrics`.

    cargo build --release -p osprey
    .venv/bin/python benches/cluster/ingest.py --osprey target/release/osprey
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.proc_server import Server, free_port, log, start_osprey  # noqa: E402

BUCKET = "osprey-bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
CLIENTS = 4
IDLE_S = 5.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_moto(work: Path) -> tuple[object, str]:
    import subprocess

    port = free_port()
    script = Path(__file__).resolve().parents[2] / "tests" / "e2e" / "moto_locked.py"
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=(work / "moto.log").open("wb"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    for _ in range(100):
        try:
            s3.create_bucket(Bucket=BUCKET)
            return proc, url
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.1)
    raise SystemExit("moto did not start")


def config(endpoint: str, prefix: str, cluster: str) -> str:
    return (f'[storage]\nobject_store = "s3://{BUCKET}/{prefix}"\ns3_endpoint = "{endpoint}"\n'
            f'flush_interval = "2s"\n{cluster}')


def start(binary: str, work: Path, name: str, text: str, role: str) -> Server:
    return start_osprey(binary, work, name, text, role, env={**os.environ, **CREDENTIALS})


def bodies(n: int, t_ns: int) -> list[tuple[str, bytes]]:
    """Request `n`: 50 traces of 4 spans, 100 metric points, 200 log lines."""
    spans = [{"traceId": f"{n:016x}{k:016x}", "spanId": f"{k:08x}{i:08x}", "name": f"op-{i}",
              "kind": 2, "startTimeUnixNano": str(t_ns + i), "endTimeUnixNano": str(t_ns + i + 1_000_000)}
             for k in range(50) for i in range(4)]
    traces = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": f"svc-{n % 10}"}}]}, "scopeSpans": [{"spans": spans}]}]}
    points = [{"timeUnixNano": str(t_ns), "asDouble": float(n + h),
               "attributes": [{"key": "host", "value": {"stringValue": f"h{h}"}}]} for h in range(100)]
    metrics = {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
        {"name": "bench.load", "gauge": {"dataPoints": points}}]}]}]}
    records = [{"timeUnixNano": str(t_ns + i), "body": {"stringValue": f"line {n} {i} took {i % 300}ms"}}
               for i in range(200)]
    logs = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": f"svc-{n % 10}"}}]}, "scopeLogs": [{"logRecords": records}]}]}
    return [(path, json.dumps(b).encode()) for path, b in
            (("/v1/traces", traces), ("/v1/metrics", metrics), ("/v1/logs", logs))]


ROWS_PER_REQUEST = 200 + 100 + 200


def send_all(targets: list[Server], requests_n: int, t_ns: int) -> None:
    def one(n: int) -> None:
        s = targets[n % len(targets)]
        for path, body in bodies(n, t_ns + n * 1_000_000):
            r = s.http.post(s.url + path, data=body, headers={"content-type": "application/json"}, timeout=60)
            if r.status_code != 200:
                raise SystemExit(f"{s.name} {path}: {r.status_code} {r.text[:300]}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(requests_n)))


def commit_p99(s: Server) -> tuple[float, int]:
    """The p99 of `osprey_manifest_commit_seconds` (a bucket's upper bound) and the count."""
    buckets: list[tuple[float, float]] = []
    count = 0.0
    for line in s.http.get(s.url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("osprey_manifest_commit_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
        elif line.startswith("osprey_manifest_commit_seconds_count"):
            count = float(line.split()[-1])
    p99 = next((le for le, c in sorted(buckets) if count and c >= 0.99 * count), float("nan"))
    return p99, int(count)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osprey", required=True)
    ap.add_argument("--requests", type=int, default=1200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="osprey-cluster-ingest-"))
    moto, endpoint = start_moto(work)
    token = work / "cluster-token"
    token.write_text("bench-cluster\n")
    internal = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    listed = ", ".join(f'"{a}"' for a in internal)
    servers: list[Server] = []
    try:
        single = start(args.osprey, work, "single", config(endpoint, "single", ""), "all")
        servers.append(single)
        ingesters = []
        for i in range(3):
            cluster = (f'[cluster]\nnode_id = "ing-{i}"\ningesters = [{listed}]\ninternal_addr = "{internal[i]}"\n'
                       f'token_file = "{token}"\nmanifest = "bucket"\npoll_interval = "2s"\n')
            ingesters.append(start(args.osprey, work, f"ing-{i}", config(endpoint, "cluster", cluster), "ingester"))
        servers += ingesters
        t_ns = time.time_ns() - 600 * 1_000_000_000
        rows = args.requests * ROWS_PER_REQUEST
        results = {}
        for label, targets in (("single node", [single]), ("cluster (3 ingesters)", ingesters)):
            # What the processes burn with nothing to ingest (polls, leases, timers),
            # per second: reported apart, as it grows with time, not with rows.
            idle_from = sum(cpu_seconds(s.pid) for s in targets)
            time.sleep(IDLE_S)
            idle_rate = (sum(cpu_seconds(s.pid) for s in targets) - idle_from) / IDLE_S
            before = sum(cpu_seconds(s.pid) for s in targets)
            started = time.monotonic()
            send_all(targets, args.requests, t_ns)
            wall = time.monotonic() - started
            time.sleep(5)  # the flushes of what was sent
            elapsed = time.monotonic() - started
            cpu = sum(cpu_seconds(s.pid) for s in targets) - before
            busy = cpu - idle_rate * elapsed
            results[label] = (cpu / rows * 1e6, busy / rows * 1e6, idle_rate, rows / wall)
            log(f"{label}: {cpu:.1f} CPU-s for {rows} rows in {wall:.1f}s (idle {idle_rate:.3f} CPU-s/s)")
        (single_cpu, single_busy, _, _), (cluster_cpu, cluster_busy, _, _) = results.values()
        print(f"\n| side | CPU-s per million rows | less idle | idle CPU-s/s | rows/s (2 cores, {CLIENTS} clients) |")
        print("|---|---:|---:|---:|---:|")
        for label, (cpu, busy, idle, rate) in results.items():
            print(f"| {label} | {cpu:.2f} | {busy:.2f} | {idle:.3f} | {rate:,.0f} |")
        print(f"\ncluster / single CPU per row: {cluster_cpu / single_cpu:.2f}x, less idle "
              f"{cluster_busy / single_busy:.2f}x (target <= 1.15x)")
        print("\n| ingester | manifest commits | p99 (bucket bound) |\n|---|---:|---:|")
        for s in ingesters:
            p99, n = commit_p99(s)
            print(f"| {s.name} | {n} | {p99 * 1000:.0f} ms |")
    finally:
        for s in servers:
            s.stop()
        moto.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
