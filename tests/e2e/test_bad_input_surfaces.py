"""Bad input on the surfaces test_bad_input.py does not reach (issue 20, item 6): scrape
expositions, the dashboards API, the ruler API, Alertmanager's API v2, and query, rule-state
and Jaeger parameters. The rule: a 4xx naming the problem (for a scrape, the target down with
``lastError`` naming it), never a 5xx, a hang or a crash, and nothing already accepted
lost (dashboards, rule groups, silences, alerts and samples stored before are intact).

Each section runs one server for its cases (a module fixture, about 0.2 s to start);
a case that damages the server's state gets a server of its own. The first run of
these tests found ten bugs, fixed with them: times at the end of 2262 that panicked
the notifier, Jaeger time parameters that overflowed, a dashboard nested deeply
enough to break the tenant's list, YAML aliases that grew a rule group a
hundredfold, scraped series bypassing the label limits, unchecked alert label
names, dashboards under their 4 MiB limit refused by a 2 MB body limit, and two
messages that did not name the problem.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import HTTP_TIMEOUT_S, OspreyServer, rfc3339, rfc3339_to_ns, wait_until

QUICK_S = 3.0  # a refusal is an answer within this, not a hang


# --- helpers ------------------------------------------------------------------------------------


def message(r: requests.Response) -> str:
    """The error text of an answer: Prometheus' envelope, a JSON string (Alertmanager's
    go-swagger errors), a JSON object's "message", or the plain body."""
    try:
        body = r.json()
    except ValueError:
        return r.text
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)
    return str(body)


def assert_refused(r: requests.Response, *named: str, status: int | tuple[int, ...] | None = None) -> None:
    """A 4xx (or one of ``status``), in time, whose message names each of ``named``
    (case-insensitive)."""
    allowed = (status,) if isinstance(status, int) else status
    ok = r.status_code in allowed if allowed else 400 <= r.status_code < 500
    assert ok, f"want {allowed or '4xx'}, got {r.status_code}: {r.text[:600]}"
    assert r.elapsed.total_seconds() < QUICK_S, f"answered after {r.elapsed.total_seconds():.1f}s"
    text = message(r)
    for word in named:
        assert word.lower() in text.lower(), f"the message does not name {word!r}: {text[:800]!r}"


def healthy(server: OspreyServer) -> None:
    assert server.running, f"the server died:\n{server.log_tail()}"
    assert requests.get(server.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
    assert "panicked" not in server.log_tail(400), server.log_tail(60)


@contextmanager
def module_server(osprey_bin: Path, tmp: Path, name: str, config: str | None = None) -> Iterator[OspreyServer]:
    """One server for a module's section; it must stop cleanly at the end."""
    (tmp / "data").mkdir()
    args: list[str] = []
    if config is not None:
        (tmp / "osprey.toml").write_text(config)
        args = ["--config", str(tmp / "osprey.toml")]
    server = OspreyServer(osprey_bin, tmp / "data", tmp, name=name, args=args)
    server.start()
    try:
        yield server
        server.stop()
    finally:
        server.kill()


def report_stderr(request: pytest.FixtureRequest, server: OspreyServer) -> OspreyServer:
    """A failing case's report gets this server's stderr tail (conftest's hook)."""
    request.node._osprey_servers = [server]
    return server


# --- 1. scrape expositions ----------------------------------------------------------------------

TEXT = "text/plain; version=0.0.4"
BODY_LIMIT = 1 << 20  # [scrape] body_size_limit below
GZIP_BOMB = gzip.compress(b"# " + b"x" * (8 << 20) + b"\n")  # 8 KiB on the wire, 8 MiB inflated


def send(h: BaseHTTPRequestHandler, body: bytes, content_type: str = TEXT, headers: tuple = ()) -> None:
    h.send_response(200)
    h.send_header("Content-Type", content_type)
    for k, v in headers:
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def slow(h: BaseHTTPRequestHandler) -> None:
    """A body that trickles in for 10 s (the scrape timeout is 400 ms)."""
    h.send_response(200)
    h.send_header("Content-Type", TEXT)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b"# still coming\n")
        h.wfile.flush()
        time.sleep(0.1)


def endless(h: BaseHTTPRequestHandler) -> None:
    """A chunked body that never ends."""
    h.send_response(200)
    h.send_header("Content-Type", TEXT)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"# " + b"y" * 65534 + b"\n"
    while True:
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def cut_short(h: BaseHTTPRequestHandler) -> None:
    """Content-Length 1000, then 8 bytes and the connection closed."""
    h.send_response(200)
    h.send_header("Content-Type", TEXT)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"short 1\n")
    h.wfile.flush()
    h.close_connection = True


