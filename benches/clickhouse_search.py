"""Times log searches on the ClickHouse (chdb) table that clickhouse_load.py built, the
way a ClickHouse user would write them: hasToken on the body (served by the table's
tokenbf_v1 skip index), LIKE for a phrase, GROUP BY minute and severity for a histogram.
Each search counts all matches and fetches the 100 newest, like Osprey's search API.
Prints one JSON object: {name: {"ms": median, "count": n}}."""

from __future__ import annotations

import argparse
import json
import statistics
import time

from chdb import session


def timed(s, queries: list[str], runs: int) -> tuple[float, str]:
    times = []
    out = ""
    for _ in range(runs):
        t0 = time.monotonic()
        out = [str(s.query(q, "CSV")) for q in queries][0]
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--phrase", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--trace-id", required=True)
    a = ap.parse_args()
    s = session.Session(a.data_dir)
    token = a.token.replace("'", "")
    phrase = a.phrase.replace("'", "").replace("%", "")
    result = {}
    for name, where in [("term", f"hasToken(body, '{token}')"), ("phrase", f"body LIKE '%{phrase}%'")]:
        ms, count = timed(s, [
            f"SELECT count() FROM b.logs WHERE {where}",
            f"SELECT timestamp, service, body FROM b.logs WHERE {where} ORDER BY timestamp DESC LIMIT 100",
        ], a.runs)
        result[name] = {"ms": ms, "count": int(count.strip())}
    ms, out = timed(s, [
        "SELECT count() FROM (SELECT toStartOfMinute(timestamp) AS m, severity_text, count() "
        "FROM b.logs GROUP BY m, severity_text)",
    ], a.runs)
    result["histogram"] = {"ms": ms, "count": int(out.strip())}
    # The logs of one trace (the table's bloom_filter index on trace_id, as ClickStack's).
    trace = a.trace_id.replace("'", "")
    where = f"trace_id = '{trace}'"
    ms, count = timed(s, [
        f"SELECT count() FROM b.logs WHERE {where}",
        f"SELECT timestamp, service, body FROM b.logs WHERE {where} ORDER BY timestamp DESC LIMIT 100",
    ], a.runs)
    result["trace"] = {"ms": ms, "count": int(count.strip())}
    ms, out = timed(s, [
        f"SELECT count() FROM (SELECT timestamp, service, body FROM b.logs WHERE {where} ORDER BY timestamp)",
    ], a.runs)
    result["trace_sql"] = {"ms": ms, "count": int(out.strip())}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
