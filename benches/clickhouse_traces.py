"""Times trace queries on the ClickHouse (chdb) spans table that clickhouse_load.py
built (SigNoz-like flat schema, ORDER BY (service, name, timestamp), a bloom filter on
trace_id as ClickHouse's OpenTelemetry exporter declares): a trace by id, and a search
by service + attribute + minimum duration that returns the 20 newest matching traces
whole, as Jaeger's API does. Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import statistics
import time

from chdb import session


def quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--trace-id")
    ap.add_argument("--service")
    ap.add_argument("--tag")
    ap.add_argument("--value")
    ap.add_argument("--min-ms", type=int)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--analytics", action="store_true", help="only the span analytics queries")
    a = ap.parse_args()
    s = session.Session(a.data_dir)
    if a.analytics:
        print(json.dumps(analytics(s, a.runs)))
        return

    def by_id() -> int:
        out = s.query(f"SELECT * FROM b.spans WHERE trace_id = {quote(a.trace_id)}", "JSONCompact")
        return len(json.loads(str(out))["data"])

    def search() -> tuple[list[str], int]:
        ids_out = s.query(
            "SELECT trace_id, max(timestamp) AS t FROM b.spans "
            f"WHERE service = {quote(a.service)} AND attributes[{quote(a.tag)}] = {quote(a.value)} "
            f"AND duration_nano >= {a.min_ms * 1_000_000} "
            "GROUP BY trace_id ORDER BY t DESC, trace_id LIMIT 20",
            "JSONCompact",
        )
        ids = [row[0] for row in json.loads(str(ids_out))["data"]]
        if not ids:
            return ids, 0
        spans_out = s.query(
            f"SELECT * FROM b.spans WHERE trace_id IN ({', '.join(map(quote, ids))})", "JSONCompact"
        )
        return ids, len(json.loads(str(spans_out))["data"])

    def timed(f):
        f()  # warm-up, as the Osprey side gets
        times, out = [], None
        for _ in range(a.runs):
            t0 = time.monotonic()
            out = f()
            times.append((time.monotonic() - t0) * 1000)
        return statistics.median(times), out

    ms, n = timed(by_id)
    result = {"by_id": {"ms": ms, "spans": n}}
    ms, (ids, n) = timed(search)
    result["search"] = {"ms": ms, "spans": n, "trace_ids": ids}
    print(json.dumps(result))


# The same questions as osprey-load's ANALYTICS (traces_load.rs), in ClickHouse's SQL:
# kind 2 is SERVER, status_code 2 is ERROR (OTLP's numbers, as loaded).
ANALYTICS = {
    "red": "SELECT service, count() AS calls, countIf(status_code = 2) AS errors, "
           "quantiles(0.5, 0.95, 0.99)(duration_nano) FROM b.spans WHERE kind = 2 "
           "GROUP BY service ORDER BY service",
    "route_p99": "SELECT service, attributes['http.route'] AS route, count() AS calls, "
                 "quantile(0.99)(duration_nano) FROM b.spans WHERE kind = 2 "
                 "GROUP BY service, route ORDER BY service, route",
    "slowest_errors": "SELECT trace_id, max(duration_nano) AS d FROM b.spans WHERE status_code = 2 "
                      "GROUP BY trace_id ORDER BY d DESC, trace_id LIMIT 20",
}


def analytics(s, runs: int) -> dict:
    out = {}
    for name, q in ANALYTICS.items():
        s.query(q, "JSONCompact")  # warm-up
        times, rows = [], []
        for _ in range(runs):
            t0 = time.monotonic()
            rows = json.loads(str(s.query(q, "JSONCompact")))["data"]
            times.append((time.monotonic() - t0) * 1000)
        out[name] = {"ms": statistics.median(times), "rows": rows}
    return out


if __name__ == "__main__":
    main()
