"""The service map (/services?view=map) and the trace's flame graph and span
table (/trace/{id}?view=flame|table), in a real browser over demo data, checked
against PromQL over the service-graph series and the Jaeger API on the same data.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest
from playwright.sync_api import expect

from builders import assert_accepted, post_otlp, span, traces_request
from harness import wait_until
from uikit import Requests as _Requests, demo, page, screenshot, watch  # noqa: F401


def _map_edges(page) -> dict[tuple[str, str], dict[str, float]]:
    return {
        (e["client"], e["server"]): {"rate": float(e["rate"]), "err": float(e["err"])}
        for e in page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=map-edge]')].map(e => ({
                 client: e.dataset.client, server: e.dataset.server,
                 rate: e.dataset.rate, err: e.dataset.errorPct}))"""
        )
    }


def test_service_map_draws_the_service_graph_edges(osprey_factory, osprey_bin, page) -> None:
    # Span metrics and the service graph written every second: a short demo gives several samples.
    # Unpaired client spans become edges to virtual nodes after graph_wait.
    osprey = osprey_factory(config='[spanmetrics]\ninterval = "1s"\ngraph_wait = "1s"\n')
    demo(osprey, osprey_bin, duration="6s", rate=20)
    # Calls to peers that send no spans: a database and an uninstrumented API.
    now = time.time_ns()
    for i, (svc, attrs) in enumerate([("checkout", {"db.system": "postgresql"}), ("frontend", {"peer.service": "fraud-api"})]):
        for j in range(3):
            tid = f"{0xdb00 + i * 16 + j:032x}"
            t0 = now - (j + 1) * 1_000_000_000
            client = span(tid, f"{0xc0 + j:016x}", "query", t0, t0 + 5_000_000, kind="CLIENT", attributes=attrs)
            assert_accepted(post_otlp(osprey, "traces", traces_request(svc, [client])))
    wait_until(lambda: len(osprey.prom_query('traces_service_graph_request_total{server=~"postgresql|fraud-api"}')) == 2,
               timeout=20, message="the edges to the virtual nodes")
    time.sleep(2.5)  # the last interval's series
    end = int(time.time())
    start = end - 300
    window = f"{end - start}s"
    rate_q = f"sum by (client, server) (rate(traces_service_graph_request_total[{window}]))"
    failed_q = f"sum by (client, server) (rate(traces_service_graph_request_failed_total[{window}]))"
    key = lambda r: (r["metric"].get("client", ""), r["metric"].get("server", ""))  # noqa: E731
    expected = {key(r): float(r["value"][1]) for r in osprey.prom_query(rate_q, at=end)}
    failed = {key(r): float(r["value"][1]) for r in osprey.prom_query(failed_q, at=end)}
    assert len(expected) >= 3, expected
    # The services that send spans; every other node is virtual (such as `user`).
    with_spans = {r[0] for r in osprey.sql("SELECT DISTINCT service FROM spans")}
    names = {n for e in expected for n in e}
    virtual = names - with_spans
    assert {"user", "postgresql", "fraud-api"} <= virtual, names

    problems = watch(page)
    requests = _Requests(page)
    page.goto(osprey.http(f"/services?from={start}&to={end}"))
    expect(page.get_by_test_id("service-row").first).to_be_visible()
    page.get_by_test_id("view-map").click()
    expect(page).to_have_url(re.compile(r"[?&]view=map"))
    edges = page.get_by_test_id("map-edge")
    expect(edges).to_have_count(len(expected))

    # Exactly the service graph's edges, with its rates and error shares.
    shown = _map_edges(page)
    assert set(shown) == set(expected)
    for e, rate in expected.items():
        assert shown[e]["rate"] == pytest.approx(rate, rel=1e-9), e
        f = failed.get(e, 0.0)
        if rate > 0:
            assert shown[e]["err"] == pytest.approx(f / rate * 100, rel=1e-9, abs=1e-12), e

    # Nodes: the edges' ends, virtual ones marked, each linking to its service page.
    nodes = page.get_by_test_id("map-node")
    expect(nodes).to_have_count(len(names))
    for n in nodes.all():
        name = n.get_attribute("data-name")
        assert name in names, name
        assert n.get_attribute("data-virtual") == ("true" if name in virtual else "false"), name
        kind = {"user": "user", "postgresql": "database"}.get(name, "peer" if name in virtual else "service")
        assert n.get_attribute("data-kind") == kind, name
        href = n.get_by_test_id("map-node-link").get_attribute("href")
        assert href.startswith(f"/services/{urllib.parse.quote(name)}?"), href

    # Hovering an edge shows its numbers; a node, its name.
    busiest = max(expected, key=lambda e: expected[e])
    client, server = busiest
    edge = page.locator(f'[data-testid=map-edge][data-client="{client}"][data-server="{server}"]')
    edge.hover()
    tip = page.get_by_test_id("map-tip")
    expect(tip).to_contain_text(f"{client} → {server}")
    expect(tip).to_contain_text("Requests")
    node = page.locator(f'[data-testid=map-node][data-name="{server}"] a')
    node.hover()
    expect(tip).to_contain_text(server)

    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        page.evaluate("() => localStorage.removeItem('osprey.theme')")
        requests.settle()  # a reload would abort the requests in flight
        page.reload()
        expect(edges).to_have_count(len(expected))
        screenshot(page, f"service-map-{theme}")
        page.locator('[data-testid=map-node][data-name="checkout"] a').hover()
        expect(tip).to_contain_text("checkout")
        screenshot(page, f"service-map-hover-{theme}")
        page.mouse.move(0, 0)

    # Clicking a node opens its service; back returns to the map.
    requests.settle()
    target = server if server in with_spans else next(iter(sorted(names & with_spans)))
    page.locator(f'[data-testid=map-node][data-name="{target}"] a').click()
    expect(page).to_have_url(re.compile(rf"/services/{re.escape(urllib.parse.quote(target))}\?"))
    expect(page.get_by_test_id("service-title")).to_have_text(target)
    requests.settle()
    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]view=map"))
    expect(edges).to_have_count(len(expected))
    page.get_by_test_id("view-table").click()
    expect(page.get_by_test_id("service-row").first).to_be_visible()
    assert "view=" not in page.url
    page.wait_for_load_state("networkidle")
    assert problems == [], "\n".join(problems)


