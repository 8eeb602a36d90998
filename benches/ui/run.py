#!/usr/bin/env python3
"""Web UI speed (issue 16): first render of every view, the logs view with 100k
matching lines, and a 10,000-span trace, in Debian's Chromium driven by Playwright.

    .venv/bin/python benches/ui/run.py [--runs 5] [--bin target/release/osprey]

A benchmark, not a test: it prints markdown tables (for benches/README.md) and
asserts only that the data it seeded is there. Needs the repo's .venv (playwright,
requests) and Debian's `chromium`.

Method:

1. **Server.** `osprey serve` on a temporary data dir and free ports, span metrics
   every second (`[spanmetrics] interval = "1s"`), seeded by `osprey demo` for
   `--seed` seconds (rate 20). Then 100,000 plain-text log lines that all contain
   the word `benchmark` (`POST /api/v1/logs`, 5,000 a request, 4 services, spread
   over the last 30 minutes), and one trace of 10,040 spans (OTLP/HTTP JSON: a
   root, 99 children with 100 children each, and a chain 40 deep; 4 services).
   Both are checked through the API before the browser starts.
2. **First meaningful render.** Every load is cold: a new browser context (empty
   cache) per load. An init script checks on every animation frame whether the
   view's data elements (its rows, chart canvas, map edges…, see `ROUTES`) are
   in the DOM with a size; the first such frame's `performance.now()` (ms since
   navigation start) is the view's first render. After it, the page is left
   until no request has started for 500 ms; the resource timing entries then
   split the time: the last script loaded before the render, the first API
   request, the last API response before the render (the request the view
   waited for), the last API response of all, and the JS fetched. Routes are
   loaded round-robin, `--runs` times each; the tables give medians and the max.
3. **JS.** The JS files present in every route's load are the shell; the rest of
   a route's files are its view chunks. Sizes are the bytes received
   (`encodedBodySize`) and the same files gzipped (level 6), to show what
   compression would give.
4. **Responsiveness.** While scrolling, a `requestAnimationFrame` loop records
   frame intervals and a `PerformanceObserver` records long tasks (> 50 ms).
   Two scroll patterns: 60 mouse-wheel steps of 300 px, then 50 jumps across the
   whole list and 50 back (`scrollTop`, two frames each: every jump renders new
   rows). The bar used: frame p95 under 50 ms.
5. **Logs, 100k.** `/logs?q=benchmark` loaded cold `--runs` times (first rows);
   then in one page, scrolled to the end again and again: each time the list
   pages in 500 more (the view's "load older lines"), timed from the scroll to
   the new count in the status line, until the view holds 100,000 lines. Then
   the DOM row count (virtualisation), the JS heap and the scroll patterns.
6. **Trace, 10k spans.** `/trace/{id}` cold (`--runs` times) with the waterfall,
   `?view=flame` and `?view=table`, with the fetch (`/api/traces/{id}` response
   end) and the render (the rest) apart; then the waterfall's scroll patterns.

`uptime` before and after: the machine has 2 cores, shared with anything else
running; run it when the machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from builders import assert_accepted, post_otlp, span, traces_request  # noqa: E402
from harness import OspreyServer  # noqa: E402
from uikit import ARGS, CHROMIUM  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}
LOG_WORD = "benchmark"
LOG_LINES = 100_000
TRACE_ID = "be" * 16
EXPLORE_Q = "sum by (service_name) (rate(traces_span_metrics_calls_total[1m]))"

# name -> (path, selectors that must all be drawn). Paths with {trace}/{host} are filled in.
ROUTES = {
    "Home `/`": ("/", ["[data-testid=home-service-row]"]),
    "Logs `/logs`": ("/logs", ["[data-testid=log-row]"]),
    "Explore `/explore?q=rate(calls)`": ("/explore?q=" + urllib.parse.quote(EXPLORE_Q),
                                         ["[data-testid=legend-row]", "[data-testid=explore-graph] canvas"]),
    "Traces `/traces`": ("/traces", ["[data-testid=trace-result]"]),
    "Trace `/trace/{id}` (demo trace)": ("/trace/{trace}", ["[data-testid=span-row]"]),
    "Services `/services`": ("/services", ["[data-testid=service-row]"]),
    "Service map `/services?view=map`": ("/services?view=map", ["[data-testid=map-edge]"]),
    "Service `/services/checkout`": ("/services/checkout", ["[data-testid=service-rate-chart] canvas"]),
    "Hosts `/hosts`": ("/hosts", ["[data-testid=host-row]"]),
    "Host `/hosts/{instance}`": ("/hosts/{host}", ["[data-testid=host-stat]", "[data-testid^=host-chart-] canvas"]),
}
BIG = {
    "10k-span trace, waterfall": (f"/trace/{TRACE_ID}", ["[data-testid=span-row]"]),
    "10k-span trace, flame graph": (f"/trace/{TRACE_ID}?view=flame", ["[data-testid=flame-canvas]"]),
    "10k-span trace, span table": (f"/trace/{TRACE_ID}?view=table", ["[data-testid=span-table-row]"]),
    "logs, 100k matching, first rows": (f"/logs?q={LOG_WORD}", ["[data-testid=log-row]"]),
}

# Records the first animation frame in which every selector matches an element with a size.
FIRST_RENDER_JS = """
window.__bench = { t: null };
(() => {
  const sels = __SELS__;
  const drawn = (s) => { const e = document.querySelector(s); if (!e) return false;
                         const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const check = () => { if (sels.every(drawn)) window.__bench.t = performance.now(); else requestAnimationFrame(check); };
  requestAnimationFrame(check);
})();
"""
RESOURCES_JS = """() => performance.getEntriesByType('resource').map(e => ({
  name: e.name, start: e.startTime, end: e.responseEnd, enc: e.encodedBodySize, type: e.initiatorType }))"""
# Frame intervals and long tasks from now on; `__frames.stop()` returns them.
FRAMES_JS = """() => {
  const F = { d: [], lt: [], last: null, on: true };
  const tick = (t) => { if (F.last !== null) F.d.push(t - F.last); F.last = t; if (F.on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) F.lt.push(e.duration); });
  try { obs.observe({ type: 'longtask' }); } catch (e) {}
  F.stop = () => { F.on = false; obs.disconnect(); return { d: F.d, lt: F.lt }; };
  window.__frames = F;
}"""
JUMPS_JS = """async ([sel, steps]) => {
  const el = document.querySelector(sel);
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const max = el.scrollHeight - el.clientHeight;
  const ks = [...Array(steps + 1).keys()];
  for (const k of [...ks, ...[...ks].reverse()]) {
    el.scrollTop = (max * k) / steps; await frame(); await frame();
  }
  return max;
}"""
# Scrolls the logs list to its end and waits for the status line to change (a page appended).
LOAD_MORE_JS = """async () => {
  const el = document.querySelector('[data-testid=logs-list]');
  const st = document.querySelector('[data-testid=logs-status]');
  const before = st.textContent, t0 = performance.now();
  el.scrollTop = el.scrollHeight;
  while (st.textContent === before) {
    await new Promise((r) => requestAnimationFrame(r));
    if (performance.now() - t0 > 30000) return null;
  }
  return performance.now() - t0;
}"""


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --- data ------------------------------------------------------------------------------


def start_server(binary: Path, work: Path) -> OspreyServer:
    (work / "data").mkdir()
    cfg = work / "osprey.toml"
    cfg.write_text('[spanmetrics]\ninterval = "1s"\n')
    srv = OspreyServer(binary, work / "data", work, "osprey", args=["--config", str(cfg)])
    srv.start()
    return srv


def seed_demo(srv: OspreyServer, binary: Path, seconds: int) -> None:
    subprocess.run([str(binary), "demo", "--endpoint", srv.grpc_endpoint, "--duration", f"{seconds}s",
                    "--rate", "20", "--seed", "3"], check=True, capture_output=True, timeout=seconds + 120)


def iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // 10**9, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def post_logs(srv: OspreyServer) -> None:
    """100k lines containing LOG_WORD over the last 30 minutes, in 5,000-line requests."""
    services = ["api-gateway", "orders", "inventory", "billing"]
    levels = ["INFO"] * 7 + ["DEBUG", "WARN", "ERROR"]
    end = time.time_ns() - 5 * 10**9
    step = 30 * 60 * 10**9 // LOG_LINES
    per = 5000
    for b in range(0, LOG_LINES, per):
        svc = services[(b // per) % len(services)]
        lines = [f"{iso(end - (LOG_LINES - i) * step)} {levels[i % len(levels)]} {LOG_WORD} request id={i} "
                 f"route=/api/items/{i % 977} status={200 if i % 23 else 503} took {(i * 37) % 900 + 3}ms "
                 f"user=u{i % 4099}" for i in range(b, b + per)]
        r = srv.post("/api/v1/logs", params={"service": svc}, data=("\n".join(lines) + "\n").encode(),
                     headers={"Content-Type": "text/plain"})
        assert r.status_code == 200 and r.json()["accepted"] == per, r.text
    now = time.time()
    r = srv.get("/api/v1/logs/search", params={"query": LOG_WORD, "limit": 1, "start": f"{now - 3600:.3f}", "end": f"{now:.3f}"})
    matched = r.json()["data"]["stats"]["matched"]
    assert matched == LOG_LINES, f"{matched} lines match {LOG_WORD!r}, want {LOG_LINES}"


def post_big_trace(srv: OspreyServer) -> int:
    """A root, 99 children with 100 children each, and a chain 40 deep: 10,040 spans."""
    base = (int(time.time()) - 120) * 10**9
    ms = 10**6
    services = ["edge", "orders", "stock", "billing"]
    out: dict[str, list[dict]] = {s: [] for s in services}
    root = f"{1 << 60:016x}"
    out["edge"].append(span(TRACE_ID, root, "GET /big", base, base + 10_000 * ms, kind="SERVER"))
    sid, first = 1, None
    for i in range(99):
        parent, start, svc = f"{sid:016x}", base + i * 100 * ms, services[1 + i % 3]
        out[svc].append(span(TRACE_ID, parent, f"step-{i}", start, start + 95 * ms, parent_span_id=root))
        sid += 1
        for j in range(100):
            s = start + j * 900_000
            out[svc].append(span(TRACE_ID, f"{sid:016x}", f"work-{j % 7}", s, s + 800_000 - j * 1000,
                                 parent_span_id=parent, attributes={"item": j, "db.system": "postgresql"}))
            first = first or f"{sid:016x}"
            sid += 1
    parent = first
    for d in range(40):
        s = base + 10_000 + d * 10_000
        out["stock"].append(span(TRACE_ID, f"{sid:016x}", f"deep-{d}", s, s + 700_000 - d * 15_000, parent_span_id=parent))
        parent, sid = f"{sid:016x}", sid + 1
    for svc, items in out.items():
        for i in range(0, len(items), 1000):
            assert_accepted(post_otlp(srv, "traces", traces_request(svc, items[i:i + 1000])))
    total = sum(map(len, out.values()))
    got = len(srv.get(f"/api/traces/{TRACE_ID}").json()["data"][0]["spans"])
    assert got == total, (got, total)
    return total


# --- browser ---------------------------------------------------------------------------


def short(url: str) -> str:
    """An API URL as path and its `query` parameter (PromQL or log search), if any."""
    u = urllib.parse.urlparse(url)
    q = urllib.parse.parse_qs(u.query).get("query", [""])[0]
    return u.path + (f" {q[:60]}" if q else "")


def settle(page, quiet_ms: int = 500, timeout_s: float = 20) -> None:
    """Waits until no resource request has started for `quiet_ms`."""
    deadline, n, quiet = time.monotonic() + timeout_s, -1, 0
    while quiet < quiet_ms and time.monotonic() < deadline:
        m = page.evaluate("performance.getEntriesByType('resource').length")
        quiet = quiet + 100 if m == n else 0
        n = m
        page.wait_for_timeout(100)


def cold_load(browser, url: str, sels: list[str], keep: bool = False):
    """Loads `url` in a fresh context; returns (measurements, page if keep else None)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.add_init_script(script=FIRST_RENDER_JS.replace("__SELS__", json.dumps(sels)))
    page.goto(url, wait_until="commit")
    page.wait_for_function("window.__bench && window.__bench.t !== null", timeout=60_000)
    first = page.evaluate("window.__bench.t")
    settle(page)
    res = page.evaluate(RESOURCES_JS)
    api = [r for r in res if "/api/" in r["name"]]
    # The request the render waited for: the last API response before it.
    crit = max((r for r in api if r["end"] <= first), key=lambda r: r["end"], default=None)
    m = {
        "first": first,
        "done": max((r["end"] for r in api), default=first),
        "crit_start": crit and crit["start"],
        "crit_end": crit and crit["end"],
        "crit": crit and short(crit["name"]),
        "js_end": max((r["end"] for r in res if r["name"].split("?")[0].endswith(".js") and r["end"] <= first), default=0),
        "api_start": min((r["start"] for r in api), default=first),
        "js": {r["name"]: r["enc"] for r in res if r["name"].split("?")[0].endswith(".js")},
        "api": api,
    }
    if keep:
        return m, page
    ctx.close()
    return m, None


