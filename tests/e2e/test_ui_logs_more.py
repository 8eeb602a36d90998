"""The logs view beyond search (issue 16): the live tail, the patterns tab, the context
around a record and its resource attributes, in a real browser, each checked against
the API or SQL on the same data."""

from __future__ import annotations

import re
import time
import urllib.parse

from playwright.sync_api import expect

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import OspreyServer, wait_until
from uikit import demo, page, screenshot, watch  # noqa: F401

MS = 1_000_000


def _post(osprey: OspreyServer, service: str, records: list[dict], **resource: str) -> None:
    assert_accepted(post_otlp(osprey, "logs", logs_request(service, records, resource_attrs=resource or None)))


def _list_gap(page) -> float:
    """How far the log list is from its end (0 when the newest line is in view)."""
    return page.get_by_test_id("logs-list").evaluate("e => e.scrollHeight - e.clientHeight - e.scrollTop")


# ---------------------------------------------------------------------------
# Live tail
# ---------------------------------------------------------------------------


def test_live_tail_follows_new_lines_pauses_when_scrolled_and_stops(osprey: OspreyServer, page) -> None:
    problems = watch(page)
    page.goto(osprey.http("/logs?service=live&live=1"))
    status = page.get_by_test_id("live-status")
    # Following once the server has subscribed this page.
    expect(status).to_have_attribute("data-state", "following")
    expect(page.get_by_test_id("live-toggle")).to_have_attribute("aria-pressed", "true")

    now = time.time_ns()
    # Another service first: the stream is ordered, so once the 120 lines are in,
    # this one would have been too had the filter let it through.
    _post(osprey, "other", [log_record(now, "other service line")])
    _post(osprey, "live", [log_record(now + i * MS, f"live line {i:03d}") for i in range(120)])
    rows = page.get_by_test_id("log-row")
    expect(status).to_contain_text("120 lines received")
    # Newest at the bottom, followed: the last row is the last line posted.
    expect(rows.last).to_contain_text("live line 119")
    assert page.locator("[data-testid=log-row]", has_text="other service line").count() == 0
    assert _list_gap(page) <= 2
    expected = [b for (b,) in osprey.sql("SELECT body FROM logs WHERE service = 'live' ORDER BY timestamp")]
    assert expected == [f"live line {i:03d}" for i in range(120)]
    shown = rows.locator(".col-body").all_inner_texts()
    assert shown == expected[-len(shown):], shown
    screenshot(page, "logs-live-following")

    # Scrolled away: following pauses, new lines wait with a count. (A follow scroll
    # of the last render may still land after the first scroll on a loaded machine,
    # as it would under a user's wheel: scroll again until the view stays up.)
    def scrolled_up() -> bool:
        page.get_by_test_id("logs-list").evaluate("e => e.scrollTo(0, 0)")
        page.wait_for_timeout(100)
        return status.get_attribute("data-state") == "paused"

    wait_until(scrolled_up, message="following paused after scrolling up")
    expect(status).to_have_attribute("data-state", "paused")
    _post(osprey, "live", [log_record(now + (200 + i) * MS, f"live late {i}") for i in range(7)])
    waiting = page.get_by_test_id("live-new-lines")
    expect(waiting).to_have_text("7 new lines")
    expect(status).to_contain_text("127 lines received")
    expect(rows.first).to_contain_text("live line 000")  # the view did not move
    screenshot(page, "logs-live-paused")

    # Jump back: the waiting lines are on screen and followed again.
    waiting.click()
    expect(status).to_have_attribute("data-state", "following")
    expect(waiting).to_be_hidden()
    expect(rows.last).to_contain_text("live late 6")
    page.wait_for_timeout(200)
    assert _list_gap(page) <= 2

    # Bounded: past 10,000 lines the oldest go.
    _post(osprey, "live", [log_record(now + 300 * MS + i * 1000, f"cap {i:05d}") for i in range(10_000)])
    expect(status).to_contain_text("10,127 lines received", timeout=20_000)
    expect(status).to_contain_text("oldest 127 dropped")
    expect(rows.last).to_contain_text("cap 09999")
    page.get_by_test_id("logs-list").evaluate("e => e.scrollTo(0, 0)")
    expect(rows.first).to_contain_text("cap 00000")
    assert problems == [], problems

    # Leaving live mode ends the stream (the browser aborts the request).
    with page.expect_event("requestfailed", predicate=lambda r: "/api/v1/logs/tail" in r.url):
        page.get_by_test_id("live-toggle").click()
    expect(page).not_to_have_url(re.compile(r"[?&]live="))
    (n,), = osprey.sql("SELECT count(*) FROM logs WHERE service = 'live'")
    assert n == 10_127
    expect(page.get_by_test_id("logs-status")).to_contain_text(f"{n:,} matches")
    aborted = [p for p in problems if p.startswith("failed: ") and "/api/v1/logs/tail" in p]
    assert len(aborted) == 1 and "ERR_ABORTED" in aborted[0], problems
    assert [p for p in problems if p not in aborted] == [], problems


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------