def _self_times(trace: dict) -> dict[str, int]:
    """Each span's self time (µs): its duration minus the union of its children's
    intervals, each clipped to the span."""
    spans = {s["spanID"]: s for s in trace["spans"]}
    kids: dict[str, list[dict]] = {}
    for s in trace["spans"]:
        parent = next((r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"), None)
        if parent in spans and parent != s["spanID"]:
            kids.setdefault(parent, []).append(s)
    out = {}
    for sid, s in spans.items():
        lo, hi = s["startTime"], s["startTime"] + s["duration"]
        intervals = sorted(
            (max(c["startTime"], lo), min(c["startTime"] + c["duration"], hi)) for c in kids.get(sid, [])
        )
        covered, cur = 0, None
        for a, b in intervals:
            if b <= a:
                continue
            if cur is None or a > cur[1]:
                if cur is not None:
                    covered += cur[1] - cur[0]
                cur = [a, b]
            else:
                cur[1] = max(cur[1], b)
        if cur is not None:
            covered += cur[1] - cur[0]
        out[sid] = s["duration"] - covered
    return out


def _table_rows(page) -> dict[str, dict]:
    """Every row of the (virtualised) span table, by span id: scrolls through it."""
    rows: dict[str, dict] = {}
    order: list[str] = []
    scroller = page.locator(".st-scroll")
    top = 0
    while True:
        for r in page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=span-table-row]')].map(e => ({
                 id: e.dataset.spanId, y: e.style.transform, duration: Number(e.dataset.durationUs),
                 self: Number(e.dataset.selfUs), service: e.dataset.service, operation: e.dataset.operation,
                 shown: e.querySelector('[data-testid=span-table-duration]').textContent}))"""
        ):
            if r["id"] not in rows:
                rows[r["id"]] = r
        height, client = scroller.evaluate("e => [e.scrollHeight, e.clientHeight]")
        if top + client >= height:
            break
        top += client
        scroller.evaluate(f"e => e.scrollTo(0, {top})")
        page.wait_for_timeout(50)
    scroller.evaluate("e => e.scrollTo(0, 0)")
    return rows


def _row_order(page) -> list[str]:
    """The span ids of the rows in the DOM, top to bottom."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=span-table-row]')]
             .map(e => [new DOMMatrix(getComputedStyle(e).transform).m42, e.dataset.spanId])
             .sort((a, b) => a[0] - b[0]).map(x => x[1])"""
    )


def _root(trace: dict) -> dict:
    ids = {s["spanID"] for s in trace["spans"]}
    roots = [s for s in trace["spans"]
             if not any(r["refType"] == "CHILD_OF" and r["spanID"] in ids for r in s["references"])]
    assert len(roots) == 1, roots
    return roots[0]


def _click_flame(page, x_frac: float, depth: int, dbl: bool = False) -> None:
    canvas = page.get_by_test_id("flame-canvas")
    box = canvas.bounding_box()
    pos = {"x": box["width"] * x_frac, "y": depth * 22 + 11}
    if dbl:
        canvas.dblclick(position=pos)
    else:
        canvas.click(position=pos)


def test_trace_flame_graph_and_span_table(osprey, osprey_bin, page) -> None:
    demo(osprey, osprey_bin)
    (trace_id, n), = osprey.sql("SELECT trace_id, count(*) FROM spans GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")
    full = osprey.get(f"/api/traces/{trace_id}").json()["data"][0]
    spans = {s["spanID"]: s for s in full["spans"]}
    assert len(spans) == n > 3
    self_us = _self_times(full)
    root = _root(full)
    kids = sorted((s for s in full["spans"] if any(r["refType"] == "CHILD_OF" and r["spanID"] == root["spanID"]
                                                    for r in s["references"])),
                  key=lambda s: (s["startTime"], s["spanID"]))
    assert kids, "the root has no children"
    assert self_us[root["spanID"]] < root["duration"]

    problems = watch(page)
    requests = _Requests(page)
    page.goto(osprey.http(f"/trace/{trace_id}"))
    expect(page.get_by_test_id("span-row").first).to_be_visible()
    page.get_by_test_id("view-table").click()
    expect(page).to_have_url(re.compile(r"[?&]view=table"))

    # Every span, with the API's duration, service, operation and self time.
    table = page.get_by_test_id("span-table")
    expect(table).to_have_attribute("data-rows", str(n))
    rows = _table_rows(page)
    assert set(rows) == set(spans)
    for sid, r in rows.items():
        s = spans[sid]
        assert r["duration"] == s["duration"], sid
        assert r["operation"] == s["operationName"], sid
        assert r["service"] == full["processes"][s["processID"]]["serviceName"], sid
        assert r["self"] == pytest.approx(self_us[sid], abs=1e-6), sid
        assert r["shown"].strip() != ""
    # The root's self time: its duration minus the union of its children's intervals.
    assert rows[root["spanID"]]["self"] == pytest.approx(self_us[root["spanID"]], abs=1e-6)
    # The self time per service adds up to the trace's.
    by_svc = {e.get_attribute("data-service"): float(e.get_attribute("data-self-us"))
              for e in page.get_by_test_id("self-by-service").locator("[data-service]").all()}
    want: dict[str, float] = {}
    for sid, s in spans.items():
        svc = full["processes"][s["processID"]]["serviceName"]
        want[svc] = want.get(svc, 0) + self_us[sid]
    assert by_svc == pytest.approx(want)

    # Sorted by self time (the default), then by duration both ways, then by service.
    order = _row_order(page)
    assert [self_us[s] for s in order] == sorted((self_us[s] for s in order), reverse=True)
    page.locator('[data-sort="duration"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-duration"))
    order = _row_order(page)
    assert order[0] == root["spanID"]
    assert [spans[s]["duration"] for s in order] == sorted((spans[s]["duration"] for s in order), reverse=True)
    page.locator('[data-sort="duration"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=duration"))
    order = _row_order(page)
    assert [spans[s]["duration"] for s in order] == sorted(spans[s]["duration"] for s in order)
    page.locator('[data-sort="service"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=service"))
    services = [rows[s]["service"] for s in _row_order(page)]
    assert services == sorted(services)  # the demo's names: lower-case ASCII

    # A row opens the span's details (the waterfall's).
    child = kids[0]
    page.locator(f'[data-testid=span-table-row][data-span-id="{child["spanID"]}"]').click()
    details = page.get_by_test_id("span-details")
    expect(details.get_by_test_id("span-details-id")).to_have_text(child["spanID"])
    expect(page).to_have_url(re.compile(rf"[?&]span={child['spanID']}"))
    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        screenshot(page, f"span-table-{theme}")

    # The search keeps only the matching spans.
    op = child["operationName"]
    matching = [s for s in spans.values() if op.lower() in s["operationName"].lower()
                or op.lower() in full["processes"][s["processID"]]["serviceName"].lower()]
    page.get_by_test_id("span-search").fill(op)
    expect(table).to_have_attribute("data-rows", str(len(matching)))
    page.get_by_test_id("span-search").fill("")
    expect(table).to_have_attribute("data-rows", str(n))

    # The flame graph: every span; a click on the top row selects the root.
    page.get_by_test_id("view-flame").click()
    expect(page).to_have_url(re.compile(r"[?&]view=flame"))
    flame = page.get_by_test_id("flame")
    expect(flame).to_have_attribute("data-span-count", str(n))
    _click_flame(page, 0.5, 0)
    expect(details.get_by_test_id("span-details-id")).to_have_text(root["spanID"])
    expect(page).to_have_url(re.compile(rf"[?&]span={root['spanID']}"))
    page.get_by_test_id("flame-canvas").hover(position={"x": 40, "y": 11})
    expect(page.get_by_test_id("flame-tip")).to_contain_text(root["operationName"])
    # Arrow down walks to the root's first child.
    page.get_by_test_id("flame-canvas").press("ArrowDown")
    expect(details.get_by_test_id("span-details-id")).to_have_text(kids[0]["spanID"])
    page.get_by_test_id("flame-canvas").press("ArrowUp")
    expect(details.get_by_test_id("span-details-id")).to_have_text(root["spanID"])
    # Double-click zooms to a span; reset goes back.
    first = (kids[0]["startTime"] + kids[0]["duration"] / 2 - root["startTime"]) / root["duration"]
    _click_flame(page, first, 1, dbl=True)
    expect(page.get_by_test_id("flame-reset")).to_be_visible()
    expect(details.get_by_test_id("span-details-id")).to_have_text(kids[0]["spanID"])
    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        screenshot(page, f"flame-zoomed-{theme}")
    page.get_by_test_id("flame-reset").click()
    expect(page.get_by_test_id("flame-reset")).to_be_hidden()
    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        screenshot(page, f"flame-{theme}")

    # Back to the waterfall: no view parameter, the selection kept.
    page.get_by_test_id("view-waterfall").click()
    expect(page.get_by_test_id("span-row").first).to_be_visible()
    assert "view=" not in page.url
    expect(details.get_by_test_id("span-details-id")).to_have_text(kids[0]["spanID"])
    requests.settle()
    assert problems == [], "\n".join(problems)


def test_flame_graph_and_span_table_with_10000_spans(osprey, page) -> None:
    # A root, 99 children and 100 grandchildren under each, plus a chain 40 deep
    # under the first grandchild (so the flame graph scrolls): 10,040 spans.
    trace_id = "5a" * 16
    base = (int(time.time()) - 120) * 1_000_000_000
    ms = 1_000_000
    services = ["edge", "orders", "stock", "billing"]
    by_service: dict[str, list[dict]] = {s: [] for s in services}
    root_id = f"{1 << 60:016x}"
    by_service["edge"].append(span(trace_id, root_id, "GET /big", base, base + 10_000 * ms, kind="SERVER"))
    sid = 1
    first_grandchild = None
    for i in range(99):
        parent = f"{sid:016x}"
        start = base + i * 100 * ms
        svc = services[1 + i % 3]
        by_service[svc].append(span(trace_id, parent, f"step-{i}", start, start + 95 * ms, parent_span_id=root_id))
        sid += 1
        for j in range(100):
            s = start + j * 900_000
            by_service[svc].append(span(trace_id, f"{sid:016x}", f"work-{j % 7}", s, s + 800_000 - j * 1000,
                                        parent_span_id=parent))
            first_grandchild = first_grandchild or f"{sid:016x}"
            sid += 1
    parent = first_grandchild
    for d in range(40):
        s = base + 10_000 + d * 10_000
        by_service["stock"].append(span(trace_id, f"{sid:016x}", f"deep-{d}", s, s + 700_000 - d * 15_000,
                                        parent_span_id=parent))
        parent = f"{sid:016x}"
        sid += 1
    total = sum(len(v) for v in by_service.values())
    assert total == 10_040
    for svc, items in by_service.items():
        for i in range(0, len(items), 1000):
            assert_accepted(post_otlp(osprey, "traces", traces_request(svc, items[i:i + 1000])))
    osprey.flush()
    full = osprey.get(f"/api/traces/{trace_id}").json()["data"][0]
    assert len(full["spans"]) == total
    longest = max(full["spans"], key=lambda s: (s["duration"], s["spanID"]))

    problems = watch(page)
    requests = _Requests(page)
    page.goto(osprey.http(f"/trace/{trace_id}?view=table&sort=-duration"))
    table = page.get_by_test_id("span-table")
    expect(table).to_have_attribute("data-rows", str(total))
    expect(page.get_by_test_id("trace-span-count")).to_have_text(f"{total:,}")
    # Virtualised: only the rows in view are in the DOM.
    rows = page.get_by_test_id("span-table-row")
    expect(rows.first).to_be_visible()
    assert rows.count() < 150, rows.count()
    assert _row_order(page)[0] == longest["spanID"]
    # The last rows are reachable by scrolling.
    page.locator(".st-scroll").evaluate("e => e.scrollTo(0, e.scrollHeight)")
    shortest = min(full["spans"], key=lambda s: (s["duration"], s["spanID"]))
    expect(page.locator(f'[data-testid=span-table-row][data-span-id="{shortest["spanID"]}"]')).to_be_visible()

    page.get_by_test_id("view-flame").click()
    flame = page.get_by_test_id("flame")
    expect(flame).to_have_attribute("data-span-count", str(total))
    expect(flame).to_have_attribute("data-depth", "43")
    _click_flame(page, 0.5, 0)
    expect(page.get_by_test_id("span-details").get_by_test_id("span-details-id")).to_have_text(root_id)
    for theme in ("dark", "light"):
        page.emulate_media(color_scheme=theme)
        screenshot(page, f"flame-10k-{theme}")
    # The deepest rows are reachable: the scroller is as tall as every depth.
    scroller = page.locator(".flame-scroll")
    assert scroller.evaluate("e => e.scrollHeight") >= 43 * 22
    scroller.evaluate("e => e.scrollTo(0, e.scrollHeight)")
    box = page.get_by_test_id("flame-canvas").bounding_box()
    page.get_by_test_id("flame-canvas").hover(position={"x": 1, "y": box["height"] - 11})
    expect(page.get_by_test_id("flame-tip")).to_contain_text("deep-39")
    requests.settle()
    assert problems == [], "\n".join(problems)