# kind -> (the bad answer, words lastError must name)
DOWN: dict[str, tuple[Callable[[BaseHTTPRequestHandler], None], tuple[str, ...]]] = {
    "garbage": (lambda h: send(h, b"\x00\x01\x02 garbage \x7f{{{ 1 2 3\n"), ("line 1", "expected a metric name")),
    "invalid-utf8": (lambda h: send(h, b'bad_utf8{k="\xff\xfe"} 1\n'), ("not UTF-8",)),
    "bad-value": (lambda h: send(h, b"ok_line 1\nbad_value 12abc\n"), ("line 2", 'invalid value "12abc"')),
    "bad-timestamp": (lambda h: send(h, b"ts_metric 1 notatime\n"), ("line 1", 'invalid timestamp "notatime"')),
    "unterminated-label": (lambda h: send(h, b'x{a="1} 1\n'), ("line 1", "unterminated value of label a")),
    "openmetrics-without-eof": (
        lambda h: send(h, b"om_metric 1\n", content_type="application/openmetrics-text; version=1.0.0"),
        ("# EOF",),
    ),
    "over-body-limit": (lambda h: send(h, b"# " + b"x" * (3 << 20) + b"\nbig 1\n"), ("limit", str(BODY_LIMIT))),
    "endless-body": (endless, ("limit", str(BODY_LIMIT))),
    "gzip-bomb": (lambda h: send(h, GZIP_BOMB, headers=(("Content-Encoding", "gzip"),)), ("exceeds", str(BODY_LIMIT))),
    "broken-gzip": (lambda h: send(h, b"\x1f\x8b\x08\x00garbage", headers=(("Content-Encoding", "gzip"),)), ("gzip",)),
    "slow-body": (slow, ("timed out",)),
}
# Answers that are not a down target today (the tests below say what they should be).
OTHER: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "duplicate-type": lambda h: send(h, b"# TYPE dup counter\n# TYPE dup gauge\ndup 1\n"),
    "long-label-value": lambda h: send(h, b'long_label{v="' + b"x" * (100 << 10) + b'"} 1\n'),
    "too-many-labels": lambda h: send(h, b"many{" + b",".join(b'l%d="v"' % i for i in range(1000)) + b"} 1\n"),
    "cut-short": cut_short,
}


class Exposition:
    """A target that answers ``good`` until ``broken``, then its bad answer."""

    def __init__(self, good: bytes, bad: Callable[[BaseHTTPRequestHandler], None] | None = None) -> None:
        self.good, self.bad, self.broken = good, bad, False
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked bodies

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                try:
                    if target.broken and target.bad is not None:
                        target.bad(self)
                    else:
                        send(self, target.good)
                except OSError:
                    self.close_connection = True  # the scraper hung up: expected for the long bodies

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for it, once per target.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ScrapeLab:
    """One server scraping, every 500 ms, one job per bad kind: the kind's own target
    (good, then bad) and a target that stays good."""

    def __init__(self, server: OspreyServer, bad: dict[str, Exposition], good: Exposition) -> None:
        self.server, self.bad, self.good = server, bad, good
        self.good_at = 0.0  # a time every target had been scraped well
        self.broken_ns = 0  # when the bad targets turned bad

    def status(self, kind: str, address: str) -> dict[str, Any]:
        r = self.server.get("/api/v1/targets")
        assert r.status_code == 200, r.text
        found = [t for t in r.json()["data"]["activeTargets"]
                 if t["scrapePool"] == kind and t["labels"]["instance"] == address]
        assert len(found) == 1, found
        return found[0]

    def settled(self, kind: str, address: str, done: Callable[[dict[str, Any]], bool] = lambda t: True,
                timeout: float = 10) -> dict[str, Any]:
        """The target's status after a scrape begun since the switch that did not time out
        (unless timing out is the point), once ``done`` holds for it. A busy machine can
        stall the Python targets past the 400 ms timeout now and then."""
        last: list[dict[str, Any]] = []

        def ready() -> dict[str, Any] | None:
            t = self.status(kind, address)
            last[:] = [t]
            fresh = rfc3339_to_ns(t["lastScrape"]) > self.broken_ns
            stalled = "timed out" in t["lastError"] and kind != "slow-body"
            return t if fresh and not stalled and done(t) else None

        try:
            return wait_until(ready, timeout=timeout, message=f"a settled scrape of {kind} at {address}")
        except AssertionError as e:
            raise AssertionError(f"{e}; its last status: {last}") from None

    def values(self, query: str, at: float | None = None) -> list[float]:
        return [float(r["value"][1]) for r in self.server.prom_query(query, at=at)]

    def check_nothing_else_hurt(self, kind: str) -> None:
        """The job's good target is still scraped, what the bad target gave before is still
        there, and the server is healthy."""
        self.settled(kind, self.good.address,
                     lambda t: t["health"] == "up" and rfc3339_to_ns(t["lastScrape"]) > time.time_ns() - 3 * 10**9)
        assert self.values(f'good_metric{{job="{kind}"}}') == [7.0]
        bad = self.bad[kind].address
        assert self.values(f'kept_metric{{job="{kind}", instance="{bad}"}}', at=self.good_at) == [42.0]
        healthy(self.server)


@pytest.fixture(scope="module")
def scrape_lab_server(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapeLab]:
    good = Exposition(b"# TYPE good_metric gauge\ngood_metric 7\n")
    kinds = {**{k: v[0] for k, v in DOWN.items()}, **OTHER}
    bad = {k: Exposition(f'kept_metric{{kind="{k}"}} 42\n'.encode(), answer) for k, answer in kinds.items()}
    jobs = "".join(f'[[scrape.jobs]]\njob_name = "{k}"\ntargets = ["{t.address}", "{good.address}"]\n\n'
                   for k, t in bad.items())
    config = (f'[scrape]\nscrape_interval = "500ms"\nscrape_timeout = "400ms"\nbody_size_limit = "{BODY_LIMIT}B"\n\n'
              f'{jobs}[[scrape.jobs]]\njob_name = "control"\ntargets = ["{good.address}"]\n')
    try:
        with module_server(osprey_bin, tmp_path_factory.mktemp("scrape"), "osprey-scrape", config) as server:
            lab = ScrapeLab(server, bad, good)
            wait_until(lambda: len(lab.values("kept_metric")) == len(bad) and lab.values("min(up)") == [1.0],
                       timeout=20, message="every target scraped well once")
            lab.good_at = time.time()
            # A scrape that is in flight when a target turns bad fails, and its staleness
            # marker carries the time it began: wait for one begun after `good_at`, so
            # that no marker can fall before it.
            good_at_ns = int(lab.good_at * 1e9)
            wait_until(lambda: all(t["health"] == "up" and rfc3339_to_ns(t["lastScrape"]) > good_at_ns
                                   for t in server.get("/api/v1/targets").json()["data"]["activeTargets"]),
                       timeout=20, message="every target scraped well after good_at")
            lab.broken_ns = time.time_ns()
            for t in bad.values():
                t.broken = True
            yield lab
    finally:
        for t in [*bad.values(), good]:
            t.close()