def _drain_tokens(body: str) -> list[str]:
    """patterns.rs `tokens`: whitespace tokens, the first 64, any holding a digit as <*>."""
    return ["<*>" if any(c.isdigit() for c in t) else t for t in body.split()[:64]]


def _fits(body: str, pattern: str) -> bool:
    """A line fits a template: same length, equal wherever the template is not <*>."""
    toks, tmpl = _drain_tokens(body), pattern.split(" ")
    return len(toks) == len(tmpl) and all(t == "<*>" or t == b for t, b in zip(tmpl, toks))


def test_patterns_tab_lists_the_api_templates_and_includes_or_excludes_one(osprey: OspreyServer, osprey_bin, page) -> None:
    demo(osprey, osprey_bin)
    end = int(time.time()) + 60
    start = end - 3600
    rng = f"from={start}&to={end}"
    api = osprey.get("/api/v1/logs/patterns", params={"query": "", "start": start, "end": end, "limit": 200}).json()["data"]
    assert api["patterns"], api
    problems = watch(page)
    page.goto(osprey.http(f"/logs?tab=patterns&{rng}"))
    rows = page.get_by_test_id("pattern-row")
    expect(rows).to_have_count(len(api["patterns"]))
    shown = rows.evaluate_all("es => es.map(e => [e.dataset.service, e.dataset.pattern, Number(e.dataset.count)])")
    assert shown == [[p["service"], p["pattern"], p["count"]] for p in api["patterns"]]
    assert rows.get_by_test_id("pattern-count").all_inner_texts() == [f"{p['count']:,}" for p in api["patterns"]]
    # A sparkline for each template seen in more than one bucket.
    spread = [i for i, p in enumerate(api["patterns"]) if sum(1 for c in p["counts"] if c > 0) > 1]
    for i in spread[:5]:
        expect(rows.nth(i).get_by_test_id("sparkline")).to_be_visible()
    screenshot(page, "logs-patterns")

    # Include the most frequent template: the lines are those of the template.
    all_lines = osprey.sql("SELECT service, body FROM logs")
    assert len(all_lines) == api["matched"]  # the demo wrote every line inside the range
    top = api["patterns"][0]
    fitting = [b for s, b in all_lines if s == top["service"] and _fits(b, top["pattern"])]
    assert len(fitting) >= top["count"]
    rows.first.get_by_test_id("pattern-include").click()
    expect(page).not_to_have_url(re.compile(r"[?&]tab=patterns"))
    q = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"][0]
    assert top["service"] in q, q
    found = osprey.get("/api/v1/logs/search", params={"query": q, "start": start, "end": end, "limit": 5000}).json()["data"]
    assert sorted(h["body"] for h in found["result"]) == sorted(fitting)
    expect(page.get_by_test_id("logs-status")).to_contain_text(f"{len(fitting):,} match")
    for body in page.get_by_test_id("log-row").locator(".col-body").all_inner_texts()[:50]:
        assert _fits(body, top["pattern"]), body

    # Exclude it instead: every other line, and the template leaves the list.
    page.goto(osprey.http(f"/logs?tab=patterns&{rng}"))
    expect(rows).to_have_count(len(api["patterns"]))
    rows.first.get_by_test_id("pattern-exclude").click()
    expect(page).to_have_url(re.compile(r"[?&]q=-"))
    expect(page.locator(f'[data-testid=pattern-row][data-pattern="{top["pattern"]}"][data-service="{top["service"]}"]')).to_have_count(0)
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("patterns-status")).to_contain_text(f"in {len(all_lines) - len(fitting):,} lines")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


# ---------------------------------------------------------------------------
# Context and resource attributes
# ---------------------------------------------------------------------------