def frames_during(page, action) -> dict:
    page.evaluate(FRAMES_JS)
    action()
    out = page.evaluate("window.__frames.stop()")
    d, lt = out["d"], out["lt"]
    return {"frames": len(d), "p50": pct(d, 50), "p95": pct(d, 95), "max": max(d, default=0),
            "long": len(lt), "long_max": max(lt, default=0)}


def scroll_patterns(page, sel: str) -> dict[str, dict]:
    box = page.locator(sel).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    def wheel() -> None:
        for _ in range(60):
            page.mouse.wheel(0, 300)
            page.wait_for_timeout(16)
        page.wait_for_timeout(200)

    out = {"wheel": frames_during(page, wheel)}
    out["jumps"] = frames_during(page, lambda: page.evaluate(JUMPS_JS, [sel, 50]))
    return out


def logs_deep(browser, base: str) -> dict:
    """One page: load every page of the 100k matches, then scroll."""
    _, page = cold_load(browser, base + BIG["logs, 100k matching, first rows"][0], ["[data-testid=log-row]"], keep=True)
    status = page.get_by_test_id("logs-status")
    out = {"first_page": scroll_patterns(page, "[data-testid=logs-list]")}
    pages: list[float] = []
    t0 = time.monotonic()
    while True:
        loaded = int(re.search(r"([\d,]+) loaded", status.inner_text()).group(1).replace(",", ""))
        if loaded >= LOG_LINES:
            break
        ms = page.evaluate(LOAD_MORE_JS)
        assert ms is not None, f"no more lines after {loaded}"
        pages.append(ms)
    out["pages"] = {"n": len(pages), "p50": pct(pages, 50), "p95": pct(pages, 95), "max": max(pages),
                    "total_s": time.monotonic() - t0, "loaded": loaded}
    page.evaluate("document.querySelector('[data-testid=logs-list]').scrollTop = 0")
    page.wait_for_timeout(300)
    out["all"] = scroll_patterns(page, "[data-testid=logs-list]")
    out["dom_rows"] = page.locator("[data-testid=log-row]").count()
    out["heap_mb"] = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null")
    page.context.close()
    return out


