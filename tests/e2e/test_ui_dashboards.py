"""Dashboards in the browser (issue 19): a Grafana dashboard JSON that uses every panel
type and variable kind Osprey draws (fixtures/grafana/every-panel.json, written by hand
from Grafana's schema) is imported on `/dashboards` and each panel is checked against
what the same queries answer from the API; variables change the panels and live in the
URL; versions are restored; the built-in dashboards show the demo's data.

One server for the module, fed by `osprey demo` and scraping itself
(`scrape.self_monitor`); every page is opened over one fixed absolute range, so the page
and the API answer the same question."""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from harness import OspreyServer, wait_until
from uikit import Requests, page, screenshot, watch  # noqa: F401

FIXTURE = Path(__file__).parent / "fixtures" / "grafana" / "every-panel.json"
SERVICES = {"ad", "cart", "catalog", "checkout", "currency", "email", "frontend", "payment", "recommendation", "shipping"}
HOSTS = ["host-a", "host-b", "host-c"]


@pytest.fixture(scope="module")
def shop(osprey_bin, tmp_path_factory: pytest.TempPathFactory):
    """The server, the demo's data in it, and the range every page is opened over."""
    tmp = tmp_path_factory.mktemp("dashboards")
    (tmp / "data").mkdir()
    cfg = tmp / "osprey.toml"
    cfg.write_text("[scrape]\nself_monitor = true\n[spanmetrics]\ninterval = \"2s\"\n")
    server = OspreyServer(osprey_bin, tmp / "data", tmp, name="osprey-dash", env=None,
                          data_dir_via_env=False, args=["--config", str(cfg)])
    server.start()
    try:
        start = int(time.time()) - 60
        demo_started = time.time()
        proc = subprocess.run(
            [str(osprey_bin), "demo", "--endpoint", server.grpc_endpoint, "--duration", "12s",
             "--rate", "20", "--seed", "3"], capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr
        wait_until(lambda: {r["metric"]["service_name"] for r in server.prom_query(
            "sum by (service_name) (traces_span_metrics_calls_total)")} == SERVICES,
            timeout=30, message="span metrics of every service")
        wait_until(lambda: server.prom_query('up{job="osprey"}') != [], timeout=30,
                   message="Osprey scraped itself")
        scraped = float(server.prom_query('timestamp(up{job="osprey"})')[0]["value"][1])
        # Range queries are aligned down to their step (15s here): the range must end
        # a step after the first self-scrape and a step after the demo began (so the
        # last step's [1m] rate holds several of the 2s span-metrics samples: a demo
        # begun 3s before a step boundary left one, and the rates were empty), and in
        # the past, so that what the page and the API are asked does not change while
        # the test runs.
        while (int(time.time()) - 3) // 15 * 15 <= max(scraped, demo_started + 15):
            time.sleep(0.5)
        end = int(time.time()) - 3
        yield server, start, end
    finally:
        server.stop()


def _range(start: int, end: int) -> str:
    return f"from={start}&to={end}"


def _loaded(page) -> None:
    """Waits until no panel on the page is loading."""
    page.wait_for_function(
        "() => { const ps = [...document.querySelectorAll('[data-testid=dash-panel]')];"
        " return ps.length > 0 && ps.every(p => p.dataset.state !== 'loading'); }", timeout=30_000)


def _panel(page, pid: int):
    return page.locator(f'[data-testid=dash-panel][data-panel-id="{pid}"]')


def _asked(panel) -> tuple[dict[str, str], int, int, int]:
    """The queries a panel sent (by refId), its range (ms) and its step (s)."""
    a = panel.evaluate("p => [p.dataset.queries, p.dataset.start, p.dataset.end, p.dataset.step]")
    return json.loads(a[0]), int(a[1]), int(a[2]), int(a[3])


def _range_last(osprey: OspreyServer, expr: str, start_ms: int, end_ms: int, step: int) -> list[tuple[dict, float]]:
    """What a range query answers over the panel's aligned range: each series' last value."""
    step_ms = step * 1000
    s, e = start_ms // step_ms * step_ms, end_ms // step_ms * step_ms
    r = osprey.get("/api/v1/query_range", params={"query": expr, "start": f"{s / 1000:.3f}",
                                                 "end": f"{e / 1000:.3f}", "step": str(step)})
    assert r.status_code == 200, r.text
    out = []
    for series in r.json()["data"]["result"]:
        vals = [float(v) for _, v in series["values"] if not math.isnan(float(v))]
        if vals:
            out.append((series["metric"], vals[-1]))
    return out


def _instant(osprey: OspreyServer, expr: str, end_ms: int) -> list[tuple[dict, float]]:
    return [(r["metric"], float(r["value"][1])) for r in osprey.prom_query(expr, at=end_ms / 1000)]


def _values(panel, testid: str) -> list[float]:
    return sorted(float(v) for v in panel.get_by_test_id(testid).evaluate_all("es => es.map(e => e.dataset.value)"))


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b))


