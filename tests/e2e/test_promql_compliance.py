"""PromQL compliance: Osprey against a real Prometheus 2.42 on the same samples.

The same deterministic series (promql_cases.generate) go into Debian's
prometheus and into Osprey over remote_write 1.0, in time-ordered slices. Then
every query of promql_cases.QUERIES runs as two instant queries and two range
queries (1 h at 60 s, 45 min at 37 s) against both, and the results are compared:
same result type, same series, same timestamps, values equal within 1e-9
relative (or 1e-12 absolute, for sums that cancel to zero with a different
rounding). When both sides refuse a query (a parse error, a matching error)
the error types must agree. The pass rate is printed; every mismatch not in
promql_cases.DEVIATIONS fails the test.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import requests

from harness import HTTP_TIMEOUT_S, OspreyServer
from peers import PrometheusServer, prometheus  # noqa: F401 - fixture
from promql_cases import DEVIATIONS, N, ORDERED_PREFIXES, QUERIES, STEP_MS, generate
from test_remote_write import encode_write_request, snappy

SLICE_MS = 10 * 60_000


def write_both(
    servers: list[str], data: list[tuple[dict[str, str], list[tuple[float, int]]]], start_ms: int, flush: OspreyServer
) -> None:
    """Writes the series slice by slice (10 min each), oldest first, to every server.
    Osprey flushes after 70 minutes of data and after the last slice, so queries read
    Parquet files (through the series_id page index), the memtable, and both at once."""
    end_ms = start_ms + N * STEP_MS + SLICE_MS
    for lo in range(start_ms, end_ms, SLICE_MS):
        if lo == start_ms + 7 * SLICE_MS:
            flush.flush()
        part = []
        for labels, samples in data:
            s = [(v, t) for v, t in samples if lo <= t < lo + SLICE_MS]
            if s:
                part.append((labels, s))
        if not part:
            continue
        body = snappy(encode_write_request(part))
        for url in servers:
            resp = requests.post(
                url + "/api/v1/write",
                data=body,
                headers={
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                    "X-Prometheus-Remote-Write-Version": "0.1.0",
                },
                timeout=HTTP_TIMEOUT_S,
            )
            assert resp.status_code in (200, 204), f"{url}: {resp.status_code} {resp.text}"


def _num(s: str) -> float:
    return float(s)  # Python parses "NaN", "+Inf", "-Inf" as Go writes them


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-12)


def _key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(metric.items()))


def compare(query: str, ours: requests.Response, theirs: requests.Response) -> str | None:
    """None when the answers agree, else what differs."""
    a, b = ours.json(), theirs.json()
    if b["status"] != "success" or a["status"] != "success":
        if a["status"] == b["status"] == "error":
            if a.get("errorType") != b.get("errorType"):
                return f"error types differ: ours {a.get('errorType')} ({a.get('error')}), prometheus {b.get('errorType')} ({b.get('error')})"
            return None
        return f"ours {a['status']}: {a.get('error')} / prometheus {b['status']}: {b.get('error')}"
    da, db = a["data"], b["data"]
    if da["resultType"] != db["resultType"]:
        return f"result type {da['resultType']} vs {db['resultType']}"
    rt = db["resultType"]
    if rt in ("scalar", "string"):
        (ta, va), (tb, vb) = da["result"], db["result"]
        if abs(float(ta) - float(tb)) > 1e-6:
            return f"time {ta} vs {tb}"
        if rt == "string":
            return None if va == vb else f"{va!r} vs {vb!r}"
        return None if _close(_num(va), _num(vb)) else f"{va} vs {vb}"
    ra, rb = da["result"], db["result"]
    if rt == "vector" and query.startswith(ORDERED_PREFIXES):
        order_a = [_key(r["metric"]) for r in ra]
        order_b = [_key(r["metric"]) for r in rb]
        if order_a != order_b:
            return f"order differs: {order_a} vs {order_b}"
    ma = {_key(r["metric"]): r for r in ra}
    mb = {_key(r["metric"]): r for r in rb}
    if len(ma) != len(ra):
        return "duplicate series in our result"
    if set(ma) != set(mb):
        only_a = sorted(set(ma) - set(mb))[:3]
        only_b = sorted(set(mb) - set(ma))[:3]
        return f"series differ ({len(ma)} vs {len(mb)}): only ours {only_a}, only prometheus {only_b}"
    for k, rb_ in mb.items():
        ra_ = ma[k]
        pa = [ra_["value"]] if rt == "vector" else ra_["values"]
        pb = [rb_["value"]] if rt == "vector" else rb_["values"]
        if len(pa) != len(pb):
            return f"{dict(k)}: {len(pa)} points vs {len(pb)}"
        for (ta, va), (tb, vb) in zip(pa, pb):
            if abs(float(ta) - float(tb)) > 1e-6:
                return f"{dict(k)}: time {ta} vs {tb}"
            if not _close(_num(va), _num(vb)):
                return f"{dict(k)} at {tb}: {va} vs {vb}"
    return None


def test_promql_matches_prometheus(osprey: OspreyServer, prometheus: PrometheusServer, capsys: pytest.CaptureFixture[str]) -> None:
    now_ms = int(time.time() * 1000)
    end_ms = now_ms // 60_000 * 60_000 - 60_000
    start_ms = end_ms - N * STEP_MS
    write_both([osprey.http(), prometheus.url], generate(start_ms), start_ms, flush=osprey)
    # The last 50 minutes stay in the memtable; files hold the rest.

    end_s, mid_s = end_ms / 1000, (start_ms + end_ms) // 2000
    modes: list[tuple[str, dict[str, Any]]] = [
        ("instant@end", {"time": end_s}),
        ("instant@-17m33s", {"time": end_s - 1053}),
        ("range 1h/60s", {"start": end_s - 3600, "end": end_s, "step": "60"}),
        ("range 45m/37s", {"start": end_s - 2700 - 7, "end": end_s, "step": "37"}),
    ]
    total, passed = 0, 0
    failures: list[str] = []
    deviations_seen: list[str] = []
    for template in QUERIES:
        query = template.replace("{end}", str(int(end_s))).replace("{mid}", str(mid_s))
        for mode, params in modes:
            path = "/api/v1/query" if "time" in params else "/api/v1/query_range"
            theirs = prometheus.get(path, query=query, **params)
            ours = requests.get(osprey.http(path), params={"query": query, **params}, timeout=HTTP_TIMEOUT_S)
            total += 1
            diff = compare(template, ours, theirs)
            if diff is None:
                passed += 1
            elif template in DEVIATIONS:
                deviations_seen.append(f"{mode} {query}: {diff} [documented: {DEVIATIONS[template]}]")
            else:
                failures.append(f"{mode} {query}\n    {diff}")
    with capsys.disabled():
        print(
            f"\nPromQL compliance vs Prometheus 2.42: {passed}/{total} comparisons pass "
            f"({100.0 * passed / total:.1f}%), {len(QUERIES)} queries x {len(modes)} modes, "
            f"{len(deviations_seen)} documented deviations, {len(failures)} failures"
        )
    assert len(QUERIES) >= 200
    assert not failures, f"{len(failures)} of {total} comparisons differ:\n" + "\n".join(failures[:60])
