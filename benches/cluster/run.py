"""Queries through a querier against the same queries on a single node, on the same
rows (the scale-out issue's target: a querier within 1.2x of a single node).

Starts, on loopback, a single node (`--role all`) and a cluster of two ingesters and a
querier over one shared directory (`storage.object_store = "file://..."`), sends the
same logs and metrics to both (the cluster's alternately to each ingester), flushes
half of them so that half the rows are in files and half in memory on both sides,
then times each query (median of 9 after a warm-up) and checks that both answer the
same.

    cargo build --release -p osprey
    .venv/bin/python benches/cluster/run.py --osprey target/release/osprey
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import proc_server  # noqa: E402
from lib.proc_server import Server, free_port, log, start_osprey  # noqa: E402

RUNS = 9
SERVICES = 10
HOSTS = 20


def median_ms(f: Callable[[], Any]) -> tuple[float, Any]:
    return proc_server.median_ms(f, RUNS)


def start(binary: str, work: Path, name: str, config: str, role: str) -> Server:
    return start_osprey(binary, work, name, config, role)


def logs_body(batch: int, t_ns: int, lines: int) -> dict:
    records = []
    for i in range(lines):
        status = 500 if (batch * lines + i) % 37 == 0 else 200
        body = f"GET /api/item/{i % 97} status={status} user=u{i % 13} took {(i * 7) % 300}ms"
        if status == 500:
            body += " error upstream timeout"
        records.append({"timeUnixNano": str(t_ns + i), "body": {"stringValue": body}})
    return {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": f"svc-{batch % SERVICES}"}}]},
        "scopeLogs": [{"logRecords": records}]}]}


def metrics_body(batch: int, t_ns: int) -> dict:
    points = [{"timeUnixNano": str(t_ns), "asDouble": float((batch * 31 + h * 7) % 500),
               "attributes": [{"key": "host", "value": {"stringValue": f"h{h}"}},
                              {"key": "svc", "value": {"stringValue": f"svc-{h % SERVICES}"}}]}
              for h in range(HOSTS)]
    return {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
        {"name": "app.latency", "gauge": {"dataPoints": points}}]}]}]}


def post(s: Server, path: str, body: dict) -> None:
    r = s.http.post(s.url + path, data=json.dumps(body), headers={"content-type": "application/json"}, timeout=60)
    if r.status_code != 200:
        raise SystemExit(f"{s.name} {path}: {r.status_code} {r.text[:300]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osprey", default="target/release/osprey")
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--lines", type=int, default=500, help="log lines per batch")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="osprey-cluster-bench-"))
    bucket = work / "bucket"
    bucket.mkdir()
    token = work / "token"
    token.write_text("bench-cluster-token\n")
    internal = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    listed = ", ".join(f'"{a}"' for a in internal)

    def cluster(node: str, addr: str) -> str:
        return (f'[storage]\nobject_store = "file://{bucket}"\nflush_interval = "1h"\n'
                f'[cluster]\nnode_id = "{node}"\ningesters = [{listed}]\ninternal_addr = "{addr}"\n'
                f'token_file = "{token}"\nmanifest = "bucket"\n')

    single = start(args.osprey, work, "single", '[storage]\nflush_interval = "1h"\n', "all")
    ingesters = [start(args.osprey, work, f"ing-{i}", cluster(f"ing-{i}", internal[i]), "ingester") for i in range(2)]
    querier = start(args.osprey, work, "querier", cluster("q-0", "127.0.0.1:1"), "querier")
    servers = [single, *ingesters, querier]
    try:
        now_ns = time.time_ns()
        t0 = now_ns - args.batches * 15 * 1_000_000_000
        log(f"loading {args.batches} batches of {args.lines} lines and {HOSTS} samples into both")
        for b in range(args.batches):
            t = t0 + b * 15 * 1_000_000_000
            for target in (single, ingesters[b % 2]):
                post(target, "/v1/logs", logs_body(b, t, args.lines))
                post(target, "/v1/metrics", metrics_body(b, t))
            if b == args.batches // 2:
                for s in (single, *ingesters):
                    s.http.post(s.url + "/api/v1/admin/flush", timeout=300).raise_for_status()
        end_s = now_ns / 1e9
        queries: list[tuple[str, Callable[[Server], Any]]] = [
            ("SQL: count of logs", lambda s: sql(s, "SELECT count(*) FROM logs")),
            ("SQL: errors by service", lambda s: sql(s, "SELECT service, count(*) AS n FROM logs WHERE body LIKE '%error%' GROUP BY service ORDER BY service")),
            ("log search: `error`, newest 100", lambda s: search(s, "error")),
            ("PromQL: avg_over_time by svc (instant)", lambda s: prom(s, "/api/v1/query", {"query": "sum by (svc) (avg_over_time(app_latency[10m]))", "time": end_s})),
            ("PromQL: sum over 30 min, 15 s steps", lambda s: prom(s, "/api/v1/query_range", {"query": "sum(app_latency)", "start": end_s - 1800, "end": end_s, "step": 15})),
            ("label names", lambda s: prom(s, "/api/v1/labels", {})),
        ]
        rows = []
        for name, q in queries:
            single_ms, a = median_ms(lambda: q(single))
            querier_ms, b = median_ms(lambda: q(querier))
            if a != b:
                raise SystemExit(f"{name}: answers differ:\n single  {str(a)[:400]}\n querier {str(b)[:400]}")
            rows.append((name, single_ms, querier_ms))
        print("| query | single node ms | querier ms | querier / single |")
        print("|---|---:|---:|---:|")
        for name, a, b in rows:
            print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    finally:
        for s in servers:
            s.stop()
    return 0


def sql(s: Server, q: str) -> Any:
    r = s.http.post(s.url + "/api/v1/sql", json={"query": q}, timeout=60)
    r.raise_for_status()
    return r.json()["rows"]


def search(s: Server, q: str) -> Any:
    r = s.http.get(s.url + "/api/v1/logs/search", params={"query": q, "limit": "100"}, timeout=60)
    r.raise_for_status()
    d = r.json()["data"]
    return d["stats"]["matched"], sorted(h["body"] for h in d["result"])


def prom(s: Server, path: str, params: dict) -> Any:
    r = s.http.get(s.url + path, params=params, timeout=60)
    r.raise_for_status()
    return r.json()["data"]


if __name__ == "__main__":
    sys.exit(main())