def _import(page, osprey: OspreyServer, span: str) -> None:
    page.goto(osprey.http(f"/dashboards?{span}"))
    page.get_by_test_id("dash-import-open").click()
    page.get_by_test_id("dash-import-json").fill(FIXTURE.read_text())
    summary = page.get_by_test_id("dash-import-summary")
    # What Osprey does not draw is named before the import, panel by panel.
    for what in ('panel type "piechart"', 'panel type "geomap"', 'data source "elasticsearch"',
                 'transformation "organize"'):
        expect(summary).to_contain_text(what)
    page.get_by_test_id("dash-import-save").click()
    expect(page).to_have_url(f"{osprey.http('/d/osprey-e2e-every-panel')}?{span}", timeout=10_000)


def test_grafana_import_renders_every_panel_as_the_api_answers(shop, page) -> None:
    osprey, start, end = shop
    problems = watch(page)
    span = _range(start, end)
    _import(page, osprey, span)
    _loaded(page)
    expect(page.get_by_test_id("dash-title")).to_have_text("E2E: every panel and variable")

    # Stat over a range query: the last value; over an instant query: the value.
    p = _panel(page, 2)
    q, s, e, step = _asked(p)
    assert "service_name=~\"(ad|cart|catalog|checkout|currency|email|frontend|payment|recommendation|shipping)\"" in q["A"], q
    assert "[1m]" in q["A"], "$__rate_interval: max($__interval + 15s, 4 x 15s)"
    assert _close(_values(p, "stat-value"), [v for _, v in _range_last(osprey, q["A"], s, e, step)])
    p = _panel(page, 3)
    q, s, e, _ = _asked(p)
    assert f"[{(end - start)}s]" in q["A"], "$__range is the range in seconds"
    assert _close(_values(p, "stat-value"), [v for _, v in _instant(osprey, q["A"], e)])

    # Gauge (one per host) and bar gauge (instant): each series' value.
    p = _panel(page, 4)
    q, s, e, step = _asked(p)
    assert _close(_values(p, "gauge-value"), sorted(v for _, v in _range_last(osprey, q["A"], s, e, step)))
    assert p.get_by_test_id("gauge-value").count() == 3
    p = _panel(page, 5)
    q, s, e, _ = _asked(p)
    assert _close(_values(p, "bargauge-value"), sorted(v for _, v in _instant(osprey, q["A"], e)))

    # Time series: one line per service, as many as the API's series.
    p = _panel(page, 6)
    q, s, e, step = _asked(p)
    assert p.get_by_test_id("panel-timeseries").get_attribute("data-series") == str(len(_range_last(osprey, q["A"], s, e, step)))
    assert p.get_by_test_id("panel-timeseries").get_attribute("data-series") == str(len(SERVICES))
    # Its panel links.
    p.get_by_test_id("panel-links-toggle").click()
    links = p.get_by_test_id("panel-link")
    expect(links).to_have_count(2)
    assert [(x.inner_text(), x.get_attribute("href"), x.get_attribute("target")) for x in links.all()] == [
        ("Service overview", "/services", None), ("Traces", "/traces", "_blank")]
    p.get_by_test_id("panel-links-toggle").click()

    # Its legend is a table on the right with mean, max and last: last is the API's last value.
    last = {m["service_name"]: v for m, v in _range_last(osprey, q["A"], s, e, step)}
    legend = p.get_by_test_id("legend-row")
    expect(legend).to_have_count(len(SERVICES))
    for row in legend.all():
        name = row.locator("td").first.inner_text().strip()
        cells = {c: row.locator(f'td[data-calc="{c}"]').get_attribute("data-value") for c in ("mean", "max", "lastNotNull")}
        assert math.isclose(float(cells["lastNotNull"]), last[name], rel_tol=1e-9), (name, cells)
        assert float(cells["max"]) >= float(cells["mean"]) - 1e-12, cells

    # A click on the chart offers the nearest series' data links, with its labels and value.
    over = p.locator(".u-over")
    box = over.bounding_box()
    over.click(position={"x": box["width"] * 0.97, "y": box["height"] / 2})
    link = p.get_by_test_id("data-link-menu").get_by_test_id("data-link")
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    service, value = href.removeprefix("/services/").split("?value=")
    assert service in SERVICES and float(value) >= 0, href
    expect(link).to_have_text(f"Open {service} (value {value})")
    # ${status:pipe}: every custom value joined by |.
    assert 'status_code=~"STATUS_CODE_UNSET|STATUS_CODE_OK|STATUS_CODE_ERROR"' in _asked(_panel(page, 7))[0]["A"]

    # Heatmap: a row per `le` bucket.
    p = _panel(page, 9)
    q, s, e, step = _asked(p)
    les = {m["le"] for m, _ in _range_last(osprey, q["A"], s, e, step)}
    assert p.get_by_test_id("panel-heatmap").get_attribute("data-buckets") == str(len(les)) and len(les) > 3
    assert float(p.get_by_test_id("panel-heatmap").get_attribute("data-max")) > 0

    # Table: two instant queries joined on their labels, `Value #A` and `Value #B`.
    p = _panel(page, 10)
    q, s, e, _ = _asked(p)
    a = {m["service_name"]: v for m, v in _instant(osprey, q["A"], e)}
    b = {m["service_name"]: v for m, v in _instant(osprey, q["B"], e)}
    rows = p.get_by_test_id("table-row")
    expect(rows).to_have_count(len(set(a) | set(b)))
    assert sorted(float(v) for v in p.locator("td[data-value]").evaluate_all("es => es.map(e => e.dataset.value)")) == sorted(
        list(a.values()) + list(b.values()))

    # Overrides: `Time` hidden, headers renamed; a data link on the service column
    # with the row's label and the cell's raw value in its URL.
    assert p.locator("th").all_inner_texts() == ["Service", "Calls/s", "Errors in range"]
    links = p.get_by_test_id("data-link").all()
    assert sorted(x.inner_text() for x in links) == sorted(set(a) | set(b))
    for x in links:
        assert x.get_attribute("href") == f"/services/{x.inner_text()}?value={x.inner_text()}"

    # Logs: the lines the Loki API gives for the same query.
    p = _panel(page, 11)
    q, s, e, _ = _asked(p)
    r = osprey.get("/loki/api/v1/query_range", params={"query": q["A"], "start": str(s * 1_000_000),
                                                      "end": str(e * 1_000_000), "limit": "1000"})
    lines = sum(len(st["values"]) for st in r.json()["data"]["result"])
    assert lines > 0
    max_lines = next(x for x in json.loads(FIXTURE.read_text())["panels"] if x["id"] == 11)["targets"][0]["maxLines"]
    expect(p.get_by_test_id("log-line")).to_have_count(min(lines, max_lines))

    # Text: markdown with the variables' texts.
    expect(_panel(page, 1).get_by_test_id("panel-text")).to_contain_text("Selected services: All")
    expect(_panel(page, 1).get_by_test_id("panel-text")).to_contain_text("demo")

    # Repeats: a stat per service; a row per host (All with an allValue still repeats per host).
    expect(_panel(page, 12)).to_have_count(len(SERVICES))
    titles = _panel(page, 12).get_by_test_id("dash-panel-title").all_inner_texts()
    assert {t.removeprefix("Rate of ") for t in titles} == SERVICES
    for host in HOSTS:
        expect(page.get_by_test_id("dash-row").filter(has_text=f"Host {host}")).to_have_count(1)

    # Unsupported panels say so instead of staying blank.
    expect(page.get_by_test_id("panel-unsupported")).to_have_count(2)

    # A collapsed row opens to its two panels.
    expect(_panel(page, 22)).to_have_count(0)
    page.get_by_test_id("dash-row").filter(has_text="Collapsed row").click()
    expect(_panel(page, 22)).to_have_count(1)
    expect(_panel(page, 23)).to_have_count(1)
    _loaded(page)
    assert _panel(page, 22).get_attribute("data-state") == "done"

    screenshot(page, "dashboard-every-panel-1")
    page.get_by_test_id("theme-toggle").click()
    page.wait_for_timeout(300)
    screenshot(page, "dashboard-every-panel-2")
    page.get_by_test_id("theme-toggle").click()
    assert problems == [], problems


