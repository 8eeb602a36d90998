"""The web UI in a real browser (Debian's Chromium driven by Playwright).

Loads the page served by the binary over demo data and uses it like an SRE would:
the home page's newest error logs leading to the Logs view, every route, the views'
searches and tables, and the error banner when the API fails.
"""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from harness import OspreyServer
from uikit import demo as _demo, page, watch as _watch  # noqa: F401

def test_home_error_logs_open_the_logs_view(osprey: OspreyServer, osprey_bin, page) -> None:
    _demo(osprey, osprey_bin, duration="6s")  # long enough for a few error lines
    page.goto(osprey.http("/"))

    # The newest error logs: as many as SQL counts (up to the panel's 12), the total in range.
    errors = "severity_number BETWEEN 17 AND 24"
    (n,), = osprey.sql(f"SELECT count(*) FROM logs WHERE {errors}")
    assert n > 0
    rows = page.get_by_test_id("home-error-logs").get_by_test_id("error-log-row")
    expect(rows).to_have_count(min(12, n))
    expect(page.get_by_test_id("error-logs-count")).to_have_attribute("data-value", str(n))

    # A log's service opens the Logs view on that service's errors.
    link = rows.first.locator("[data-service]")
    service = link.get_attribute("data-service")
    link.click()
    expect(page).to_have_url(re.compile(r"/logs\?"))
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["service"] == [service]
    (m,), = osprey.sql(f"SELECT count(*) FROM logs WHERE {errors} AND service = '{service}'")
    listed = page.get_by_test_id("log-row")
    expect(listed).to_have_count(m)
    for svc in listed.locator("button[data-service]").all_inner_texts():
        assert svc == service
    for level in listed.evaluate_all("rs => rs.map(r => r.dataset.severity)"):
        assert level in ("error", "fatal")


def test_error_banner_when_the_server_is_gone(osprey: OspreyServer, page) -> None:
    page.goto(osprey.http("/"))
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    osprey.stop()
    page.get_by_test_id("refresh-now").click()
    expect(page.get_by_test_id("error-banner")).to_be_visible()


# ---------------------------------------------------------------------------
# The Preact app's views (issue 16). Every history route must be answered with
# the app's index.html by the server.
# ---------------------------------------------------------------------------

import re  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402

from builders import assert_accepted, post_otlp  # noqa: E402


def test_every_route_renders_without_errors(osprey: OspreyServer, osprey_bin, page) -> None:
    _demo(osprey, osprey_bin)
    (trace_id,), = osprey.sql("SELECT trace_id FROM spans ORDER BY start_time DESC LIMIT 1")
    problems = _watch(page)
    routes = {
        "/": "home-page",
        "/logs": "logs-list",
        "/explore?q=" + urllib.parse.quote("sum by (job) (http_server_requests_total)"): "explore-legend",
        "/traces": "trace-search-form",
        f"/trace/{trace_id}": "waterfall",
        "/services": "services-page",
        "/services/checkout": "service-page",
        "/hosts": "hosts-page",
        "/hosts/host-b": "host-page",
        "/alerts": "alerts-page",
        "/alerts?tab=rules": "alerts-page",
        "/alerts?tab=silences": "no-notifier",
        "/alerts?tab=history": "alerts-page",
    }
    for path, testid in routes.items():
        resp = page.goto(osprey.http(path))
        assert resp is not None and resp.status == 200, f"{path}: HTTP {resp and resp.status}"
        expect(page.get_by_test_id(testid)).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_logs_view_searches_and_facets_filter(osprey: OspreyServer, osprey_bin, page) -> None:
    _demo(osprey, osprey_bin)
    problems = _watch(page)
    page.goto(osprey.http("/logs?q=PlaceOrder"))
    rows = page.get_by_test_id("log-row")
    expect(rows.first).to_be_visible()
    (n,), = osprey.sql(
        "SELECT count(*) FROM logs"
        " WHERE regexp_like(body, '(^|[^\\p{L}\\p{N}])placeorder([^\\p{L}\\p{N}]|$)', 'i')"
    )
    expect(page.get_by_test_id("logs-status")).to_contain_text(f"{n:,} match")
    for body in rows.locator(".col-body").all_inner_texts():
        assert "placeorder" in body.lower(), body
    expect(page.get_by_test_id("log-volume-chart").locator("canvas")).to_be_visible()

    # A facet value filters: the service facet sets ?service=, every row is from it.
    page.locator('[data-field="service"] [data-testid=facet-value]').first.click()
    expect(page).to_have_url(re.compile(r"[?&]service="))
    service = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["service"][0]
    expect(rows.first).to_be_visible()
    for svc in rows.locator("button[data-service]").all_inner_texts():
        assert svc == service

    # A record expands to its fields, and its trace id links to the trace view.
    rows.first.click()
    details = page.get_by_test_id("log-details")
    expect(details).to_be_visible()
    link = details.locator("a.trace-link")
    if link.count() > 0:
        link.click()
        expect(page).to_have_url(re.compile(r"/trace/[0-9a-f]+"))
        expect(page.get_by_test_id("span-row").first).to_be_visible()
    assert problems == [], problems


