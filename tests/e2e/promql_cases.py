"""The PromQL compliance suite's data and queries.

Deterministic series (counters with resets, gauges, a classic histogram, gaps
longer than the lookback delta, a staleness marker, NaN values, an info
metric) and a list of queries covering every function, aggregation, operator
and modifier of Prometheus 2.42. ``{end}`` and ``{mid}`` in a query are
replaced by Unix seconds of the data's end and middle.
"""

from __future__ import annotations

import math
import struct

STEP_MS = 15_000
N = 480  # 2 hours of samples per series
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
LE = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]

Sample = tuple[float, int]
SeriesData = tuple[dict[str, str], list[Sample]]


def _jitter(k: int, i: int) -> int:
    return (k * 7919 + i * 104729) % 4000


def generate(start_ms: int) -> list[SeriesData]:
    out: list[SeriesData] = []
    k = 0

    def t(i: int) -> int:
        return start_ms + i * STEP_MS + _jitter(k, i)

    for job in ("api", "web"):
        for inst in ("i0", "i1", "i2"):
            for method in ("get", "post"):
                for status in ("200", "500"):
                    labels = {"__name__": "demo_requests_total", "job": job, "instance": inst, "method": method, "status": status}
                    v, samples = 0.0, []
                    for i in range(N):
                        inc = (k * 3 + i * 7) % 11 + (5 if status == "200" else 0)
                        v = float(inc) if (k % 5 == 0 and i == 200) else v + inc
                        samples.append((v, t(i)))
                    out.append((labels, samples))
                    k += 1
    for host in ("a", "b", "c", "d"):
        for zone in ("z1", "z2"):
            labels = {"__name__": "demo_cpu_temp_celsius", "host": host, "zone": zone}
            base = -10.0 if host == "d" else 40.0
            out.append((labels, [(round(base + 15 * math.sin(i / 23 + k), 3), t(i)) for i in range(N)]))
            k += 1
    for job in ("api", "web"):
        cum = [0.0] * len(LE)
        total_sum = 0.0
        rows: dict[str, list[Sample]] = {le: [] for le in LE}
        sums: list[Sample] = []
        counts: list[Sample] = []
        for i in range(N):
            shares = [(i + j + k) % 4 for j in range(len(LE) - 1)] + [(i * 3 + k) % 3]
            running = 0.0
            for j, le in enumerate(LE):
                running += shares[j]
                cum[j] += running
                rows[le].append((cum[j], t(i)))
            total_sum += running * 0.37
            sums.append((round(total_sum, 6), t(i)))
            counts.append((cum[-1], t(i)))
        for le in LE:
            out.append(({"__name__": "demo_latency_seconds_bucket", "job": job, "le": le}, rows[le]))
        out.append(({"__name__": "demo_latency_seconds_sum", "job": job}, sums))
        out.append(({"__name__": "demo_latency_seconds_count", "job": job}, counts))
        k += 1
    gappy = [i for i in range(N) if i < 100 or 150 <= i < 300 or i >= 400]
    out.append(({"__name__": "demo_sparse", "kind": "gappy"}, [(float(i % 17), t(i)) for i in gappy]))
    k += 1
    stale: list[Sample] = []
    for i in range(N):
        if i == 250:
            stale.append((STALE_NAN, t(i)))
        elif not 250 < i < 270:
            stale.append((float(i % 13), t(i)))
    out.append(({"__name__": "demo_sparse", "kind": "stale"}, stale))
    k += 1
    for a, b in (("x-1", "y_1"), ("x-2", "y_1"), ("x-3", "y_2"), ("x-4", "y_2")):
        labels = {"__name__": "demo_items", "a": a, "b": b}
        out.append((labels, [(float((i // 40 + k) % 4 + 1), t(i)) for i in range(N)]))
        k += 1
    for job in ("api", "web"):
        for inst in ("i0", "i1", "i2"):
            labels = {"__name__": "demo_info", "job": job, "instance": inst, "version": f"v{k % 3}"}
            out.append((labels, [(1.0, t(i)) for i in range(N)]))
            k += 1
    out.append(({"__name__": "demo_nan", "kind": "nan"}, [(math.nan if i % 10 == 0 else float(i), t(i)) for i in range(N)]))
    return out


RANGE_FUNCS = [
    "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time", "absent_over_time",
]
RANGE_ARGS = ["demo_requests_total[5m]", "demo_cpu_temp_celsius[10m]", "demo_sparse[5m]", "demo_nan[3m]"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
GROUPINGS = ["", " by (job)", " without (instance, method)"]
MATH = [
    "abs", "ceil", "floor", "sqrt", "ln", "log2", "log10", "sgn", "sin", "cos", "tan", "sinh",
    "cosh", "tanh", "asinh", "atan", "deg", "rad",
]

QUERIES: list[str] = [
    # Selectors and modifiers.
    "demo_requests_total",
    'demo_requests_total{job="api"}',
    'demo_requests_total{job!="api"}',
    'demo_requests_total{instance=~"i[01]"}',
    'demo_requests_total{instance!~"i1|i2", method="get"}',
    '{__name__="demo_cpu_temp_celsius"}',
    '{__name__=~"demo_cpu_temp_celsius|demo_items"}',
    "demo_cpu_temp_celsius offset 10m",
    "demo_cpu_temp_celsius offset -5m",
    "demo_cpu_temp_celsius @ {mid}",
    "demo_cpu_temp_celsius @ start()",
    "demo_cpu_temp_celsius @ end()",
    "demo_cpu_temp_celsius @ {mid} offset 2m",
    "demo_sparse",
    "demo_sparse offset 3m",
    "demo_nan",
    "demo_nonexistent",
    'demo_requests_total{job=""}',
    'demo_requests_total{nolabel=""}',
    "demo_requests_total[5m]",
    "demo_cpu_temp_celsius[2m] offset 1m",
    "demo_sparse[10m]",
    "1",
    "-2.5",
    '"a string"',
    "1 + 2 * 3",
    "2 ^ 3 ^ 2",
    "10 % 3",
    "1 > bool 2",
    "(1 == bool 1) + 1",
    "time()",
    "pi()",
    # Aggregations.
    *[f"{a}{g} (demo_requests_total)" for a in AGGS for g in GROUPINGS],
    *[f"{a} by (zone) (demo_cpu_temp_celsius)" for a in AGGS],
    "sum by (__name__) (demo_cpu_temp_celsius)",
    "sum without () (demo_requests_total)",
    "topk(3, demo_cpu_temp_celsius)",
    "bottomk(2, demo_cpu_temp_celsius)",
    "topk by (zone) (1, demo_cpu_temp_celsius)",
    "bottomk without (host) (1, demo_cpu_temp_celsius)",
    "topk(0, demo_cpu_temp_celsius)",
    "topk(100, demo_cpu_temp_celsius)",
    "quantile(0.5, demo_cpu_temp_celsius)",
    "quantile(0.9, demo_requests_total) by (job)",
    "quantile(0, demo_cpu_temp_celsius)",
    "quantile(1.5, demo_cpu_temp_celsius)",
    'count_values("value", demo_items)',
    'count_values by (b) ("v", demo_items)',
    "avg(demo_nan)",
    "max(demo_nan)",
    "min(demo_nan)",
    "stddev(demo_cpu_temp_celsius) by (host)",
    # Range-vector functions.
    *[f"{f}({a})" for f in RANGE_FUNCS for a in RANGE_ARGS],
    "quantile_over_time(0.9, demo_cpu_temp_celsius[10m])",
    "quantile_over_time(0.1, demo_requests_total[5m])",
    "predict_linear(demo_cpu_temp_celsius[15m], 600)",
    "predict_linear(demo_requests_total[10m], 3600)",
    "holt_winters(demo_cpu_temp_celsius[10m], 0.3, 0.6)",
    "holt_winters(demo_requests_total[10m], 0.5, 0.1)",
    "rate(demo_requests_total[1m])",
    "rate(demo_requests_total[5m] offset 10m)",
    "rate(demo_requests_total[5m] @ end())",
    "rate(demo_requests_total[5m] @ {mid})",
    "increase(demo_requests_total[2h])",
    "irate(demo_requests_total[15s])",
    "rate(demo_latency_seconds_count[5m])",
    "delta(demo_cpu_temp_celsius[1h])",
    # Subqueries.
    "max_over_time(rate(demo_requests_total[5m])[30m:1m])",
    "avg_over_time(demo_cpu_temp_celsius[15m:])",
    "rate(demo_requests_total[5m:30s])",
    "min_over_time(sum by (job) (demo_requests_total)[20m:2m] offset 5m)",
    "deriv(avg(demo_cpu_temp_celsius)[30m:1m])",
    "max_over_time(demo_cpu_temp_celsius[10m:1m] @ end())",
    "sum_over_time(demo_sparse[20m:1m])",
    "count_over_time(demo_nonexistent[10m:1m])",
    "absent_over_time(demo_nonexistent[10m:1m])",
    "demo_cpu_temp_celsius[5m:1m]",
    "last_over_time(demo_cpu_temp_celsius[5m:1m])",
    # Histograms.
    "histogram_quantile(0.5, rate(demo_latency_seconds_bucket[5m]))",
    "histogram_quantile(0.99, sum by (le) (rate(demo_latency_seconds_bucket[5m])))",
    "histogram_quantile(0.9, sum by (le, job) (rate(demo_latency_seconds_bucket[10m])))",
    "histogram_quantile(1.5, rate(demo_latency_seconds_bucket[5m]))",
    "histogram_quantile(-1, rate(demo_latency_seconds_bucket[5m]))",
    "histogram_quantile(0.5, demo_latency_seconds_bucket)",
    "histogram_quantile(0.75, demo_latency_seconds_bucket{le!=\"+Inf\"})",
    "rate(demo_latency_seconds_sum[5m]) / rate(demo_latency_seconds_count[5m])",
    # Instant-vector functions.
    *[f"{f}(demo_cpu_temp_celsius)" for f in MATH],
    "exp(demo_cpu_temp_celsius / 100)",
    "sqrt(demo_requests_total)",
    "asin(demo_items / 10)",
    "acos(demo_items / 10)",
    "acosh(demo_items + 1)",
    "atanh(demo_items / 10)",
    "round(demo_cpu_temp_celsius)",
    "round(demo_cpu_temp_celsius, 0.5)",
    "round(demo_cpu_temp_celsius, 5)",
    "clamp(demo_cpu_temp_celsius, 30, 50)",
    "clamp(demo_cpu_temp_celsius, 50, 30)",
    "clamp_min(demo_cpu_temp_celsius, 40)",
    "clamp_max(demo_cpu_temp_celsius, 40)",
    "timestamp(demo_cpu_temp_celsius)",
    "timestamp(demo_sparse)",
    "timestamp(demo_cpu_temp_celsius offset 1m)",
    "timestamp(sum(demo_cpu_temp_celsius))",
    "vector(time())",
    "vector(1) + vector(2)",
    "scalar(sum(demo_cpu_temp_celsius))",
    "scalar(demo_cpu_temp_celsius)",
    "sort(demo_cpu_temp_celsius)",
    "sort_desc(demo_cpu_temp_celsius)",
    'label_replace(demo_requests_total, "foo", "$1-x", "instance", "i(.*)")',
    'label_replace(demo_requests_total, "foo", "$1", "instance", "nomatch(.*)")',
    'label_replace(demo_items, "a", "${1}_$2", "a", "(x)-(.*)")',
    'label_replace(demo_requests_total, "instance", "", "instance", ".*")',
    'label_replace(demo_items, "1bad", "x", "a", ".*")',
    'label_join(demo_requests_total, "ji", ",", "job", "instance")',
    'label_join(demo_items, "a", "", "b")',
    'absent(demo_nonexistent{job="x"})',
    "absent(demo_requests_total)",
    'absent(demo_nonexistent{a="b", a=~"c"})',
    'absent(demo_nonexistent{a=~"b"})',
    "absent(sum(demo_nonexistent))",
    'absent_over_time(demo_nonexistent{job="x"}[5m])',
    "year()", "month()", "day_of_month()", "day_of_week()", "day_of_year()", "hour()", "minute()", "days_in_month()",
    # Calendar functions of a constant: the same answer on any date.
    "year(vector(1709214300))",  # fixed date: a constant's year
    "day_of_week(vector(1709214300))",  # fixed date: a constant's weekday
    "days_in_month(vector(1709214300))",  # fixed date: a constant's month length
    "minute(demo_items * 600)",
    "histogram_count(demo_latency_seconds_count)",
    # Binary operators.
    "demo_requests_total + 1",
    "2 * demo_requests_total",
    "demo_cpu_temp_celsius > 40",
    "demo_cpu_temp_celsius > bool 40",
    "40 < demo_cpu_temp_celsius",
    "40 >= bool demo_cpu_temp_celsius",
    "demo_cpu_temp_celsius == bool demo_cpu_temp_celsius",
    "demo_cpu_temp_celsius != demo_cpu_temp_celsius offset 1m",
    "demo_cpu_temp_celsius - demo_cpu_temp_celsius offset 5m",
    "demo_requests_total % 7",
    "demo_items ^ 2",
    "demo_cpu_temp_celsius atan2 10",
    "-demo_cpu_temp_celsius",
    "demo_requests_total / ignoring(status) group_left sum without (status) (demo_requests_total)",
    "demo_requests_total / on(job, instance, method) group_left sum by (job, instance, method) (demo_requests_total)",
    "sum by (job, instance) (rate(demo_requests_total[5m])) * on (job, instance) group_left(version) demo_info",
    "demo_info * on (job, instance) group_right(version) sum by (job, instance) (rate(demo_requests_total[5m]))",
    "demo_requests_total{status=\"500\"} / ignoring(status) demo_requests_total{status=\"200\"}",
    "demo_requests_total{status=\"500\"} > on(job, instance, method) demo_requests_total{status=\"200\"}",
    "demo_requests_total{status=\"500\"} < bool ignoring(status) demo_requests_total{status=\"200\"}",
    "demo_requests_total + on(job) demo_info",
    "demo_requests_total + demo_info",
    "sum by (job) (demo_requests_total) / on() group_left sum(demo_requests_total)",
    "sum(rate(demo_requests_total[5m])) by (job) / sum(rate(demo_requests_total[5m])) by (job)",
    'demo_requests_total and demo_requests_total{method="get"}',
    "demo_requests_total or demo_cpu_temp_celsius",
    'demo_requests_total unless on(job) demo_requests_total{job="api"}',
    'demo_requests_total and on(instance) demo_info{instance="i1"}',
    'demo_requests_total unless ignoring(status) demo_requests_total{status="500"}',
    "rate(demo_requests_total[5m]) > 1 and rate(demo_requests_total[5m]) < 1.5",
    'demo_sparse{kind="gappy"} or demo_sparse{kind="stale"} * 10',
    "count(demo_requests_total > 1000)",
    "count(rate(demo_requests_total[5m]) > 0.5) by (job)",
    "demo_nan > 100",
    "demo_nan == bool demo_nan",
    "scalar(count(demo_items)) * demo_items",
    "demo_items / scalar(sum(demo_items))",
    "(demo_items) + (demo_items offset 40m)",
    'sum(demo_requests_total{job="api"}) - sum(demo_requests_total{job="web"})',
    "avg by (job) (irate(demo_requests_total[1m])) * 60",
    "max by (host) (max_over_time(demo_cpu_temp_celsius[30m]))",
    "sum by (status) (increase(demo_requests_total[30m]))",
    "topk(2, sum by (instance) (rate(demo_requests_total[10m])))",
    "changes(demo_items[1h])",
    "resets(demo_requests_total[2h])",
    # Edge cases found by reviewing the evaluator against 2.42's engine.
    'demo_items == ignoring(a) demo_items{a="x-1"}',
    'demo_requests_total{job="none"} / on(job) demo_info',
    "clamp(demo_nan, 10, 20)",
    "clamp_min(demo_nan, 500)",
    "clamp(demo_cpu_temp_celsius, NaN, 50)",
    "clamp_min(demo_cpu_temp_celsius, NaN)",
    "sort(demo_cpu_temp_celsius or vector(NaN))",
    "sort_desc(demo_cpu_temp_celsius or vector(NaN))",
    "quantile(0.5, demo_cpu_temp_celsius or vector(NaN))",
    "quantile_over_time(0.5, demo_nan[3m])",
    "quantile(0.5, demo_requests_total or vector(NaN))",
    "stddev by (host, zone) (demo_cpu_temp_celsius / 0)",
    "stdvar(demo_nan)",
    "timestamp(demo_cpu_temp_celsius @ {mid} offset 2m)",
    "predict_linear(demo_cpu_temp_celsius[15m] @ {mid}, 600)",
    'quantile_over_time(scalar(demo_items{a="x-1"}) / 5, demo_cpu_temp_celsius[10m] @ {mid})',
    'topk(scalar(demo_items{a="x-1"}), demo_cpu_temp_celsius @ {mid})',
    '-(label_replace(demo_items{a="x-1"} > 2, "__name__", "m1", "", "") or label_replace(demo_items{a="x-1"} <= 2, "__name__", "m2", "", ""))',
    'max_over_time((label_replace(demo_items{a="x-1"} > 2, "__name__", "m1", "", "") or label_replace(demo_items{a="x-1"} <= 2, "__name__", "m2", "", ""))[59s:1m])',
    'count_values without (a) ("a", demo_items)',
    'label_join(demo_items, "c", "-", "a", "1bad")',
    'label_replace(demo_items, "c", "z", "a", "x-1{x}")',
    'demo_items{a=~"(?<n>x)-1"}',
    "ln(0)",
    "quantile(NaN, demo_cpu_temp_celsius)",
    "histogram_quantile(NaN, demo_latency_seconds_bucket)",
    "topk(NaN, demo_cpu_temp_celsius)",
    "holt_winters(demo_nonexistent[10m], 2, 0.5)",
    "sum_over_time(vector(1e17 * (time() / 60 % 4 == bool 0) - 1e17 * (time() / 60 % 4 == bool 2) + time() / 60 % 2)[3m:1m])",
    "year(vector(1e13))",
    'topk(5, {__name__=~"demo_info|demo_items"})',
    "topk(2, demo_info)",
    "sort(demo_info)",
    # More shapes: nested subqueries, modifiers inside subqueries, grouping corner cases.
    "max_over_time(deriv(rate(demo_requests_total[5m])[10m:1m])[30m:5m])",
    "avg_over_time(demo_cpu_temp_celsius[10m:1m] offset 7m)",
    "sum_over_time(demo_items[20m:3m] @ {mid})",
    "rate(demo_requests_total[5m] offset 1h)",
    "sum without (status, method) (rate(demo_requests_total[5m]))",
    "count by (job) (count by (job, instance) (demo_requests_total))",
    "max by (job, instance) (demo_requests_total) - min by (job, instance) (demo_requests_total)",
    "topk(1, demo_requests_total) by (job)",
    "bottomk(2, rate(demo_requests_total[10m])) by (status)",
    "quantile by (zone) (0.25, demo_cpu_temp_celsius)",
    "stdvar by (job) (rate(demo_requests_total[5m]))",
    "group without (instance) (demo_requests_total)",
    "sum(demo_requests_total) by (job) > bool 20000",
    "sum(demo_requests_total) by (job) == on(job) group_left max by (job) (demo_requests_total)",
    "demo_requests_total > on(job, instance, method, status) group_left demo_requests_total offset 10m",
    "demo_items and on() vector(1)",
    "demo_items unless on() vector(1)",
    "vector(1) or demo_items",
    "(demo_cpu_temp_celsius > 30) * 2",
    "absent(demo_sparse{kind=\"gappy\"})",
    "absent_over_time(demo_sparse{kind=\"gappy\"}[2m])",
    "present_over_time(demo_sparse[2m])",
    "changes(demo_sparse[30m])",
    "last_over_time(demo_sparse[10m])",
    "timestamp(last_over_time(demo_sparse[10m]))",
    "idelta(demo_cpu_temp_celsius[2m])",
    "deriv(demo_requests_total[15m])",
    "round(rate(demo_requests_total[5m]), 0.01)",
    "clamp_max(rate(demo_requests_total[5m]), 1)",
    "label_replace(rate(demo_requests_total[5m]), \"svc\", \"$1\", \"job\", \"(a|w).*\")",
]

# Queries whose result Prometheus returns in a defined order (compared as lists).
ORDERED_PREFIXES = ("sort(", "sort_desc(")

# Known, documented differences from Prometheus 2.42 (docs/promql.md): query -> reason.
_AT_BUG = (
    "2.42 evaluates a call holding an @ selector once per step with the window sliding "
    "past the @ time (fixed in Prometheus 2.51, PR #13559); Osprey keeps the window at @"
)
DEVIATIONS: dict[str, str] = {
    "predict_linear(demo_cpu_temp_celsius[15m] @ {mid}, 600)": _AT_BUG,
    'quantile_over_time(scalar(demo_items{a="x-1"}) / 5, demo_cpu_temp_celsius[10m] @ {mid})': _AT_BUG,
    'topk(scalar(demo_items{a="x-1"}), demo_cpu_temp_celsius @ {mid})': (
        "2.42 evaluates an aggregation over a step-invariant input once and copies it to "
        "every step, freezing k at the start; Osprey reads k at each step"
    ),
    'topk(5, {__name__=~"demo_info|demo_items"})': (
        "ties: which of several equal values topk keeps depends on the input order, which "
        "in 2.42 is series creation order in the head (label order in blocks); Osprey "
        "orders by labels"
    ),
}