def trace_deep(browser, base: str) -> dict:
    _, page = cold_load(browser, base + BIG["10k-span trace, waterfall"][0], ["[data-testid=span-row]"], keep=True)
    out = scroll_patterns(page, ".wf-scroll")
    out["dom_rows"] = page.locator("[data-testid=span-row]").count()
    out["heap_mb"] = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null")
    page.context.close()
    return out


# --- report ----------------------------------------------------------------------------


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def route_table(title: str, runs: dict[str, list[dict]], target_ms: float) -> str:
    head = (f"| {title} | first render, median ms | max ms | scripts loaded | first API request "
            f"| last response before the render: request, start → end | all requests done | target |\n"
            f"|---|---:|---:|---:|---:|---|---:|---|\n")
    rows = []
    for name, ms_list in runs.items():
        med_of = lambda key, xs=ms_list: ms(statistics.median(m[key] for m in xs))  # noqa: E731
        first = [m["first"] for m in ms_list]
        med = statistics.median(first)
        crit = [m for m in ms_list if m["crit"]]
        which = statistics.mode([m["crit"] for m in crit]) if crit else None
        span_ = f"`{which}`, {med_of('crit_start', crit)} → {med_of('crit_end', crit)}" if crit else "–"
        ok = "met" if med < target_ms else "**missed**"
        rows.append(f"| {name} | {ms(med)} | {ms(max(first))} | {med_of('js_end')} | {med_of('api_start')} "
                    f"| {span_} | {med_of('done')} | < {target_ms / 1000:g} s: {ok} |")
    return head + "\n".join(rows) + "\n"