def test_log_lines_render_as_text_with_ansi_colour(osprey: OspreyServer, page) -> None:
    now = time.time_ns()
    body = ("<img src=x onerror=alert(1)><script>alert(2)</script> "
            "\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[0m plain")
    assert_accepted(post_otlp(osprey, "logs", {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "xss"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": str(now), "severityText": "ERROR", "body": {"stringValue": body}},
            {"timeUnixNano": str(now + 1), "severityText": "INFO", "body": {"stringValue": "y" * 2000}},
        ]}],
    }]}))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(osprey.http("/logs?service=xss&from=now-15m"))
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(2)
    xss = rows.filter(has_text="onerror")
    expect(xss.locator(".col-body")).to_contain_text("<img src=x onerror=alert(1)><script>alert(2)</script>")
    assert page.locator("#logs-list img, #logs-list script").count() == 0
    red = xss.locator(".ansi-fg-1")
    expect(red).to_have_text("red")
    assert red.evaluate("e => getComputedStyle(e).color") not in ("", "rgb(0, 0, 0)")
    assert "\x1b" not in xss.inner_text()
    # Long lines are clamped until expanded (in wrapped mode).
    page.get_by_test_id("wrap-lines").check()
    expand = page.get_by_test_id("clamp-expand")
    expect(expand).to_be_visible()
    expand.click()
    expect(rows.filter(has_text="yyyy").locator(".col-body")).to_contain_text("y" * 2000)
    assert dialogs == []


def test_explore_graphs_a_query_and_completes_metric_names(osprey: OspreyServer, osprey_bin, page) -> None:
    _demo(osprey, osprey_bin)
    problems = _watch(page)
    page.goto(osprey.http("/explore?q=" + urllib.parse.quote("sum by (job) (http_server_requests_total)")))
    expect(page.get_by_test_id("explore-chart").locator("canvas")).to_be_visible()
    expect(page.get_by_test_id("legend-row").first).to_be_visible()
    page.get_by_test_id("tab-table").click()
    expect(page.get_by_test_id("explore-table-row").first).to_be_visible()

    # The editor completes a metric name from the server's own label values.
    page.locator("[data-testid=promql-editor] .cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Backspace")
    for ch in "http_server_req":
        page.keyboard.press(ch)
    expect(page.locator(".cm-tooltip-autocomplete")).to_contain_text("http_server_requests_total")

    # A bad query shows the API's own error.
    page.goto(osprey.http("/explore?q=" + urllib.parse.quote("sum(rate(x[5m])")))
    expect(page.get_by_test_id("state-error")).to_contain_text("parenthesis")
    assert [p for p in problems if "query_range" not in p and "status of 400" not in p] == [], problems


