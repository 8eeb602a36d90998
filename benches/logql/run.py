"""LogQL over Osprey's Loki API against the equivalent ClickHouse SQL, on the same
10M lines (the LogQL issue's speed targets, benches/README.md).

Uses what `osprey-load --workload logs --scale 10 --keep --work-dir W` left:
`W/osprey-logs` (Osprey's data directory, flushed and compacted). The ClickHouse table
(`W/chdb-logs`, the schema of `benches/clickhouse_load.py`, with the tokenbf_v1 skip
index on the body that ClickHouse's observability schema declares) is what a
`--peers` run left, or is loaded here from Osprey's own Parquet files, so both hold
the same rows. Osprey is restarted on a copy of its directory; ClickHouse runs
in-process (chdb).
Medians of 5 after a warm-up; each pair's answers are compared (counts per group).

    cargo build --release -p osprey -p osprey-benches
    target/release/osprey-load --workload logs --scale 10 --keep --work-dir target/bench-logql
    .venv-bench/bin/python benches/logql/run.py --work-dir target/bench-logql   # chdb, as benches/run.sh installs it

The three queries, as a Loki user and a ClickHouse user would write them:
- needle: `{service_name="S"} |= "<id>"`, the 100 newest lines of 2 h, against
  `WHERE service = 'S' AND body LIKE '%<id>%' ORDER BY timestamp DESC LIMIT 100`
  (and both count the matches: Loki's answer is the lines, so Osprey's count is the
  lines returned with a limit above the match count);
- json by level: `sum by (level) (count_over_time({service_name="S"} | json [1m]))`
  over 2 h at 60 s steps, against `GROUP BY toStartOfMinute(timestamp),
  JSONExtractString(body, 'level')`;
- Drilldown's landing page: bytes by service over 2 h (`/loki/api/v1/index/volume`,
  `targetLabels=service_name`), against `SELECT service, sum(length(body)) GROUP BY
  service`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import proc_server  # noqa: E402
from lib.proc_server import Server, free_port, log  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RUNS = 5


def median_ms(f: Callable[[], Any]) -> tuple[float, Any]:
    return proc_server.median_ms(f, RUNS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work-dir", type=Path, default=REPO / "target/bench-logql")
    ap.add_argument("--osprey", type=Path, default=REPO / "target/release/osprey")
    ap.add_argument("--service", default="svc-04", help="a JSON service of the workload (even index)")
    ap.add_argument("--needle", default=None, help="text to search (default: an id from the data)")
    args = ap.parse_args()
    work = args.work_dir.resolve()
    data = work / "osprey-logs-logql"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(work / "osprey-logs", data)
    port = free_port()
    server = Server("Osprey", [str(args.osprey), "serve", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{port}",
                               "--otlp-grpc-addr", f"127.0.0.1:{free_port()}", "--otlp-http-addr", f"127.0.0.1:{free_port()}"],
                    port, "/readyz", work / "osprey-logql.log")
    server.start()
    from chdb import session  # noqa: PLC0415 - only the benchmark needs it

    fresh = not (work / "chdb-logs").exists()
    ch = session.Session(str(work / "chdb-logs"))
    if fresh:
        sys.path.insert(0, str(REPO / "benches"))
        from clickhouse_load import SCHEMAS  # noqa: PLC0415

        _, ddl, _ = SCHEMAS["logs"]
        ch.query("CREATE DATABASE IF NOT EXISTS b")
        ch.query(ddl)
        files = str(work / "osprey-logs" / "tables" / "*" / "logs" / "*" / "*.parquet")
        log(f"loading ClickHouse from {files}")
        ch.query("INSERT INTO b.logs SELECT timestamp, service, severity_text, severity_number, body, "
                 f"hex(ifNull(trace_id, '')), hex(ifNull(span_id, '')) FROM file('{files}', Parquet)")
        ch.query("OPTIMIZE TABLE b.logs FINAL")
    try:
        lo, hi = server.http.post(server.url + "/api/v1/sql", json={
            "query": "SELECT CAST(min(timestamp) AS BIGINT), CAST(max(timestamp) AS BIGINT) FROM logs"}).json()["rows"][0]
        # The end a whole number of minutes after the start: the 60 s steps' windows
        # then cover every line once.
        start = int(lo)
        end = start + -(-(int(hi) + 1 - start) // (60 * 10**9)) * 60 * 10**9
        svc = args.service
        needle = args.needle
        if needle is None:
            # An order id of the service's lines: rare, like a needle.
            row = str(ch.query(f"SELECT extract(body, 'product:([0-9]{{5}})') AS id FROM b.logs WHERE service = '{svc}' "
                               "AND id != '' GROUP BY id ORDER BY count() ASC, id LIMIT 1", "CSV")).strip().strip('"')
            needle = row
        log(f"range {start}..{end} ns, service {svc}, needle {needle!r}")
        results: dict[str, dict[str, Any]] = {}

        def loki(path: str, params: dict[str, str]) -> dict[str, Any]:
            r = server.http.get(server.url + path, params=params, timeout=300)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code} {r.text}")
            return r.json()

        q = f'{{service_name="{svc}"}} |= "{needle}"'
        o_ms, o = median_ms(lambda: loki("/loki/api/v1/query_range", {
            "query": q, "start": str(start), "end": str(end), "limit": "5000", "direction": "backward"}))
        o_n = sum(len(s["values"]) for s in o["data"]["result"])
        c_ms, c = median_ms(lambda: str(ch.query(
            f"SELECT count() FROM b.logs WHERE service = '{svc}' AND body LIKE '%{needle}%'", "CSV")
            ) + "|" + str(ch.query(
            f"SELECT timestamp, body FROM b.logs WHERE service = '{svc}' AND body LIKE '%{needle}%' "
            "ORDER BY timestamp DESC LIMIT 100", "CSV")))
        c_n = int(c.split("|")[0].strip())
        results["needle"] = {"query": q, "osprey_ms": o_ms, "ch_ms": c_ms, "osprey": o_n, "ch": c_n}

        q = f'sum by (level) (count_over_time({{service_name="{svc}"}} | json [1m]))'
        o_ms, o = median_ms(lambda: loki("/loki/api/v1/query_range", {
            "query": q, "start": str(start), "end": str(end), "step": "60s"}))
        o_total = {s["metric"].get("level", ""): sum(float(v) for _, v in s["values"]) for s in o["data"]["result"]}
        c_ms, c = median_ms(lambda: str(ch.query(
            f"SELECT l, sum(n) FROM (SELECT toStartOfMinute(timestamp) AS m, JSONExtractString(body, 'level') AS l, "
            f"count() AS n FROM b.logs WHERE service = '{svc}' GROUP BY m, l) GROUP BY l ORDER BY l", "CSV")))
        c_total = {line.split(",")[0].strip('"'): float(line.split(",")[1]) for line in c.strip().splitlines()}
        results["json_by_level"] = {"query": q, "osprey_ms": o_ms, "ch_ms": c_ms,
                                    # Windows (t-1m, t] at 60 s steps from the first line cover every line once.
                                    "osprey": o_total, "ch": c_total}

        o_ms, o = median_ms(lambda: loki("/loki/api/v1/index/volume", {
            "query": '{service_name=~".+"}', "targetLabels": "service_name", "start": str(start), "end": str(end)}))
        o_vol = {s["metric"]["service_name"]: int(s["value"][1]) for s in o["data"]["result"]}
        c_ms, c = median_ms(lambda: str(ch.query(
            "SELECT service, sum(length(body)) FROM b.logs GROUP BY service ORDER BY service", "CSV")))
        c_vol = {line.split(",")[0].strip('"'): int(line.split(",")[1]) for line in c.strip().splitlines()}
        results["volume"] = {"query": "index/volume by service_name", "osprey_ms": o_ms, "ch_ms": c_ms,
                             "osprey": o_vol, "ch": c_vol}
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    (work / "logql-results.json").write_text(json.dumps(results, indent=2))
    print("| query | Osprey ms | ClickHouse ms | ClickHouse / Osprey | answers agree |")
    print("|---|---:|---:|---:|---|")
    for name, r in results.items():
        agree = "yes" if r["osprey"] == r["ch"] else f"no: {r['osprey']} vs {r['ch']}"
        print(f"| {name}: `{r['query']}` | {r['osprey_ms']:.1f} | {r['ch_ms']:.1f} | {r['ch_ms'] / r['osprey_ms']:.2f}× | {agree} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