def test_variables_change_panels_and_live_in_the_url(shop, page) -> None:
    osprey, start, end = shop
    span = _range(start, end)
    # Imported by the test above; through the API when that one did not run (-k).
    r = osprey.post("/api/v1/dashboards", json={"dashboard": json.loads(FIXTURE.read_text())})
    assert r.status_code in (200, 409), r.text
    page.goto(osprey.http(f"/d/osprey-e2e-every-panel?{span}"))
    _loaded(page)
    problems = watch(page)
    inflight = Requests(page)
    page.get_by_test_id("var-service").click()
    page.get_by_test_id("var-option-cart").click()
    expect(page).to_have_url(f"{osprey.http('/d/osprey-e2e-every-panel')}?{span}&var-service=cart")
    _loaded(page)
    p = _panel(page, 6)
    expect(p.get_by_test_id("panel-timeseries")).to_have_attribute("data-series", "1")
    assert 'service_name=~"cart"' in _asked(p)[0]["A"]
    expect(_panel(page, 12)).to_have_count(1)
    expect(_panel(page, 12).get_by_test_id("dash-panel-title")).to_have_text("Rate of cart")

    # A textbox variable goes into the log query; the link reproduces what was seen.
    page.get_by_test_id("var-search").fill("POST")
    page.get_by_test_id("var-search").press("Enter")
    expect(page).to_have_url(f"{osprey.http('/d/osprey-e2e-every-panel')}?{span}&var-service=cart&var-search=POST")
    inflight.settle()
    page.reload()
    _loaded(page)
    expect(page.get_by_test_id("var-service")).to_have_text("cart")
    assert '|= "POST"' in _asked(_panel(page, 11))[0]["A"]
    lines = _panel(page, 11).get_by_test_id("log-line").all_inner_texts()
    assert lines and all("POST" in line for line in lines)
    expect(_panel(page, 6).get_by_test_id("panel-timeseries")).to_have_attribute("data-series", "1")
    assert problems == [], problems