@pytest.fixture
def scrape_lab(scrape_lab_server: ScrapeLab, request: pytest.FixtureRequest) -> ScrapeLab:
    report_stderr(request, scrape_lab_server.server)
    return scrape_lab_server


@pytest.mark.parametrize("kind", list(DOWN))
def test_a_bad_exposition_marks_its_target_down_naming_the_problem(scrape_lab: ScrapeLab, kind: str) -> None:
    address = scrape_lab.bad[kind].address
    t = scrape_lab.settled(kind, address, lambda t: all(w in t["lastError"] for w in DOWN[kind][1]))
    assert t["health"] == "down", t
    wait_until(lambda: scrape_lab.values(f'up{{job="{kind}", instance="{address}"}}') == [0.0], timeout=5,
               message="up 0")
    # The series the target gave before ended at the failed scrape (staleness), as in
    # Prometheus; what was stored before stays (check_nothing_else_hurt).
    wait_until(lambda: scrape_lab.values(f'kept_metric{{job="{kind}"}}') == [], timeout=5, message="stale")
    scrape_lab.check_nothing_else_hurt(kind)


def test_duplicate_type_lines_keep_the_target_up(scrape_lab: ScrapeLab) -> None:
    """Prometheus' scrape parser takes a repeated # TYPE line (the last one wins); the
    sample is kept."""
    t = scrape_lab.settled("duplicate-type", scrape_lab.bad["duplicate-type"].address)
    assert (t["health"], t["lastError"]) == ("up", ""), t
    assert scrape_lab.values('dup{job="duplicate-type"}') == [1.0]
    scrape_lab.check_nothing_else_hurt("duplicate-type")


@pytest.mark.parametrize(("kind", "limit"), [("long-label-value", "max_label_value_length"),
                                              ("too-many-labels", "max_labels_per_series")])
def test_scraped_series_over_the_label_limits_are_refused_and_named(scrape_lab: ScrapeLab, kind: str, limit: str) -> None:
    t = scrape_lab.settled(kind, scrape_lab.bad[kind].address)
    # Stored over the limit, the series would cost what remote_write refuses to store.
    assert scrape_lab.values(f'count({{job="{kind}", __name__=~"long_label|many"}})') == []
    assert t["health"] == "down" and limit in t["lastError"], t
    scrape_lab.check_nothing_else_hurt(kind)


def test_a_body_cut_short_is_named(scrape_lab: ScrapeLab) -> None:
    t = scrape_lab.settled("cut-short", scrape_lab.bad["cut-short"].address)
    assert t["health"] == "down", t
    assert "limit" not in t["lastError"], t["lastError"]
    assert any(w in t["lastError"].lower() for w in ("end of file", "closed", "incomplete", "before")), t["lastError"]
    scrape_lab.check_nothing_else_hurt("cut-short")


# --- 2. the dashboards API ------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
KEEP_DASHBOARD = {"uid": "keep", "title": "Keep me", "tags": ["kept"], "schemaVersion": 39,
                  "panels": [{"id": 1, "type": "timeseries", "title": "up", "targets": [{"refId": "A", "expr": "up"}]}]}


@pytest.fixture(scope="module")
def dash_server(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OspreyServer, dict]]:
    """A server with dashboard "keep" at version 2; yields it and what reading it gives."""
    with module_server(osprey_bin, tmp_path_factory.mktemp("dash"), "osprey-dash") as server:
        before = seed_dashboard(server)
        yield server, before


def seed_dashboard(server: OspreyServer) -> dict:
    r = server.post("/api/v1/dashboards", json={"dashboard": KEEP_DASHBOARD})
    assert r.status_code == 200, r.text
    r = requests.put(server.http("/api/v1/dashboards/keep"), timeout=HTTP_TIMEOUT_S,
                     json={"version": 1, "dashboard": {**KEEP_DASHBOARD, "title": "Keep me (v2)"}})
    assert r.status_code == 200 and r.json()["data"]["version"] == 2, r.text
    return dashboards_state(server)


def dashboards_state(server: OspreyServer) -> dict:
    """The list, "keep" and its versions, as the API answers them (each must be 200)."""
    out = {}
    for name, path in (("list", "/api/v1/dashboards"), ("keep", "/api/v1/dashboards/keep"),
                       ("versions", "/api/v1/dashboards/keep/versions"), ("v1", "/api/v1/dashboards/keep/versions/1")):
        r = server.get(path)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:600]}"
        out[name] = r.json()["data"]
    out["list"] = [d for d in out["list"] if not d["builtin"]]
    return out


