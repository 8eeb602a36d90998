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
    ap.add_argument("--trace-id", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--value", required=True)
    ap.add_argument("--min-ms", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    s = session.Session(a.data_dir)

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


if __name__ == "__main__":
    main()
