#!/usr/bin/env python3
"""A dashboard of 30 panels over the demo data (issue 19, item 9: under 2 s), in
Debian's Chromium driven by Playwright.

    .venv/bin/python benches/dashboards/run.py [--runs 5] [--bin target/release/osprey] [--seed 60]

A benchmark, not a test: it prints a markdown table (for benches/README.md).

Method: `osprey serve` (release) on a temporary data dir, span metrics every second,
seeded by `osprey demo` for `--seed` seconds at rate 20. The dashboard (built below,
stored through the API) has 30 panels of every kind the demo can fill: 12 time
series (RED per service, latency quantiles, host CPU/memory/load/network), 8 stats,
4 gauges, 2 bar gauges, 2 tables, a heatmap and a logs panel, over the last 15
minutes. Each load is cold (a new browser context): an init script records, on every
animation frame, the first `performance.now()` (ms since navigation start) at which
every panel of the page has its answer (`data-state` is `done` or `static`), and
when the first panel did. Loads run `--runs` times; the table gives the median and
the max, with the number of API requests the page made.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import OspreyServer, wait_until  # noqa: E402
from uikit import ARGS, CHROMIUM  # noqa: E402

RATE = "rate(traces_span_metrics_calls_total{span_kind=\"SPAN_KIND_SERVER\"}[$__rate_interval])"
DUR = "traces_span_metrics_duration_milliseconds_bucket{span_kind=\"SPAN_KIND_SERVER\"}"

TIMESERIES = [
    ("Requests by service", f"sum by (service_name) ({RATE})", "reqps"),
    ("Errors by service", f"sum by (service_name) (rate(traces_span_metrics_calls_total{{status_code=\"STATUS_CODE_ERROR\"}}[$__rate_interval]))", "reqps"),
    ("p50 by service", f"histogram_quantile(0.5, sum by (service_name, le) (rate({DUR}[$__rate_interval])))", "ms"),
    ("p95 by service", f"histogram_quantile(0.95, sum by (service_name, le) (rate({DUR}[$__rate_interval])))", "ms"),
    ("p99 by service", f"histogram_quantile(0.99, sum by (service_name, le) (rate({DUR}[$__rate_interval])))", "ms"),
    ("Requests by operation", f"topk(10, sum by (span_name) ({RATE}))", "reqps"),
    ("CPU by host", "sum by (instance) (system_cpu_utilization_ratio)", "percentunit"),
    ("Memory by host", "sum by (instance) (system_memory_usage_bytes{state=\"used\"})", "bytes"),
    ("Load by host", "system_cpu_load_average_1m", "short"),
    ("Network by host", "sum by (instance) (rate(system_network_io_bytes_total[$__rate_interval]))", "Bps"),
    ("HTTP requests by job", "sum by (job) (rate(http_server_requests_total[$__rate_interval]))", "reqps"),
    ("HTTP p95 by job", "histogram_quantile(0.95, sum by (job, le) (rate(http_server_request_duration_seconds_bucket[$__rate_interval])))", "s"),
]
STATS = [
    ("Total requests/s", f"sum({RATE})", "reqps"),
    ("Error ratio", f"sum(rate(traces_span_metrics_calls_total{{status_code=\"STATUS_CODE_ERROR\"}}[$__rate_interval])) / sum({RATE})", "percentunit"),
    ("p99", f"histogram_quantile(0.99, sum by (le) (rate({DUR}[$__rate_interval])))", "ms"),
    ("Services", "count(count by (service_name) (traces_span_metrics_calls_total))", "short"),
    ("Hosts", "count(count by (instance) (system_cpu_load_average_1m))", "short"),
    ("Busiest CPU", "max(sum by (instance) (system_cpu_utilization_ratio))", "percentunit"),
    ("Max load", "max(system_cpu_load_average_1m)", "short"),
    ("HTTP requests/s", "sum(rate(http_server_requests_total[$__rate_interval]))", "reqps"),
]


def panel(pid: int, kind: str, title: str, expr: str, unit: str, x: int, y: int, w: int, h: int, **extra) -> dict:
    target = {"refId": "A", "expr": expr, "legendFormat": extra.pop("legend", "")}
    target.update(extra.pop("target", {}))
    return {"id": pid, "type": kind, "title": title, "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "datasource": {"type": extra.pop("ds", "prometheus"), "uid": "osprey"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "targets": [target], **extra}


def dashboard() -> dict:
    panels, pid, y = [], 1, 0
    for i, (title, expr, unit) in enumerate(STATS):
        panels.append(panel(pid, "stat", title, expr, unit, (i % 8) * 3, y, 3, 4)); pid += 1
    y += 4
    for i, (title, expr, unit) in enumerate(TIMESERIES):
        panels.append(panel(pid, "timeseries", title, expr, unit, (i % 3) * 8, y + (i // 3) * 8, 8, 8)); pid += 1
    y += 32
    for i, host in enumerate(["host-a", "host-b", "host-c", "host-b"]):
        expr = f"sum(system_cpu_utilization_ratio{{instance=\"{host}\"}})" if i < 3 else "max(sum by (instance) (system_cpu_utilization_ratio))"
        panels.append(panel(pid, "gauge", f"CPU {host}", expr, "percentunit", i * 6, y, 6, 6)); pid += 1
    y += 6
    panels.append(panel(pid, "bargauge", "Filesystems", "system_filesystem_usage_bytes{state=\"used\"} / ignoring(state) sum without(state) (system_filesystem_usage_bytes)", "percentunit", 0, y, 12, 6, target={"instant": True})); pid += 1
    panels.append(panel(pid, "bargauge", "Requests by service now", f"sum by (service_name) ({RATE})", "reqps", 12, y, 12, 6)); pid += 1
    y += 6
    panels.append(panel(pid, "table", "Services", f"sum by (service_name) ({RATE})", "reqps", 0, y, 12, 8, target={"instant": True, "format": "table"})); pid += 1
    panels.append(panel(pid, "table", "Operations", f"topk(20, sum by (service_name, span_name) ({RATE}))", "reqps", 12, y, 12, 8, target={"instant": True, "format": "table"})); pid += 1
    y += 8
    panels.append(panel(pid, "heatmap", "Latency heatmap", f"sum by (le) (increase({DUR}[$__interval]))", "short", 0, y, 12, 8, target={"format": "heatmap"})); pid += 1
    panels.append(panel(pid, "logs", "Error logs", "{service_name=~\".+\"} | detected_level=\"error\"", "short", 12, y, 12, 8, ds="loki")); pid += 1
    assert len(panels) == 30, len(panels)
    return {"uid": "bench-30", "title": "Thirty panels", "schemaVersion": 39, "time": {"from": "now-15m", "to": "now"},
            "panels": panels}


# Records when the first panel and when every panel had its answer.
TIMING = """
(() => {
  window.__dash = { first: null, all: null };
  const tick = () => {
    const ps = [...document.querySelectorAll('[data-testid=dash-panel]')];
    const done = ps.filter((p) => p.dataset.state === 'done' || p.dataset.state === 'static').length;
    if (done > 0 && window.__dash.first === null) window.__dash.first = performance.now();
    if (ps.length === 30 && done === 30) { window.__dash.all = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "osprey"))
    ap.add_argument("--seed", type=int, default=60, help="seconds of demo data")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        cfg = work / "osprey.toml"
        cfg.write_text('[spanmetrics]\ninterval = "1s"\n')
        server = OspreyServer(Path(args.bin), work / "data", work, name="bench-dash", args=["--config", str(cfg)])
        server.start()
        try:
            proc = subprocess.run([args.bin, "demo", "--endpoint", server.grpc_endpoint, "--duration", f"{args.seed}s",
                                   "--rate", "20", "--seed", "3"], capture_output=True, text=True, timeout=args.seed + 60)
            assert proc.returncode == 0, proc.stderr
            wait_until(lambda: server.prom_query("count(traces_span_metrics_calls_total)") != [], timeout=30,
                       message="span metrics")
            r = server.post("/api/v1/dashboards", json={"dashboard": dashboard()})
            assert r.status_code == 200, r.text
            url = server.http("/d/bench-30?from=now-15m&to=now")
            alls, firsts, reqs = [], [], []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                for _ in range(args.runs + 1):  # the first load warms the server's caches
                    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                    page = ctx.new_page()
                    page.add_init_script(TIMING)
                    count = {"n": 0}
                    page.on("request", lambda rq: count.__setitem__("n", count["n"] + 1) if "/api/" in rq.url else None)
                    page.goto(url)
                    page.wait_for_function("() => window.__dash && window.__dash.all !== null", timeout=60_000)
                    t = page.evaluate("() => window.__dash")
                    states = page.eval_on_selector_all("[data-testid=dash-panel]", "ps => ps.map(p => p.dataset.state)")
                    assert states.count("done") == 30, states
                    alls.append(t["all"]); firsts.append(t["first"]); reqs.append(count["n"])
                    ctx.close()
                browser.close()
            alls, firsts, reqs = alls[1:], firsts[1:], reqs[1:]
            print(f"commit {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=ROOT).stdout.strip()}, "
                  f"{time.strftime('%Y-%m-%d', time.gmtime())}, {args.runs} cold loads, demo seeded {args.seed}s")
            print("| measure | median | max | target |\n|---|---:|---:|---:|")
            print(f"| first panel with its answer | {statistics.median(firsts):.0f} ms | {max(firsts):.0f} ms | |")
            print(f"| all 30 panels with their answers | {statistics.median(alls):.0f} ms | {max(alls):.0f} ms | < 2000 ms |")
            print(f"| API requests per load | {statistics.median(reqs):.0f} | {max(reqs)} | |")
            print(json.dumps({"all_ms": alls, "first_ms": firsts}))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