@pytest.fixture
def dash(dash_server: tuple[OspreyServer, dict], request: pytest.FixtureRequest) -> Iterator[OspreyServer]:
    server, before = dash_server
    report_stderr(request, server)
    yield server
    assert dashboards_state(server) == before, "a refused request changed the stored dashboards"
    healthy(server)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD_DASHBOARD_POSTS = [
    pytest.param(b'{"dashboard": {"title": ', JSON, ("invalid JSON body", "EOF"), id="syntax-error"),
    pytest.param(b"\x00\x01garbage", JSON, ("invalid JSON body", "expected value"), id="garbage"),
    pytest.param(b'{"title": "bad \xff\xfe bytes"}', JSON, ("invalid JSON body", "unicode"), id="invalid-utf8"),
    pytest.param(b'{"title": "t"}', {}, ("Content-Type: application/json",), id="no-content-type"),
    pytest.param(b"[1, 2]", JSON, ("JSON object",), id="an-array"),
    pytest.param(b'"a string"', JSON, ("JSON object",), id="a-string"),
    pytest.param(b'{"panels": []}', JSON, ('"title"',), id="no-title"),
    pytest.param(b'{"title": 5}', JSON, ('"title"',), id="title-a-number"),
    pytest.param(b'{"title": "   "}', JSON, ('"title"',), id="title-blank"),
    pytest.param(b'{"title": "t", "tags": "a"}', JSON, ('"tags"',), id="tags-a-string"),
    pytest.param(b'{"title": "t", "tags": [1]}', JSON, ('"tags"',), id="tags-of-numbers"),
    pytest.param(b'{"dashboard": {"title": "t", "tags": {"a": 1}}}', JSON, ('"tags"',), id="wrapped-tags-an-object"),
    pytest.param(('{"title": "t", "x": ' + deep(100_000) + "}").encode(), JSON, ("recursion limit",), id="nested-100000"),
    pytest.param(json.dumps({"title": "big", "x": "a" * (5 << 20)}).encode(), JSON, ("limit",), id="5MiB"),
]


@pytest.mark.parametrize(("body", "headers", "named"), BAD_DASHBOARD_POSTS)
def test_bad_dashboard_bodies_are_400_naming_the_problem(dash: OspreyServer, body: bytes, headers: dict, named: tuple) -> None:
    r = dash.post("/api/v1/dashboards", data=body, headers=headers)
    assert_refused(r, *named, status=(400, 413) if len(body) > 1 << 20 else 400)
    if r.status_code == 400:
        assert r.json()["errorType"] == "bad_data", r.text


BAD_DASHBOARD_UPDATES = [
    pytest.param(b"{", ("invalid JSON body", "EOF"), id="syntax-error"),
    pytest.param(b'{"dashboard": {"title": "x"}}', ('"version"',), id="no-version"),
    pytest.param(b'{"version": "2", "dashboard": {"title": "x"}}', ('"version"',), id="version-a-string"),
    pytest.param(b'{"version": -1, "dashboard": {"title": "x"}}', ('"version"',), id="version-negative"),
    pytest.param(b'{"version": 2, "dashboard": {"panels": []}}', ('"title"',), id="no-title"),
    pytest.param(b'{"version": 2, "dashboard": {"title": "x", "tags": [null]}}', ('"tags"',), id="tags-of-null"),
    pytest.param(b'{"version": 2, "dashboard": {"title": "\xc3\x28"}}', ("unicode",), id="invalid-utf8"),
]


@pytest.mark.parametrize(("body", "named"), BAD_DASHBOARD_UPDATES)
def test_bad_dashboard_updates_are_400_and_change_nothing(dash: OspreyServer, body: bytes, named: tuple) -> None:
    r = requests.put(dash.http("/api/v1/dashboards/keep"), data=body, headers=JSON, timeout=HTTP_TIMEOUT_S)
    assert_refused(r, *named, status=400)


@pytest.mark.parametrize("path", ["/api/v1/dashboards/keep/versions/abc", "/api/v1/dashboards/keep/versions/-1"])
def test_bad_version_numbers_are_400(dash: OspreyServer, path: str) -> None:
    assert_refused(dash.get(path), "invalid version", status=400)
    assert_refused(dash.post(path + "/restore"), "invalid version", status=400)


def test_a_dashboard_under_the_documented_4_mib_is_saved(osprey: OspreyServer) -> None:
    r = osprey.post("/api/v1/dashboards", json={"uid": "big", "title": "big", "x": "a" * (3 << 20)})
    assert r.status_code == 200, r.text[:300]
    assert osprey.get("/api/v1/dashboards/big").status_code == 200


def test_a_deeply_nested_dashboard_does_not_break_the_list(osprey: OspreyServer) -> None:
    before = seed_dashboard(osprey)
    # The deepest model the request parser takes (serde_json's limit is 128 levels).
    r = osprey.post("/api/v1/dashboards", data=('{"uid": "deep", "title": "deep", "x": ' + deep(126) + "}").encode(),
                    headers=JSON)
    if r.status_code == 200:
        got = osprey.get("/api/v1/dashboards/deep")
        assert got.status_code == 200, got.text[:300]
        assert {d["id"] for d in osprey.get("/api/v1/dashboards").json()["data"]} >= {"keep", "deep"}
    else:
        assert_refused(r, "nest", status=400)
    after = dashboards_state(osprey)
    after["list"] = [d for d in after["list"] if d["id"] != "deep"]
    assert after == before
    healthy(osprey)


# --- 3. the ruler API --------------------------------------------------------------------------

YAML = {"Content-Type": "application/yaml"}
RULER = "/config/v1/rules/ns"
KEEP_GROUP = "name: keep\ninterval: 1s\nrules:\n  - record: keep:one\n    expr: vector(1)\n"


def billion_laughs(indent: str = "") -> str:
    """Ten levels of anchors, each a list of ten aliases of the one before (10^9 leaves)."""
    lines = [f'{indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def rule_groups(server: OspreyServer) -> list[tuple[str, list[str]]]:
    r = server.get("/api/v1/rules")
    assert r.status_code == 200, r.text
    return [(g["name"], [x["name"] for x in g["rules"]]) for g in r.json()["data"]["groups"]]


@pytest.fixture(scope="module")
def ruler_server(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OspreyServer, Path]]:
    tmp = tmp_path_factory.mktemp("ruler")
    (tmp / "rules.d").mkdir()
    with module_server(osprey_bin, tmp, "osprey-ruler", '[rules]\ntenant_dir = "rules.d"\n') as server:
        r = server.post(RULER, data=KEEP_GROUP, headers=YAML)
        assert r.status_code == 202, r.text
        yield server, tmp / "rules.d" / "default" / "ns.yml"