def _preorder(trace: dict) -> list[dict]:
    """A Jaeger trace's spans depth-first, children in start order (the waterfall's order)."""
    spans = trace["spans"]
    ids = {s["spanID"] for s in spans}
    kids: dict[str | None, list[dict]] = {}
    for s in spans:
        parent = next((r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"), None)
        kids.setdefault(parent if parent in ids else None, []).append(s)
    for v in kids.values():
        v.sort(key=lambda s: (s["startTime"], s["spanID"]))
    out: list[dict] = []
    stack = list(reversed(kids.get(None, [])))
    while stack:
        s = stack.pop()
        out.append(s)
        stack.extend(reversed(kids.get(s["spanID"], [])))
    return out


def _waterfall_rows(page) -> list[tuple[int, str, int, str]]:
    """Every row of the (virtualised) waterfall: scrolls through it, collecting rows by index."""
    rows: dict[int, tuple[str, int, str]] = {}
    scroller = page.locator(".wf-scroll")
    top = 0
    while True:
        for r in page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=span-row]')].map(e => [
                 Number(e.dataset.index), e.dataset.spanId, Number(e.dataset.durationUs),
                 e.querySelector('[data-testid=span-duration]').textContent])"""
        ):
            rows[r[0]] = (r[1], r[2], r[3])
        height, client = scroller.evaluate("e => [e.scrollHeight, e.clientHeight]")
        if top + client >= height:
            break
        top += client
        scroller.evaluate(f"e => e.scrollTo(0, {top})")
        page.wait_for_timeout(50)
    scroller.evaluate("e => e.scrollTo(0, 0)")
    return [(i, *rows[i]) for i in sorted(rows)]


def test_traces_search_waterfall_and_span_details(osprey: OspreyServer, osprey_bin, page) -> None:
    _demo(osprey, osprey_bin)
    problems = _watch(page)
    services = osprey.get("/api/services").json()["data"]
    assert "checkout" in services, services
    page.goto(osprey.http("/traces"))
    # The first service's operations and traces load first (a change would abort them).
    expect(page.get_by_test_id("trace-search-form")).to_be_visible()
    page.wait_for_load_state("networkidle")

    # Search one service: the form goes to the URL, the results are the API's.
    page.get_by_test_id("trace-service").select_option("checkout")
    page.get_by_test_id("trace-search").click()
    expect(page).to_have_url(re.compile(r"/traces\?.*service=checkout"))
    results = page.get_by_test_id("trace-result")
    expect(results.first).to_be_visible()
    api = osprey.get("/api/traces", params={"service": "checkout", "limit": "20"}).json()["data"]
    assert api, "the demo produced no checkout traces"
    expect(results).to_have_count(len(api))
    expect(page.get_by_test_id("traces-scatter").locator("canvas")).to_be_visible()
    by_id = {t["traceID"]: t for t in api}
    for row in results.all()[:5]:
        t = by_id[row.get_attribute("data-trace-id")]
        expect(row.get_by_test_id("trace-span-count")).to_have_text(
            f"{len(t['spans'])} span" + ("" if len(t["spans"]) == 1 else "s"))

    # Open the trace with the most spans.
    biggest = max(api, key=lambda t: len(t["spans"]))
    trace_id = biggest["traceID"]
    page.locator(f'[data-testid=trace-result][data-trace-id="{trace_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/trace/{trace_id}"))
    expect(page.get_by_test_id("waterfall")).to_be_visible()
    expect(page.get_by_test_id("trace-span-count")).to_have_text(str(len(biggest["spans"])))

    # The waterfall lists the API's spans depth-first in start order, with its durations.
    full = osprey.get(f"/api/traces/{trace_id}").json()["data"][0]
    expected = _preorder(full)
    expect(page.get_by_test_id("span-row").first).to_be_visible()
    rows = _waterfall_rows(page)
    assert [r[0] for r in rows] == list(range(len(expected)))
    assert [r[1] for r in rows] == [s["spanID"] for s in expected]
    assert [r[2] for r in rows] == [s["duration"] for s in expected]
    assert all(r[3].strip() != "" for r in rows)
    starts = [s["startTime"] for s in expected]
    assert starts[0] == min(starts), "the root (earliest) span comes first"

    # Click a span: its details open with its attributes and process tags.
    span = expected[min(1, len(expected) - 1)]
    page.locator(f'[data-testid=span-row][data-span-id="{span["spanID"]}"]').click()
    details = page.get_by_test_id("span-details")
    expect(details).to_be_visible()
    expect(details.get_by_test_id("span-details-id")).to_have_text(span["spanID"])
    expect(details.get_by_test_id("span-details-operation")).to_have_text(span["operationName"])
    expect(details.get_by_test_id("span-attributes").locator("tr")).to_have_count(len(span["tags"]))
    expect(page).to_have_url(re.compile(rf"[?&]span={span['spanID']}"))
    logs = page.get_by_test_id("trace-logs-link")
    assert f"q=trace_id:{trace_id}" in (logs.get_attribute("href") or "")

    # The span search highlights matching rows.
    page.get_by_test_id("span-search").fill(span["operationName"])
    n = sum(1 for s in expected if span["operationName"].lower() in s["operationName"].lower()
            or span["operationName"].lower() in full["processes"][s["processID"]]["serviceName"].lower())
    expect(page.get_by_test_id("span-search-count")).to_contain_text(f"{n} match")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_services_red_table_matches_promql_and_service_page_charts(osprey_factory, osprey_bin, page) -> None:
    # Span metrics written every second, so a short demo gives several samples.
    osprey = osprey_factory(config='[spanmetrics]\ninterval = "1s"\n')
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", "6s",
         "--rate", "20", "--seed", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    time.sleep(2.5)  # the last interval's series
    end = int(time.time())
    start = end - 300
    window = f"{end - start}s"
    rate_q = ('sum by (service_name) (rate(traces_span_metrics_calls_total'
              f'{{span_kind="SPAN_KIND_SERVER"}}[{window}]))')
    expected = {r["metric"]["service_name"]: float(r["value"][1]) for r in osprey.prom_query(rate_q, at=end)}
    p95_q = ('histogram_quantile(0.95, sum by (service_name, le) (rate('
             f'traces_span_metrics_duration_milliseconds_bucket{{span_kind="SPAN_KIND_SERVER"}}[{window}])))')
    p95 = {r["metric"]["service_name"]: float(r["value"][1]) for r in osprey.prom_query(p95_q, at=end)}
    assert "checkout" in expected and all(v > 0 for v in expected.values()), expected

    problems = _watch(page)
    page.goto(osprey.http(f"/services?from={start}&to={end}"))
    rows = page.get_by_test_id("service-row")
    expect(rows).to_have_count(len(expected))
    for row in rows.all():
        name = row.get_attribute("data-name")
        assert name in expected, name
        rate = float(row.locator('[data-col="rate"]').get_attribute("data-value"))
        assert rate > 0
        assert rate == pytest.approx(expected[name], rel=1e-9), name
        shown_p95 = row.locator('[data-col="p95"]').get_attribute("data-value")
        if name in p95 and p95[name] == p95[name]:  # not NaN
            assert float(shown_p95) == pytest.approx(p95[name], rel=1e-9), name
        href = row.get_by_test_id("service-link").get_attribute("href")
        assert href.startswith(f"/services/{urllib.parse.quote(name)}?"), href
        assert "service=" in row.get_by_test_id("service-traces-link").get_attribute("href")
        assert "q=service:" in row.get_by_test_id("service-logs-link").get_attribute("href")

    # Sortable: by rate, descending, then ascending.
    page.locator('th[data-sort="rate"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-rate"))
    shown = [float(v) for v in rows.locator('[data-col="rate"]').evaluate_all("es => es.map(e => e.dataset.value)")]
    assert shown == sorted(shown, reverse=True), shown
    page.locator('th[data-sort="rate"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=rate"))
    shown = [float(v) for v in rows.locator('[data-col="rate"]').evaluate_all("es => es.map(e => e.dataset.value)")]
    assert shown == sorted(shown), shown

    # One service: its charts and operations.
    page.locator('[data-testid=service-row][data-name="checkout"]').get_by_test_id("service-link").click()
    expect(page).to_have_url(re.compile(r"/services/checkout\?"))
    expect(page.get_by_test_id("service-title")).to_have_text("checkout")
    for chart in ("service-rate-chart", "service-errors-chart", "service-latency-chart", "op-rate-chart", "op-latency-chart"):
        expect(page.get_by_test_id(chart).locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("operation-row").first).to_be_visible()
    expect(page.get_by_test_id("slowest-ops").get_by_test_id("top-row").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems == [], problems