def js_table(runs: dict[str, list[dict]]) -> str:
    sizes: dict[str, int] = {}
    for ms_list in runs.values():
        for m in ms_list:
            sizes.update(m["js"])
    gz = {u: len(gzip.compress(requests.get(u, timeout=30).content, 6)) for u in sizes}
    per_route = {name: set(ms_list[0]["js"]) for name, ms_list in runs.items()}
    shell = set.intersection(*per_route.values())
    kb = lambda us, d: sum(d[u] for u in us) / 1024  # noqa: E731
    out = ["| JS | files | received KiB | gzip KiB |", "|---|---:|---:|---:|",
           f"| shell (every view) | {len(shell)} | {kb(shell, sizes):.1f} | {kb(shell, gz):.1f} |"]
    for name, us in per_route.items():
        extra = us - shell
        out.append(f"| + {name} | {len(extra)} | {kb(extra, sizes):.1f} | {kb(extra, gz):.1f} |")
    return "\n".join(out) + "\n"


def frames_table(rows: dict[str, dict]) -> str:
    out = ["| scrolling | frames | frame p50 ms | p95 ms | max ms | long tasks (max ms) | p95 < 50 ms |",
           "|---|---:|---:|---:|---:|---|---|"]
    for name, f in rows.items():
        ok = "met" if f["p95"] < 50 else "**missed**"
        out.append(f"| {name} | {f['frames']} | {f['p50']:.1f} | {f['p95']:.1f} | {f['max']:.0f} | "
                   f"{f['long']} ({f['long_max']:.0f}) | {ok} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", type=Path, default=None, help="osprey binary (default: release if built, else debug)")
    ap.add_argument("--seed", type=int, default=30, help="seconds of `osprey demo`")
    ap.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = ap.parse_args()
    binary = args.bin or next(p for p in (ROOT / "target/release/osprey", ROOT / "target/debug/osprey") if p.exists())
    binary = binary.resolve()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load_before = uptime()
    work = Path(tempfile.mkdtemp(prefix="osprey-ui-bench-"))
    srv = start_server(binary, work)
    try:
        print(f"seeding: demo {args.seed}s, {LOG_LINES} log lines, a 10k-span trace …", file=sys.stderr)
        seed_demo(srv, binary, args.seed)
        post_logs(srv)
        spans = post_big_trace(srv)
        (trace,), = srv.sql(f"SELECT trace_id FROM spans WHERE service = 'frontend' AND trace_id <> '{TRACE_ID}' "
                            "ORDER BY start_time DESC LIMIT 1")
        base = srv.http()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            _, page = cold_load(browser, base + "/hosts", ["[data-testid=host-link]"], keep=True)
            host = page.get_by_test_id("host-link").first.get_attribute("href").split("?")[0].rsplit("/", 1)[1]
            page.context.close()
            cold_load(browser, base + "/", ROUTES["Home `/`"][1])  # warms the server's caches once
            routes = {k: base + path.format(trace=trace, host=host) for k, (path, _) in ROUTES.items()}
            views: dict[str, list[dict]] = {k: [] for k in ROUTES}
            big: dict[str, list[dict]] = {k: [] for k in BIG}
            for i in range(args.runs):
                print(f"run {i + 1}/{args.runs}", file=sys.stderr)
                for k, url in routes.items():
                    views[k].append(cold_load(browser, url, ROUTES[k][1])[0])
                for k, (path, sels) in BIG.items():
                    big[k].append(cold_load(browser, base + path, sels)[0])
            print("logs: paging through 100k lines …", file=sys.stderr)
            logs = logs_deep(browser, base)
            tr = trace_deep(browser, base)
            version = browser.version
            browser.close()
        load_after = uptime()
        js = js_table(views)  # fetches the files again for their gzip sizes
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    fetch = [next(a["end"] for a in m["api"] if f"/api/traces/{TRACE_ID}" in a["name"]) for m in big["10k-span trace, waterfall"]]
    first = [m["first"] for m in big["10k-span trace, waterfall"]]
    entry = next((u.rsplit("/", 1)[1] for u in views["Home `/`"][0]["js"] if "/assets/index-" in u), "?")
    print(f"Run on {dt.date.today()} at commit {commit}: `{binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}` "
          f"(UI entry bundle `{entry}`), "
          f"Chromium {version} headless, viewport {VIEWPORT['width']}×{VIEWPORT['height']}, {args.runs} cold loads per row; "
          f"demo seeded {args.seed} s at rate 20.\n\nuptime before: `{load_before}`  \nuptime after: `{load_after}`\n")
    print(route_table("view (demo data)", views, 1000))
    print(route_table("big data", {k: v for k, v in big.items() if k.startswith("10k")}, 2000))
    print(route_table("big data", {k: v for k, v in big.items() if k.startswith("logs")}, 1000))
    print(f"10k-span trace ({spans} spans), waterfall: `/api/traces/{{id}}` response end median {ms(statistics.median(fetch))} ms, "
          f"first rows {ms(statistics.median(first))} ms, so {ms(statistics.median(first) - statistics.median(fetch))} ms after the response.\n")
    pg = logs["pages"]
    print(f"Logs, {LOG_LINES:,} matching lines: {pg['n']} more pages of 500 appended by scrolling to the end "
          f"(p50 {pg['p50']:.0f} ms, p95 {pg['p95']:.0f} ms, max {pg['max']:.0f} ms per page, {pg['total_s']:.1f} s in all, "
          f"{pg['loaded']:,} lines held); then {logs['dom_rows']} row elements in the DOM, JS heap {logs['heap_mb'] or 0:.0f} MiB. "
          f"10k-span waterfall: {tr['dom_rows']} row elements in the DOM, JS heap {tr['heap_mb'] or 0:.0f} MiB.\n")
    print(frames_table({
        "logs, first page (500 lines): 60 wheel steps of 300 px": logs["first_page"]["wheel"],
        "logs, 100k lines loaded: 60 wheel steps": logs["all"]["wheel"],
        "logs, 100k lines loaded: 50 jumps to the end and 50 back": logs["all"]["jumps"],
        "10k-span waterfall: 60 wheel steps": tr["wheel"],
        "10k-span waterfall: 50 jumps to the end and 50 back": tr["jumps"],
    }))
    print(js)
    if args.json:
        args.json.write_text(json.dumps({"views": views, "big": big, "logs": logs, "trace": tr}, indent=1, default=str))


if __name__ == "__main__":
    main()