@pytest.fixture
def ruler(ruler_server: tuple[OspreyServer, Path], request: pytest.FixtureRequest) -> Iterator[OspreyServer]:
    server, file = ruler_server
    report_stderr(request, server)
    text = file.read_text()
    yield server
    assert file.read_text() == text, "a refused group changed the namespace's file"
    assert rule_groups(server) == [("keep", ["keep:one"])]
    wait_until(lambda: server.prom_query("keep:one"), timeout=5, message="the kept group still evaluated")
    healthy(server)


BAD_GROUPS = [
    pytest.param(b"name: [\n", ("not valid YAML", "line 1"), id="yaml-syntax"),
    pytest.param(b"name: g\n\trules: []\n", ("not valid YAML", "tab"), id="tab-indent"),
    pytest.param(b"- a\n- b\n", ("not valid YAML", "mapping"), id="a-list"),
    pytest.param(b"name: keep\nrules:\n  - record: keep:one\n    expr: sum(rate(x[5m])\n",
                 ('group "keep"', "could not parse expression"), id="keep-replaced-by-a-bad-expr"),
    pytest.param(b"name: g\nrules:\n  - alert: A\n    expr: up ==\n", ('"A"', "could not parse expression"), id="bad-expr"),
    pytest.param(b"name: g\nrules:\n  - alert: Typo\n    expr: up\n    fro: 5m\n", ("unknown field `fro`",), id="unknown-rule-field"),
    pytest.param(b"name: g\nintervall: 5s\nrules: []\n", ("unknown field `intervall`",), id="unknown-group-field"),
    pytest.param(b"groups:\n  - name: g\n    rules: []\n", ("unknown field `groups`",), id="a-whole-file"),
    pytest.param(b"rules:\n  - record: a\n    expr: up\n", ("name must not be empty",), id="no-name"),
    pytest.param(b"", ("name must not be empty",), id="empty"),
    pytest.param(b"name: g\ninterval: 1.5m\nrules: []\n", ('"1.5m"',), id="bad-duration"),
    pytest.param(b"name: g\nlimit: -1\nrules: []\n", ("invalid u64", "limit: -1"), id="negative-limit"),
    pytest.param(b"name: g\nrules:\n  - alert: A\n    expr: up\n    labels: {'0x': y}\n", ("invalid label name",), id="bad-label-name"),
    pytest.param(b"name: g\nrules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ $labels.x '}\n",
                 ('annotation "s"', "template"), id="bad-template"),
    pytest.param(b"name: g\nrules:\n  - record: a\n    alert: b\n    expr: up\n", ("record", "alert"), id="record-and-alert"),
    pytest.param(b"name: g\nrules: " + deep(100_000).encode() + b"\n", ("not valid YAML",), id="flow-nested-100000"),
    pytest.param(b"name: g\nrules:\n" + b"".join(b"  " * i + b"- \n" for i in range(300)), ("not valid YAML",),
                 id="block-nested-300"),
    pytest.param(b"name: g\xff\nrules: []\n", ("UTF-8",), id="invalid-utf8"),
    pytest.param(b"name: g\nrules:\n  - record: a\n    expr: up\n    labels: {x: '" + b"a" * (3 << 20) + b"'}\n",
                 ("length limit",), id="3MiB"),
]


@pytest.mark.parametrize(("body", "named"), BAD_GROUPS)
def test_bad_rule_groups_are_refused_naming_the_problem(ruler: OspreyServer, body: bytes, named: tuple) -> None:
    assert_refused(ruler.post(RULER, data=body, headers=YAML), *named)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(billion_laughs() + "name: g\nrules: []\n", id="top-level"),
        pytest.param("name: g\nlabels:\n" + billion_laughs("  ") + "rules: []\n", id="group-labels"),
        pytest.param("name: g\nrules:\n  - alert: A\n    expr: up\n    annotations:\n" + billion_laughs("      "),
                     id="annotations"),
        pytest.param("name: g\nrules:\n  - record: r\n    expr: up\n    labels:\n      " + billion_laughs("      ").strip()
                     + "\n      bomb: *l9\n", id="label-alias"),
    ],
)
def test_yaml_alias_bombs_are_refused_at_once(ruler: OspreyServer, body: str) -> None:
    r = ruler.post(RULER, data=body, headers=YAML)
    assert_refused(r, "not valid YAML", status=400)


def test_bad_namespaces_and_deletes_are_named(ruler: OspreyServer) -> None:
    assert_refused(ruler.post("/config/v1/rules/..%2Fetc", data="name: g\nrules: []\n", headers=YAML),
                   "namespace", status=400)
    assert_refused(ruler.post("/config/v1/rules/x.logql", data="name: g\nrules: []\n", headers=YAML),
                   "namespace", status=400)
    r = requests.delete(ruler.http("/config/v1/rules/ns/nope"), timeout=HTTP_TIMEOUT_S)
    assert_refused(r, 'no rule group "nope"', status=404)


def test_a_group_that_aliases_expand_a_hundredfold_is_refused(osprey_factory, tmp_path: Path) -> None:
    (tmp_path / "rules.d").mkdir()
    server = osprey_factory(config='[rules]\ntenant_dir = "rules.d"\n')
    value = "a" * (128 << 10)
    body = ("name: amplified\nrules:\n  - record: r\n    expr: up\n    labels:\n"
            f"      k0: &v '{value}'\n" + "".join(f"      k{i}: *v\n" for i in range(1, 99)))
    r = server.post(RULER, data=body, headers=YAML)
    stored = sum(f.stat().st_size for f in (tmp_path / "rules.d").rglob("*.yml"))
    assert stored < 10 * len(body), f"{len(body)} bytes sent, {stored} stored"
    assert_refused(r, status=400)
    healthy(server)


