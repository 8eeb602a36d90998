"""The PromQL benchmark's expressions, and how two answers are compared.

Every expression runs as an instant query at the data's end and as a 1 h range query at
a 15 s step ending there (`run.py`). The names are the metrics workload's
(`benches/src/metrics.rs`): 65 node_exporter hosts per unit of `--scale`, 20 services'
RED counters and latency histograms.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class Query(NamedTuple):
    name: str  # short name for the tables
    kind: str  # what issue 17 calls it
    expr: str
    ties: bool = False  # topk/bottomk: equal values may pick different members


QUERIES = [
    Query("req_rate", "sum by + rate", "sum by (service) (rate(http_requests_total[5m]))"),
    Query("req_increase_1h", "sum by + increase",
          "sum by (service, code) (increase(http_requests_total[1h]))"),
    Query("latency_p99", "histogram_quantile",
          "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))"),
    Query("top_routes", "topk", "topk(5, sum by (service, route) (rate(http_requests_total[5m])))", ties=True),
    Query("cpu_count", "count", "count by (mode) (node_cpu_seconds_total)"),
    Query("cpu_regex", "regex matchers + sum by",
          'sum by (instance) (rate(node_cpu_seconds_total{mode=~"user|system", instance=~"node-00.*"}[5m]))'),
    Query("api_5xx_regex", "regex matchers + sum by",
          'sum by (route) (rate(http_requests_total{code=~"5..", route=~"/api/.*"}[5m]))'),
    Query("load_max_1h", "max_over_time", "max_over_time(node_load1[1h])"),
    Query("error_ratio", "ratio of two sums",
          'sum by (service) (rate(http_requests_total{code="500"}[5m]))'
          " / sum by (service) (rate(http_requests_total[5m]))"),
    Query("latency_avg", "ratio of two sums",
          "sum by (service) (rate(http_request_duration_seconds_sum[5m]))"
          " / sum by (service) (rate(http_request_duration_seconds_count[5m]))"),
    Query("fs_usage", "filesystem usage",
          '100 * (1 - node_filesystem_avail_bytes{fstype!="tmpfs"} / node_filesystem_size_bytes{fstype!="tmpfs"})'),
    Query("load_avg", "avg by", "avg by (job) (node_load1)"),
    Query("cpu_busy", "CPU by instance",
          '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'),
    Query("mem_usage", "memory usage", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    Query("net_rx", "sum by + rate",
          'sum by (instance) (rate(node_network_receive_bytes_total{device!="lo"}[5m]))'),
]

REL_TOL = 1e-6

Series = dict[tuple, dict[int, float]]


def series_of(data: dict[str, Any]) -> Series:
    """An answer's `data` as {label set: {time ms: value}} (vector or matrix)."""
    out: Series = {}
    for r in data.get("result", []):
        key = tuple(sorted(r["metric"].items()))
        points = r["values"] if "values" in r else [r["value"]]
        out[key] = {round(float(t) * 1000): float(v) for t, v in points}
    return out


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-12 + REL_TOL * max(abs(a), abs(b))


def _fmt_key(key: tuple) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def _values_by_time(s: Series) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for points in s.values():
        for t, v in points.items():
            out.setdefault(t, []).append(v)
    return {t: sorted(vs) for t, vs in out.items()}


def compare(ref: Series, got: Series, ties: bool = False, limit: int = 3) -> list[str]:
    """Differences of `got` from the reference answer (empty when they agree): the same
    label sets with the same points, values within `REL_TOL` or both NaN. With `ties`,
    each time's values are compared as a multiset (topk may pick either of equal
    series), so only how many series each time has must match."""
    problems: list[str] = []
    if ties:
        rt, gt = _values_by_time(ref), _values_by_time(got)
        for t in sorted(rt.keys() | gt.keys()):
            a, b = rt.get(t, []), gt.get(t, [])
            if len(a) != len(b) or not all(close(x, y) for x, y in zip(a, b)):
                problems.append(f"at {t / 1000:.0f}: values {b[:6]} vs reference {a[:6]}")
            if len(problems) >= limit:
                break
        return problems
    missing, extra = ref.keys() - got.keys(), got.keys() - ref.keys()
    if missing:
        problems.append(f"{len(missing)} series missing, e.g. {_fmt_key(min(missing))}")
    if extra:
        problems.append(f"{len(extra)} series extra, e.g. {_fmt_key(min(extra))}")
    for key in sorted(ref.keys() & got.keys()):
        a, b = ref[key], got[key]
        if a.keys() != b.keys():
            problems.append(f"{_fmt_key(key)}: {len(b)} points, reference {len(a)}")
        else:
            bad = [t for t in a if not close(a[t], b[t])]
            if bad:
                t = bad[0]
                problems.append(f"{_fmt_key(key)}: {len(bad)} values differ, e.g. at {t / 1000:.0f}: "
                                f"{b[t]!r} vs reference {a[t]!r}")
        if len(problems) >= limit:
            break
    return problems


def drift(ref: Series, got: Series, ties: bool = False) -> dict[str, Any]:
    """How a peer with other semantics (MetricsQL) differs from the reference: whether
    it has the same series (`__name__` aside, which MetricsQL keeps on some functions)
    and points, and the largest relative difference of their values."""
    if not any("__name__" == k for key in ref for k, _ in key):
        got = {tuple(kv for kv in key if kv[0] != "__name__"): v for key, v in got.items()}
    if ties:
        pairs = [(rt, _values_by_time(got).get(t, [])) for t, rt in _values_by_time(ref).items()]
        same = len(got) == len(ref) and all(len(a) == len(b) for a, b in pairs)
        values = [(x, y) for a, b in pairs for x, y in zip(a, b)]
    else:
        same = ref.keys() == got.keys() and all(ref[k].keys() == got[k].keys() for k in ref)
        values = [(ref[k][t], got[k][t]) for k in ref.keys() & got.keys() for t in ref[k].keys() & got[k].keys()]
    worst = max((abs(a - b) / max(abs(a), abs(b)) for a, b in values
                 if math.isfinite(a) and math.isfinite(b) and max(abs(a), abs(b)) > 0), default=0.0)
    return {"same_series": same, "max_rel_diff": worst}
