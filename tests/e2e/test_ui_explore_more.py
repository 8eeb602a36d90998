"""The metrics view (/explore) beyond one query: several queries drawn together and
kept in the URL, exemplars drawn on the graph that open their trace, the API's
warnings and infos under the query, the hover readout of the charts.

Every count is compared with Osprey's own Prometheus API on the same data and range.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse

from playwright.sync_api import Route, expect

from harness import OspreyServer, wait_until
from uikit import page, screenshot, watch  # noqa: F401

RATE_Q = "sum by (service_name) (rate(traces_span_metrics_calls_total[1m]))"
KIND_Q = "sum by (span_kind) (traces_span_metrics_calls_total)"
P95_Q = ("histogram_quantile(0.95, sum by (le, service_name) "
         "(rate(traces_span_metrics_duration_milliseconds_bucket[1m])))")
STEP = "5s"


def _seed(osprey_factory, osprey_bin) -> tuple[OspreyServer, int, int]:
    """A server with span metrics written every second, fed by `osprey demo`; returns
    it and a range (unix seconds) around the data."""
    osprey = osprey_factory(config='[spanmetrics]\ninterval = "1s"\n')
    start = int(time.time()) - 120
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", "5s",
         "--rate", "20", "--seed", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    time.sleep(2.5)  # the last interval's series
    return osprey, start, int(time.time()) + 60


def _range_query(osprey: OspreyServer, query: str, start: int, end: int) -> list[dict]:
    r = osprey.post("/api/v1/query_range", data={"query": query, "start": start, "end": end, "step": STEP})
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def _exemplars(osprey: OspreyServer, query: str, start: int, end: int) -> list[dict]:
    r = osprey.post("/api/v1/query_exemplars", data={"query": query, "start": start, "end": end})
    assert r.status_code == 200, r.text
    return [e for g in r.json()["data"] for e in g["exemplars"]]


def _explore(osprey: OspreyServer, queries: list[str], start: int, end: int, **extra: str) -> str:
    params = [("q", q) for q in queries] + [("from", str(start)), ("to", str(end)), ("step", STEP)] + list(extra.items())
    return osprey.http("/explore?" + urllib.parse.urlencode(params))


def _editor_texts(page) -> list[str]:
    return page.locator("[data-testid=query-row] .cm-content").evaluate_all(
        "es => es.map(e => [...e.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n'))")


def test_several_queries_graph_table_and_url(osprey_factory, osprey_bin, page) -> None:
    osprey, start, end = _seed(osprey_factory, osprey_bin)
    want_a = _range_query(osprey, RATE_Q, start, end)
    want_b = _range_query(osprey, KIND_Q, start, end)
    assert want_a and want_b and len(want_a) != len(want_b), (want_a, want_b)
    problems = watch(page)

    # One query from a link (`?q=`), a second added in the page.
    page.goto(_explore(osprey, [RATE_Q], start, end))
    legend = page.get_by_test_id("explore-legend")
    expect(legend.locator('[data-testid=legend-row][data-query="A"]')).to_have_count(len(want_a))
    page.get_by_test_id("add-query").click()
    expect(page.get_by_test_id("query-row")).to_have_count(2)
    page.locator('[data-testid=query-row][data-query="B"] .cm-content').click()
    page.keyboard.type(KIND_Q)
    page.keyboard.press("Escape")  # close the completion list, if open
    page.get_by_test_id("run-query").click()
    expect(page).to_have_url(re.compile(r"[?&]q=.*&q=.*"))
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"] == [RATE_Q, KIND_Q]

    # Both queries' series in one graph, in a legend group each.
    for name, want in (("A", want_a), ("B", want_b)):
        expect(legend.locator(f'[data-testid=legend-row][data-query="{name}"]')).to_have_count(len(want))
        expect(legend.locator(f'[data-testid=legend-group][data-query="{name}"]')).to_have_attribute("data-count", str(len(want)))
    expect(page.get_by_test_id("explore-meta")).to_contain_text(f"{len(want_a) + len(want_b)} series")
    b_labels = legend.locator('[data-testid=legend-row][data-query="B"] .legend-name').all_inner_texts()
    assert sorted(t.strip() for t in b_labels) == sorted(
        f'{{span_kind="{s["metric"]["span_kind"]}"}}' for s in want_b), b_labels

    # The hover readout lists the shown series' values under the cursor.
    box = page.get_by_test_id("explore-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.4)
    expect(page.get_by_test_id("chart-tooltip")).to_be_visible()
    expect(page.get_by_test_id("chart-tooltip")).to_contain_text("UTC")
    page.mouse.move(0, 0)
    screenshot(page, "explore-two-queries")

    # A reload keeps both queries.
    page.reload()
    expect(page.get_by_test_id("query-row")).to_have_count(2)
    expect(legend.locator('[data-testid=legend-row][data-query="B"]')).to_have_count(len(want_b))
    expect(legend.locator('[data-testid=legend-row][data-query="A"]')).to_have_count(len(want_a))
    assert _editor_texts(page) == [RATE_Q, KIND_Q]

    # Turning B off keeps it in the URL (hide=B) and takes its series off the graph.
    page.locator('[data-testid=query-row][data-query="B"]').get_by_test_id("query-toggle").click()
    expect(page).to_have_url(re.compile(r"[?&]hide=B"))
    expect(legend.locator("[data-testid=legend-row]")).to_have_count(len(want_a))
    page.go_back()
    expect(legend.locator('[data-testid=legend-row][data-query="B"]')).to_have_count(len(want_b))

    # The table tab: each query's instant result at the range's end.
    page.get_by_test_id("tab-table").click()
    sections = page.get_by_test_id("explore-table-section")
    expect(sections).to_have_count(2)
    for name, q in (("A", RATE_Q), ("B", KIND_Q)):
        want = osprey.prom_query(q, at=end)
        section = page.locator(f'[data-testid=explore-table-section][data-query="{name}"]')
        try:
            expect(section.locator("[data-testid=explore-table-row]")).to_have_count(len(want))
        except AssertionError as e:
            # A rare failure seen once in a full run (0 rows for A, API 10): say what the
            # page showed and what the API answers now, so the next one explains itself.
            raise AssertionError(
                f"table {name}: page shows {section.inner_text()!r}; API now: "
                f"{len(osprey.prom_query(q, at=end))} series; problems: {problems}") from e

    # Duplicate A, then remove it again: the URL follows.
    page.get_by_test_id("tab-graph").click()
    page.locator('[data-testid=query-row][data-query="A"]').get_by_test_id("query-duplicate").click()
    expect(page.get_by_test_id("query-row")).to_have_count(3)
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"] == [RATE_Q, RATE_Q, KIND_Q]
    # The editors follow the rows after a render: poll, do not read once.
    wait_until(lambda: _editor_texts(page) == [RATE_Q, RATE_Q, KIND_Q], message="editors after duplicate")
    page.locator('[data-testid=query-row][data-query="B"]').get_by_test_id("query-remove").click()
    expect(page.get_by_test_id("query-row")).to_have_count(2)
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"] == [RATE_Q, KIND_Q]
    wait_until(lambda: _editor_texts(page) == [RATE_Q, KIND_Q], message="editors after remove")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_exemplars_are_drawn_and_open_their_trace(osprey_factory, osprey_bin, page) -> None:
    osprey, start, end = _seed(osprey_factory, osprey_bin)
    want = _exemplars(osprey, P95_Q, start, end)
    assert want, "the demo's span metrics carry no exemplars"
    problems = watch(page)

    page.goto(_explore(osprey, [P95_Q], start, end))
    expect(page.get_by_test_id("legend-row").first).to_be_visible()
    expect(page.get_by_test_id("exemplar")).to_have_count(0)
    page.get_by_test_id("exemplars-toggle").check()
    expect(page).to_have_url(re.compile(r"[?&]exemplars=1"))
    # One point per exemplar the API returns for the query and range.
    expect(page.get_by_test_id("exemplar")).to_have_count(len(want))
    expect(page.get_by_test_id("explore-graph")).to_have_attribute("data-exemplar-count", str(len(want)))
    expect(page.get_by_test_id("explore-meta")).to_contain_text(f"{len(want)} exemplars")
    shown_ids = sorted(page.get_by_test_id("exemplar").evaluate_all("es => es.map(e => e.dataset.markerId)"))
    assert shown_ids == sorted(e["labels"]["trace_id"] for e in want)

    # A reload keeps them on.
    page.reload()
    expect(page.get_by_test_id("exemplar")).to_have_count(len(want))

    # Hover one that is not covered by another: its labels, value and time.
    i = page.evaluate("""() => [...document.querySelectorAll('[data-testid=exemplar]')].findIndex(e => {
        const r = e.getBoundingClientRect();
        return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === e; })""")
    assert i >= 0
    marker = page.get_by_test_id("exemplar").nth(i)
    trace_id = marker.get_attribute("data-marker-id")
    marker.hover()
    tip = page.get_by_test_id("marker-tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(trace_id)
    # A trace has an exemplar per span (bucket series): the tip names one of them.
    text = tip.inner_text()
    ex = [e for e in want if e["labels"]["trace_id"] == trace_id and e["labels"]["span_id"] in text]
    assert len(ex) == 1, (text, want)
    ts = float(ex[0]["timestamp"])
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{round(ts * 1000) % 1000:03d} UTC" in text, text
    screenshot(page, "explore-exemplars")

    # Click: the trace opens, and it is the exemplar's trace.
    marker.click()
    expect(page).to_have_url(re.compile(rf"/trace/{trace_id}(\?|$)"))
    expect(page.get_by_test_id("waterfall")).to_be_visible()
    assert osprey.get(f"/api/traces/{trace_id}").json()["data"][0]["traceID"] == trace_id
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_warnings_and_infos_show_under_their_query(osprey_factory, osprey_bin, page) -> None:
    """Osprey's PromQL emits no warnings or infos today, so the test adds one of each to
    the real answer of one query (as Prometheus would send them) and checks the page
    shows them under that query, and under no other."""
    osprey, start, end = _seed(osprey_factory, osprey_bin)
    warning = 'PromQL warning: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "x"'
    info = "PromQL info: ignored histogram in rate"

    def annotate(route: Route) -> None:
        resp = route.fetch()
        body = resp.json()
        if "span_kind" in (route.request.post_data or ""):
            body["warnings"] = [warning]
            body["infos"] = [info]
        route.fulfill(response=resp, body=json.dumps(body))

    page.route("**/api/v1/query_range", annotate)
    problems = watch(page)
    page.goto(_explore(osprey, [RATE_Q, KIND_Q], start, end))
    b = page.locator('[data-testid=query-row][data-query="B"]')
    expect(b.get_by_test_id("query-warning")).to_have_text(warning)
    expect(b.get_by_test_id("query-info")).to_have_text(info)
    a = page.locator('[data-testid=query-row][data-query="A"]')
    expect(page.get_by_test_id("legend-row").first).to_be_visible()
    expect(a.get_by_test_id("query-warning")).to_have_count(0)
    screenshot(page, "explore-warnings")

    # A query error is shown under its own query; the other query still draws.
    page.locator('[data-testid=query-row][data-query="A"] .cm-content').click()
    page.keyboard.press("End")
    page.keyboard.type(" +")
    page.keyboard.press("Escape")
    page.get_by_test_id("run-query").click()
    expect(a.get_by_test_id("state-error")).to_be_visible()
    expect(b.get_by_test_id("state-error")).to_have_count(0)
    expect(page.locator('[data-testid=legend-row][data-query="B"]').first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert [p for p in problems if not ("query_range" in p and "400" in p) and "status of 400" not in p] == [], problems


def test_service_page_charts_have_a_hover_readout(osprey_factory, osprey_bin, page) -> None:
    osprey, start, end = _seed(osprey_factory, osprey_bin)
    problems = watch(page)
    page.goto(osprey.http(f"/services/checkout?from={start}&to={end}"))
    chart = page.get_by_test_id("service-rate-chart").locator("canvas").first
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5)
    tip = page.get_by_test_id("chart-tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("UTC")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_metric_browser_lists_labels_and_values_and_builds_a_query(osprey_factory, osprey_bin, page) -> None:
    osprey, start, end = _seed(osprey_factory, osprey_bin)
    metric = "traces_span_metrics_calls_total"
    labels = [x for x in osprey.get("/api/v1/labels", params={"match[]": metric}).json()["data"] if x != "__name__"]
    values = osprey.get("/api/v1/label/service_name/values", params={"match[]": metric}).json()["data"]
    assert labels and len(values) > 1, (labels, values)
    problems = watch(page)
    page.goto(_explore(osprey, [""], start, end))
    page.get_by_test_id("metric-browser-toggle").click()
    page.locator(f'[data-testid=metric-item][data-metric="{metric}"]').click()
    expect(page.get_by_test_id("metric-label")).to_have_count(len(labels))
    assert sorted(page.get_by_test_id("metric-label").evaluate_all("es => es.map(e => e.dataset.label)")) == sorted(labels)
    chips = page.locator('[data-testid=metric-label][data-label="service_name"] [data-testid=metric-value]')
    expect(chips).to_have_count(min(len(values), 40))
    chips.filter(has_text=values[0]).first.click()
    chips.filter(has_text=values[1]).first.click()
    selector = f'{metric}{{service_name=~"{values[0]}|{values[1]}"}}'
    expect(page.get_by_test_id("metric-selector")).to_have_text(selector)
    page.get_by_test_id("metric-use").click()
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"] == [selector]
    want = _range_query(osprey, selector, start, end)
    assert want
    expect(page.get_by_test_id("legend-row")).to_have_count(len(want))
    page.wait_for_load_state("networkidle")
    assert problems == [], problems