def test_context_shows_the_lines_around_a_record_in_its_stream(osprey: OspreyServer, page) -> None:
    base = time.time_ns() - 60_000 * MS
    # One service on two hosts (two streams), interleaved, and a neighbour service.
    _post(osprey, "ctx", [log_record(base + i * MS, f"ctx h1 line {i:03d}") for i in range(40)], **{"host.name": "h1"})
    _post(osprey, "ctx", [log_record(base + i * MS + MS // 2, f"ctx h2 line {i:03d}") for i in range(40)], **{"host.name": "h2"})
    _post(osprey, "ctx-other", [log_record(base + i * MS + MS // 4, f"ctx other line {i:03d}") for i in range(40)], **{"host.name": "h1"})
    stream = [b for (b,) in osprey.sql(
        "SELECT body FROM logs WHERE service = 'ctx' AND resource['host.name'] = 'h1' ORDER BY timestamp")]
    assert len(stream) == 40
    at = stream.index("ctx h1 line 020")

    problems = watch(page)
    page.goto(osprey.http('/logs?from=now-15m&q=' + urllib.parse.quote('"h1 line 020"')))
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(1)
    rows.first.click()
    page.get_by_test_id("show-context").click()
    ctx = page.get_by_test_id("log-context")
    lines = ctx.get_by_test_id("context-row")
    expect(lines).to_have_count(21)
    assert lines.locator(".col-body").all_inner_texts() == stream[at - 10:at + 11]
    expect(ctx.locator("[data-anchor]")).to_have_count(1)
    expect(ctx.locator("[data-anchor] .col-body")).to_have_text("ctx h1 line 020")
    screenshot(page, "logs-context")

    # More lines than the stream holds on either side: all of them, and its ends say so.
    ctx.get_by_test_id("context-size").select_option("25")
    expect(lines).to_have_count(40)
    assert lines.locator(".col-body").all_inner_texts() == stream
    expect(ctx).to_contain_text("No earlier lines")
    expect(ctx).to_contain_text("No later lines")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_expanded_record_shows_resource_attributes_with_filters(osprey: OspreyServer, page) -> None:
    now = time.time_ns()
    resource = {"host.name": "res-host-1", "deployment.environment": "prod east", "k8s.pod.name": "api-7d9f"}
    _post(osprey, "res", [log_record(now, "resource line one", attributes={"user.id": "u1"})], **resource)
    _post(osprey, "res", [log_record(now + MS, "resource line two")], **{"host.name": "res-host-2"})
    api = osprey.get("/api/v1/logs/search", params={"query": '"resource line one"', "limit": 10}).json()["data"]["result"]
    assert len(api) == 1
    # The search answer carries the record's resource attributes (the UI shows what it gets).
    assert "resource" in api[0], f"/api/v1/logs/search hits have no resource: {api[0]}"
    (sql_host, sql_env, sql_pod, sql_svc), = osprey.sql(
        "SELECT resource['host.name'], resource['deployment.environment'], resource['k8s.pod.name'],"
        " resource['service.name'] FROM logs WHERE body = 'resource line one'")
    assert api[0]["resource"] == {"host.name": sql_host, "deployment.environment": sql_env,
                                  "k8s.pod.name": sql_pod, "service.name": sql_svc}

    problems = watch(page)
    page.goto(osprey.http("/logs?service=res&from=now-15m"))
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(2)
    rows.filter(has_text="resource line one").click()
    details = page.get_by_test_id("log-details")
    res_rows = details.get_by_test_id("resource-attr")
    expect(res_rows).to_have_count(len(api[0]["resource"]))
    shown = {r.get_attribute("data-key"): r.locator("td").first.inner_text() for r in res_rows.all()}
    assert shown == api[0]["resource"]
    # Record attributes stay apart from the resource's.
    expect(details.get_by_test_id("record-attr")).to_have_count(1)
    expect(details.locator('[data-testid=record-attr][data-key="user.id"] td').first).to_have_text("u1")
    screenshot(page, "logs-resource")

    # Filter for a resource attribute: `key:value` in the query, only that host's line.
    host = details.locator('[data-testid=resource-attr][data-key="host.name"]')
    host.hover()
    host.get_by_role("button", name="Filter for").click()
    expect(page).to_have_url(re.compile(r"[?&]q=host\.name:res-host-1"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("resource line one")
    # And out: the other host's line only.
    page.goto(osprey.http("/logs?service=res&from=now-15m"))
    rows.filter(has_text="resource line one").click()
    host = page.get_by_test_id("log-details").locator('[data-testid=resource-attr][data-key="deployment.environment"]')
    host.hover()
    host.get_by_role("button", name="Filter out").click()
    expect(page).to_have_url(re.compile(r"[?&]q=-deployment\.environment:"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("resource line two")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


# ---------------------------------------------------------------------------
# LogQL mode
# ---------------------------------------------------------------------------


def _loki_lines(osprey: OspreyServer, query: str, start_ns: int, end_ns: int) -> list[str]:
    """The lines the Loki API returns for a LogQL log query (newest first)."""
    r = osprey.get("/loki/api/v1/query_range", params={"query": query, "start": start_ns, "end": end_ns, "limit": 5000})
    assert r.status_code == 200, r.text
    values = [v for s in r.json()["data"]["result"] for v in s["values"]]
    return [line for _, line in sorted(values, key=lambda v: -int(v[0]))]


def test_logql_mode_searches_facets_and_patterns_as_the_loki_api_answers(osprey: OspreyServer, page) -> None:
    now = time.time_ns()
    records = [
        log_record(now - (60 - i) * 1000 * MS,
                   f"method=GET path=/api/{i % 4} status={500 if i % 5 == 0 else 200} took={i * 7}ms",
                   attributes={"http.method": "GET" if i % 2 else "POST"})
        for i in range(40)
    ]
    _post(osprey, "lq", records, **{"k8s.namespace.name": "shop"})
    _post(osprey, "other", [log_record(now - 30_000 * MS, "method=GET status=500 took=9999ms")])
    start, end = now - 600_000 * MS, now + 60_000 * MS

    problems = watch(page)
    page.goto(osprey.http("/logs?service=lq&from=now-10m"))
    expect(page.get_by_test_id("logs-status")).to_contain_text("40 matches")
    # The toggle turns the service into a stream selector.
    page.get_by_test_id("lang-toggle").get_by_role("button", name="LogQL").click()
    expect(page).to_have_url(re.compile(r"[?&]lang=logql"))
    box = page.get_by_test_id("search-input")
    expect(box).to_have_value('{service_name="lq"}')

    query = '{k8s_namespace_name="shop"} |= "status=500" | logfmt | took > 50ms'
    want = _loki_lines(osprey, query, start, end)
    assert len(want) == 6, want  # i = 10, 15, …, 35: took 70ms … 245ms
    box.fill(query)
    box.press("Enter")
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(len(want))
    assert rows.locator(".col-body").all_inner_texts() == want
    expect(page.get_by_test_id("logs-status")).to_contain_text(f"{len(want)} match")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "logs-logql-dark")

    # A facet value becomes a label filter on the structured metadata.
    facet = page.locator('[data-testid=facet][data-field="attributes.http.method"]')
    facet.locator("[data-testid=facet-value]", has_text="POST").click()
    expect(page).to_have_url(re.compile(r"http_method%3D%22POST%22|http_method=%22POST%22|http_method%3D"))
    q = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"][0]
    assert q == f'{query} | http_method="POST"', q
    want_post = _loki_lines(osprey, q, start, end)
    assert 0 < len(want_post) < len(want)
    expect(rows).to_have_count(len(want_post))
    assert rows.locator(".col-body").all_inner_texts() == want_post
    # Severity is no LogQL label: its facet cannot filter.
    expect(page.locator('[data-testid=facet][data-field="severity"] [data-testid=facet-value]').first).to_be_disabled()

    # Patterns: the template's pattern filter keeps exactly the lines the Loki API keeps.
    page.goto(osprey.http(f"/logs?lang=logql&tab=patterns&from=now-10m&q={urllib.parse.quote(query)}"))
    prow = page.get_by_test_id("pattern-row").first
    expect(prow).to_be_visible()
    prow.get_by_test_id("pattern-include").click()
    expect(page).not_to_have_url(re.compile(r"[?&]tab=patterns"))
    q = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"][0]
    assert q.startswith(f"{query} |> "), q
    want_pat = _loki_lines(osprey, q, start, end)
    assert want_pat, q
    expect(rows).to_have_count(len(want_pat))

    page.wait_for_load_state("networkidle")
    assert problems == [], problems

    # A metric query is refused with a message naming the problem.
    box.fill('count_over_time({service_name="lq"}[1m])')
    box.press("Enter")
    expect(page.get_by_text("not a metric query").first).to_be_visible()
    page.emulate_media(color_scheme="light")
    screenshot(page, "logs-logql-light")