def test_export_gives_back_the_stored_json(shop, page) -> None:
    osprey, start, end = shop
    body = json.loads(FIXTURE.read_text())
    body["uid"] = "export-check"
    r = osprey.post("/api/v1/dashboards", json={"dashboard": body})
    assert r.status_code == 200, r.text
    page.goto(osprey.http(f"/d/export-check?{_range(start, end)}"))
    _loaded(page)
    with page.expect_download() as dl:
        page.get_by_test_id("dash-export").click()
    exported = json.loads(Path(dl.value.path()).read_text())
    assert exported == osprey.get("/api/v1/dashboards/export-check").json()["data"]["dashboard"]
    assert exported["panels"] == body["panels"] and exported["templating"] == body["templating"]


def test_versions_restore_and_copy(shop, page) -> None:
    osprey, start, end = shop
    board = {"title": "Checkout", "tags": ["shop"], "panels": [
        {"id": 1, "type": "stat", "title": "Calls", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
         "targets": [{"refId": "A", "expr": "sum(traces_span_metrics_calls_total)"}]}]}
    created = osprey.post("/api/v1/dashboards", json={"dashboard": board}).json()["data"]
    board2 = {**board, "title": "Checkout (edited)"}
    r = requests.put(osprey.http(f"/api/v1/dashboards/{created['id']}"), json={"version": 1, "dashboard": board2}, timeout=10)
    assert r.status_code == 200, r.text
    problems = watch(page)
    inflight = Requests(page)
    page.goto(osprey.http(f"/d/{created['id']}?{_range(start, end)}"))
    expect(page.get_by_test_id("dash-title")).to_have_text("Checkout (edited)")
    expect(page.get_by_test_id("dash-version-current")).to_have_text("v2")
    page.get_by_test_id("dash-versions-toggle").click()
    expect(page.get_by_test_id("dash-version")).to_have_count(2)
    page.get_by_test_id("dash-restore").click()
    expect(page.get_by_test_id("dash-title")).to_have_text("Checkout")
    expect(page.get_by_test_id("dash-version-current")).to_have_text("v3")
    stored = osprey.get(f"/api/v1/dashboards/{created['id']}").json()["data"]
    assert (stored["version"], stored["title"]) == (3, "Checkout")
    # The restored version redraws its panels: let their queries finish before leaving.
    inflight.settle()

    # A built-in dashboard is changed through a copy of it.
    page.goto(osprey.http(f"/d/osprey-red-by-service?{_range(start, end)}"))
    expect(page.get_by_test_id("dash-delete")).to_have_count(0)
    _loaded(page)
    inflight.settle()
    page.get_by_test_id("dash-copy").click()
    expect(page.get_by_test_id("dash-title")).to_have_text("RED by service (copy)")
    copy_id = page.url.split("/d/")[1].split("?")[0]
    copy = osprey.get(f"/api/v1/dashboards/{copy_id}").json()["data"]
    assert copy["builtin"] is False and copy["dashboard"]["panels"] == osprey.get(
        "/api/v1/dashboards/osprey-red-by-service").json()["data"]["dashboard"]["panels"]
    assert problems == [], problems


