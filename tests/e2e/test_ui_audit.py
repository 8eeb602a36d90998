"""Accessibility audit of every view with axe-core, in both themes.

One demo seed (span metrics every second, so the services views have data), one
browser. For each route, dark then light: the page follows the OS colour scheme,
axe-core (ui/web/node_modules/axe-core, a devDependency of the UI installed by
`npm ci` during `cargo build`) runs over the rendered view, and no violation may be
"serious" or "critical" (colour contrast, missing names on controls, ARIA misuse…).
A screenshot of each view in each theme is kept as a test artifact.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from harness import OspreyServer
from uikit import SCREENSHOTS, Requests, demo, page, screenshot, watch  # noqa: F401

AXE = Path(__file__).resolve().parents[2] / "ui" / "web" / "node_modules" / "axe-core" / "axe.min.js"

# Impacts that fail the audit ("minor" and "moderate" are reported by axe but not fatal).
BLOCKING = {"serious", "critical"}


def _expand(toggle) -> None:
    """Opens a row through its keyboard toggle (a button with aria-expanded)."""
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    toggle.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")


def _open_log(page) -> None:
    _expand(page.get_by_test_id("log-row").first.locator("button.col-time"))
    expect(page.get_by_test_id("log-details")).to_be_visible()


def _open_pattern(page) -> None:
    _expand(page.get_by_test_id("pattern-row").first.locator("button.pattern-text"))
    expect(page.get_by_test_id("pattern-row").first.locator(".pattern-details")).to_be_visible()


def _open_span(page) -> None:
    page.get_by_test_id("span-row").nth(1).click()
    expect(page.get_by_test_id("span-details")).to_be_visible()


def _routes(osprey: OspreyServer) -> dict[str, tuple[str, str, Callable | None]]:
    """name → (path, test id visible once the view has rendered, what to open before the
    audit: a log record, a pattern, a span's details), from the seeded data."""
    (trace_id,), = osprey.sql("SELECT trace_id FROM spans GROUP BY trace_id ORDER BY count(*) DESC, trace_id LIMIT 1")
    (service,), = osprey.sql("SELECT service FROM spans GROUP BY service ORDER BY count(*) DESC, service LIMIT 1")
    hosts = sorted(r["metric"]["instance"] for r in osprey.prom_query("group by (instance) (system_cpu_utilization_ratio)"))
    assert hosts, "the demo wrote no host metrics"
    promql = urllib.parse.quote("sum by (service_name) (rate(traces_span_metrics_calls_total[1m]))")
    logql = urllib.parse.quote('{service_name=~".+"} != "healthcheck"')
    return {
        "home": ("/", "home-page", None),
        "logs": ("/logs", "log-row", _open_log),
        "logs-patterns": ("/logs?tab=patterns", "pattern-row", _open_pattern),
        "logs-logql": (f"/logs?lang=logql&q={logql}", "log-row", _open_log),
        "explore": (f"/explore?q={promql}", "explore-legend", None),
        "traces": ("/traces", "trace-result", None),
        "trace": (f"/trace/{trace_id}", "span-row", _open_span),
        "trace-flame": (f"/trace/{trace_id}?view=flame", "flame", None),
        "trace-table": (f"/trace/{trace_id}?view=table", "span-table-row", None),
        "services": ("/services", "service-row", None),
        "services-map": ("/services?view=map", "map-edge", None),
        "service": (f"/services/{urllib.parse.quote(service)}", "operation-row", None),
        "hosts": ("/hosts", "host-row", None),
        "host": (f"/hosts/{urllib.parse.quote(hosts[0])}", "host-stats", None),
        "alerts-rules": ("/alerts?tab=rules", "alerts-page", None),
    }


def _describe(name: str, theme: str, violations: list[dict]) -> list[str]:
    out = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        detail = v["nodes"][0].get("failureSummary", "").replace("\n", " ")[:300] if v["nodes"] else ""
        out.append(f"{name} [{theme}] {v['impact']} {v['id']}: {v['help']} — {targets}{more} — {detail}")
    return out


def test_every_view_passes_axe_in_both_themes(osprey_factory, osprey_bin, page) -> None:
    assert AXE.is_file(), f"{AXE} is missing: run `npm ci` in ui/web (axe-core is a devDependency)"
    osprey = osprey_factory(config='[spanmetrics]\ninterval = "1s"\ngraph_wait = "1s"\n')
    demo(osprey, osprey_bin, duration="6s", rate=20)
    time.sleep(2.5)  # the last interval's span metrics and service graph
    routes = _routes(osprey)

    problems = watch(page)
    requests = Requests(page)
    found: list[str] = []
    report: dict[str, list[dict]] = {}  # every violation, any impact: a test artifact
    audited = 0
    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        for name, (path, ready, open_one) in routes.items():
            requests.settle()  # leaving a view aborts its loads, which `watch` would report
            page.goto(osprey.http(path))
            expect(page.get_by_test_id(ready).first).to_be_visible()
            requests.settle()
            expect(page.get_by_test_id("state-loading")).to_have_count(0)
            if open_one is not None:
                open_one(page)
                requests.settle()  # a record's context, a span's logs link
            # The app follows the OS theme (no choice stored).
            assert page.evaluate("() => document.documentElement.dataset.theme") == theme, name
            screenshot(page, f"{name}-{theme}")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            audited += 1
            report[f"{name}-{theme}"] = result["violations"]
            found += _describe(name, theme, [v for v in result["violations"] if v["impact"] in BLOCKING])
    assert audited == 2 * len(routes)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "axe-violations.json").write_text(json.dumps(report, indent=1))
    assert found == [], f"axe-core violations (every one, any impact: {SCREENSHOTS / 'axe-violations.json'}):\n" + "\n".join(found)
    assert problems == [], problems