# --- 4. Alertmanager's API v2 ------------------------------------------------------------------

AM_CONFIG = '[alerting]\nalertmanager_config = "alertmanager.yml"\n'
AM_YML = "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n"


def silence(**fields: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {"matchers": [{"name": "alertname", "value": "Kept", "isRegex": False, "isEqual": True}],
            "startsAt": rfc3339(now - 60), "endsAt": rfc3339(now + 3600), "createdBy": "e2e", "comment": "kept"}
    body.update(fields)
    return body


def am_state(server: OspreyServer) -> tuple[list, list]:
    silences = server.get("/api/v2/silences")
    alerts = server.get("/api/v2/alerts")
    assert silences.status_code == 200 and alerts.status_code == 200, (silences.text, alerts.text)
    return (sorted((s["id"], s["status"]["state"], s["endsAt"], json.dumps(s["matchers"])) for s in silences.json()),
            sorted(json.dumps(a["labels"], sort_keys=True) for a in alerts.json()))


@pytest.fixture(scope="module")
def am_server(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OspreyServer, str, tuple]]:
    """A notifier with silence "kept" and alert "Kept"; yields them and the API's state."""
    tmp = tmp_path_factory.mktemp("am")
    (tmp / "alertmanager.yml").write_text(AM_YML)
    with module_server(osprey_bin, tmp, "osprey-am", AM_CONFIG) as server:
        sid = seed_alertmanager(server)
        yield server, sid, am_state(server)


def seed_alertmanager(server: OspreyServer) -> str:
    r = server.post("/api/v2/silences", json=silence())
    assert r.status_code == 200, r.text
    r2 = server.post("/api/v2/alerts", json=[{"labels": {"alertname": "Kept"}, "endsAt": rfc3339(int(time.time()) + 3600)}])
    assert r2.status_code == 200, r2.text
    return r.json()["silenceID"]


@pytest.fixture
def am(am_server: tuple[OspreyServer, str, tuple], request: pytest.FixtureRequest) -> Iterator[tuple[OspreyServer, str]]:
    server, sid, before = am_server
    report_stderr(request, server)
    yield server, sid
    assert am_state(server) == before, "a refused request changed the silences or alerts"
    healthy(server)


def bad_utf8(body: dict, key: str) -> bytes:
    return json.dumps({**body, key: "PLACEHOLDER"}).encode().replace(b"PLACEHOLDER", b"bad \xff\xfe")


NOW = int(time.time())
BAD_SILENCES = [
    pytest.param(b'{"matchers": [', JSON, ("EOF",), id="syntax-error"),
    pytest.param(json.dumps(silence()).encode(), {}, ("Content-Type: application/json",), id="no-content-type"),
    pytest.param(bad_utf8(silence(), "comment"), JSON, ("comment", "unicode"), id="invalid-utf8"),
    pytest.param(b'{"matchers": ' + deep(100_000).encode() + b"}", JSON, ("matchers",), id="nested-100000"),
    pytest.param(json.dumps([silence()]).encode(), JSON, ("invalid type",), id="an-array"),
    pytest.param(json.dumps({k: v for k, v in silence().items() if k != "matchers"}).encode(), JSON,
                 ("missing field `matchers`",), id="no-matchers-field"),
    pytest.param(json.dumps({k: v for k, v in silence().items() if k != "endsAt"}).encode(), JSON,
                 ("missing field `endsAt`",), id="no-endsAt"),
    pytest.param(json.dumps(silence(matchers="alertname=Kept")).encode(), JSON, ("matchers", "expected a sequence"),
                 id="matchers-a-string"),
    pytest.param(json.dumps(silence(matchers=[{"name": "a", "value": "b", "isRegex": "no"}])).encode(), JSON,
                 ("isRegex", "expected a boolean"), id="isRegex-a-string"),
    pytest.param(json.dumps(silence(matchers=[])).encode(), JSON, ("at least one matcher",), id="no-matchers"),
    pytest.param(json.dumps(silence(matchers=[{"name": "a", "value": "(", "isRegex": True}])).encode(), JSON,
                 ("regexp", "unclosed group"), id="bad-regex"),
    pytest.param(json.dumps(silence(matchers=[{"name": "a", "value": "(a{1000}){1000}", "isRegex": True}])).encode(),
                 JSON, ("size limit",), id="huge-regex"),
    pytest.param(json.dumps(silence(matchers=[{"name": "0a", "value": "b", "isRegex": False}])).encode(), JSON,
                 ('invalid label name "0a"',), id="bad-label-name"),
    pytest.param(json.dumps(silence(matchers=[{"name": "a", "value": ".*", "isRegex": True}])).encode(), JSON,
                 ("must not match the empty string",), id="matches-everything"),
    pytest.param(json.dumps(silence(startsAt=rfc3339(NOW + 3600), endsAt=rfc3339(NOW + 60))).encode(), JSON,
                 ("start time must be before end time",), id="ends-before-it-starts"),
    pytest.param(json.dumps(silence(startsAt=rfc3339(NOW - 7200), endsAt=rfc3339(NOW - 3600))).encode(), JSON,
                 ("end time can't be in the past",), id="ended-already"),
    pytest.param(json.dumps(silence(endsAt="tomorrow")).encode(), JSON, ("RFC 3339",), id="endsAt-not-a-time"),
    pytest.param(json.dumps(silence(startsAt=12345)).encode(), JSON, ("startsAt", "expected a string"),
                 id="startsAt-a-number"),
    pytest.param(json.dumps(silence(id="9f1b2c3d-0000-4000-8000-000000000000")).encode(), JSON,
                 ("silence not found",), id="unknown-id"),
]