@pytest.mark.parametrize("uid,testid,expr_contains", [
    ("osprey-red-by-service", "stat-value", "traces_span_metrics_calls_total"),
    ("osprey-use-by-host", "stat-value", "system_"),
    ("osprey-itself", "stat-value", "up{"),
])
def test_builtin_dashboards_show_the_demo_data(shop, page, uid: str, testid: str, expr_contains: str) -> None:
    osprey, start, end = shop
    problems = watch(page)
    page.goto(osprey.http(f"/dashboards?{_range(start, end)}"))
    expect(page.locator(f'[data-testid=dash-list-row][data-id="{uid}"]')).to_have_count(1)
    page.locator(f'[data-testid=dash-list-row][data-id="{uid}"] a').click()
    _loaded(page)
    panels = page.get_by_test_id("dash-panel")
    states = panels.evaluate_all("ps => ps.map(p => p.dataset.state)")
    assert "error" not in states, states
    # The first stat that asks for the series named: it shows the API's value.
    stats = page.locator("[data-testid=dash-panel][data-panel-type=stat]")
    checked = 0
    for i in range(stats.count()):
        p = stats.nth(i)
        q, s, e, step = _asked(p)
        if not any(expr_contains in x for x in q.values()):
            continue
        want = [v for _, v in _range_last(osprey, q["A"], s, e, step)]
        assert want, f"{uid}: {q['A']} has data"
        assert _close(_values(p, testid), sorted(want)), q
        checked += 1
    assert checked > 0, f"{uid}: no stat panel asks for {expr_contains}"
    series = page.get_by_test_id("panel-timeseries").evaluate_all("es => es.map(e => Number(e.dataset.series))")
    assert series and max(series) > 0, series
    screenshot(page, f"dashboard-{uid}")
    assert problems == [], problems