@pytest.mark.parametrize(("body", "headers", "named"), BAD_SILENCES)
def test_bad_silences_are_refused_naming_the_problem(am: tuple[OspreyServer, str], body: bytes, headers: dict,
                                                     named: tuple) -> None:
    server, _ = am
    assert_refused(server.post("/api/v2/silences", data=body, headers=headers), *named)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"matchers": []}, "at least one matcher", id="no-matchers"),
        pytest.param({"endsAt": "never"}, "RFC 3339", id="endsAt-not-a-time"),
        pytest.param({"startsAt": rfc3339(NOW + 7200), "endsAt": rfc3339(NOW + 3600)}, "start time must be before",
                     id="ends-before-it-starts"),
        pytest.param({"matchers": [{"name": "alertname", "value": "[", "isRegex": True}]}, "regexp", id="bad-regex"),
    ],
)
def test_a_bad_update_leaves_the_silence_as_it_was(am: tuple[OspreyServer, str], change: dict, named: str) -> None:
    server, sid = am
    assert_refused(server.post("/api/v2/silences", json=silence(id=sid, **change)), named, status=400)


def test_malformed_and_unknown_silence_ids(am: tuple[OspreyServer, str]) -> None:
    server, _ = am
    for method in (requests.get, requests.delete):
        r = method(server.http("/api/v2/silence/not-a-uuid"), timeout=HTTP_TIMEOUT_S)
        assert_refused(r, "must be of type uuid", status=422)
        r = method(server.http("/api/v2/silence/'%3B--"), timeout=HTTP_TIMEOUT_S)
        assert_refused(r, "uuid", status=422)
    r = requests.delete(server.http("/api/v2/silence/9f1b2c3d-0000-4000-8000-000000000000"), timeout=HTTP_TIMEOUT_S)
    assert_refused(r, "silence not found", status=404)


BAD_ALERTS = [
    pytest.param(b'[{"labels":', JSON, ("EOF",), id="syntax-error"),
    pytest.param(b'[{"labels": {"alertname": "NoType"}}]', {}, ("Content-Type: application/json",), id="no-content-type"),
    pytest.param(bad_utf8({"labels": {"alertname": "Utf"}}, "generatorURL").join([b"[", b"]"]), JSON, ("unicode",),
                 id="invalid-utf8"),
    pytest.param(b'{"labels": {"alertname": "Obj"}}', JSON, ("expected a sequence",), id="an-object"),
    pytest.param(b'[{"labels": ["a"]}]', JSON, ("[0].labels", "expected a map"), id="labels-a-list"),
    pytest.param(b'[{"labels": {"alertname": 1}}]', JSON, ("[0].labels.alertname", "expected a string"), id="label-a-number"),
    pytest.param(b'[{"annotations": {}}]', JSON, ("0.labels in body is required",), id="no-labels"),
    pytest.param(b'[{"labels": {}}]', JSON, ("at least one label pair required",), id="empty-labels"),
    pytest.param(b'[{"labels": {"alertname": ""}}]', JSON, ("at least one label pair required",), id="empty-values"),
    pytest.param(json.dumps([{"labels": {"alertname": "Rev"}, "startsAt": rfc3339(NOW),
                              "endsAt": rfc3339(NOW - 600)}]).encode(), JSON, ("start time must be before end time",),
                 id="ends-before-it-starts"),
    pytest.param(b'[{"labels": {"alertname": "T"}, "startsAt": "yesterday"}]', JSON, ('startsAt "yesterday"', "RFC 3339"),
                 id="startsAt-not-a-time"),
    pytest.param(b"[" + b'{"labels": {"alertname": "Deep", "x": ' + deep(100_000).encode() + b"}}]", JSON,
                 ("labels.x",), id="nested-100000"),
]


@pytest.mark.parametrize(("body", "headers", "named"), BAD_ALERTS)
def test_bad_alerts_are_refused_naming_the_problem(am: tuple[OspreyServer, str], body: bytes, headers: dict,
                                                   named: tuple) -> None:
    server, _ = am
    assert_refused(server.post("/api/v2/alerts", data=body, headers=headers), *named)


@pytest.mark.parametrize("query", [{"filter": "alertname~~X"}, {"filter": '{alertname=~"("}'}, {"receiver": "("}])
def test_bad_alert_and_silence_filters_are_400(am: tuple[OspreyServer, str], query: dict) -> None:
    server, _ = am
    assert_refused(server.get("/api/v2/alerts", params=query), status=400)
    assert message(server.get("/api/v2/alerts", params=query))
    if "filter" in query:
        assert_refused(server.get("/api/v2/silences", params=query), status=400)


@pytest.mark.parametrize("name", ["0bad", "a-b", "é"])
def test_alerts_with_invalid_label_names_are_refused(osprey_factory, tmp_path: Path, name: str) -> None:
    (tmp_path / "alertmanager.yml").write_text(AM_YML)
    server = osprey_factory(config=AM_CONFIG)
    r = server.post("/api/v2/alerts", json=[{"labels": {"alertname": "BadName", name: "x"}}])
    stored = [a["labels"] for a in server.get("/api/v2/alerts").json()]
    assert stored == [], stored
    assert_refused(r, name, status=400)


# fixed date: the last days nanosecond Unix time can hold, whatever today is
EDGE_OF_TIME = [
    pytest.param("/api/v2/silences", "endsAt",
                 silence(endsAt="2262-04-11T00:00:00Z", matchers=[{"name": "alertname", "value": "Edge", "isRegex": False}]),
                 id="silence-ending-2262"),
    # fixed date: the last seconds nanosecond Unix time can hold, whatever today is
    pytest.param("/api/v2/alerts", "startsAt", [{"labels": {"alertname": "Edge"}, "startsAt": "2262-04-11T23:47:16Z"}],
                 id="alert-starting-2262"),
]


@pytest.mark.parametrize(("path", "field", "body"), EDGE_OF_TIME)
def test_times_at_the_edge_of_time_lose_nothing(osprey_factory, tmp_path: Path, path: str, field: str, body: Any) -> None:
    """Times Alertmanager takes (RFC 3339, before year 10000) that Unix nanoseconds can
    just hold: kept or refused by name, and what was there before stays."""
    (tmp_path / "alertmanager.yml").write_text(AM_YML)
    server = osprey_factory(config=AM_CONFIG)
    seed_alertmanager(server)
    before = am_state(server)
    try:
        r = server.post(path, json=body)
    except requests.ConnectionError as e:
        pytest.fail(f"POST {path} got no answer: {e}")
    time.sleep(2.5)  # the notifier's loop runs every second
    after = am_state(server)
    if r.status_code == 200:
        assert set(before[0]) <= set(after[0]) and set(before[1]) <= set(after[1]), (before, after)
        assert len(after[0]) + len(after[1]) == len(before[0]) + len(before[1]) + 1, (before, after)
    else:
        assert_refused(r, field, status=400)
        assert after == before
    healthy(server)


@pytest.mark.parametrize("path", ["/api/v2/silences", "/api/v2/alerts"])
def test_a_time_after_2262_is_named_as_out_of_range(am: tuple[OspreyServer, str], path: str) -> None:
    server, _ = am
    # fixed date: beyond every date the server can represent, whatever today is
    far = "9999-12-31T00:00:00Z"
    body = silence(endsAt=far) if path.endswith("silences") else [{"labels": {"alertname": "Far"}, "endsAt": far}]
    r = server.post(path, json=body)
    assert_refused(r, status=400)
    assert any(w in message(r).lower() for w in ("range", "2262", "too far", "too late")), message(r)


# --- 5. query, rule-state and Jaeger parameters ----------------------------------------------------------


@pytest.fixture(scope="module")
def plain_server(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OspreyServer]:
    with module_server(osprey_bin, tmp_path_factory.mktemp("plain"), "osprey-plain") as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "named"),
    [
        pytest.param("get", "/api/v1/rules", {"params": {"type": "bogus"}}, ('"type"', "bogus"), id="rules-type"),
        pytest.param("get", "/api/v1/alerts/history", {"params": {"start": "yesterday"}}, ('"start"', "yesterday"),
                     id="history-start"),
        pytest.param("get", "/api/v1/alerts/history", {"params": {"end": "1e999x"}}, ('"end"',), id="history-end"),
        pytest.param("post", "/api/v1/sql", {"data": b'{"query": ', "headers": JSON}, ("body must be JSON", "EOF"),
                     id="sql-syntax-error"),
        pytest.param("post", "/api/v1/sql", {"data": b'{"query": "SELECT \xff"}', "headers": JSON},
                     ("body must be JSON", "unicode"), id="sql-invalid-utf8"),
        pytest.param("post", "/api/v1/sql", {"json": {"query": 1}}, ('"query"',), id="sql-query-a-number"),
        pytest.param("post", "/api/v1/sql", {"data": b'{"query": "SELECT 1", "x": ' + deep(5000).encode() + b"}",
                                             "headers": JSON}, ("recursion limit",), id="sql-nested-5000"),
        pytest.param("get", "/api/v1/labels", {"params": {"match[]": "{"}}, ('"match[]"',), id="labels-match"),
        pytest.param("get", "/api/v1/metadata", {"params": {"limit": "x"}}, ('"limit"',), id="metadata-limit"),
        pytest.param("get", "/api/v1/rules", {"headers": {"X-Scope-OrgID": "../../etc"}}, ("invalid tenant id",),
                     id="tenant-path"),
    ],
)
def test_bad_parameters_are_400_naming_them(plain_server: OspreyServer, request: pytest.FixtureRequest, method: str,
                                            path: str, kwargs: dict, named: tuple) -> None:
    report_stderr(request, plain_server)
    r = getattr(plain_server, method)(path, **kwargs)
    assert_refused(r, *named, status=400)
    healthy(plain_server)


I64_MAX = str(2**63 - 1)


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        pytest.param("/api/traces", {"service": "x", "end": "-9223372036854775"}, "end", id="traces-end"),
        pytest.param("/api/metrics/calls", {"service": "x", "lookback": I64_MAX, "step": "1"}, "lookback",
                     id="metrics-lookback"),
        pytest.param("/api/metrics/calls", {"service": "x", "endTs": I64_MAX}, "endTs", id="metrics-endTs"),
        pytest.param("/api/metrics/calls", {"service": "x", "endTs": "-" + I64_MAX}, "endTs", id="metrics-endTs-negative"),
        pytest.param("/api/metrics/calls", {"service": "x", "ratePer": I64_MAX}, "ratePer", id="metrics-ratePer"),
    ],
)
def test_extreme_jaeger_times_are_answered(osprey: OspreyServer, path: str, params: dict, named: str) -> None:
    """An answer (an empty result, or a 400 naming the parameter), not a dropped connection."""
    try:
        r = osprey.get(path, params=params)
    except requests.ConnectionError as e:
        pytest.fail(f"GET {path} got no answer: {e}")
    if r.status_code != 200:
        assert_refused(r, named, status=400)
    healthy(osprey)
