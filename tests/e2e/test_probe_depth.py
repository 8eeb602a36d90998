"""No query may crash the server: deeply nested queries are refused with 400
(SQL, PromQL, the log search syntax, LogQL on the Loki API and its tail).

Each request below used to abort the whole process with a stack overflow (the
parsers, DataFusion's planner and the PromQL evaluator recurse once per level).
Every one must now answer 400 with a message naming the limit, and the server
must stay up and keep answering ordinary queries. Queries at the limit are still
answered, and ordinary nesting is far below it.
"""

from __future__ import annotations

import time

import pytest
import requests

from builders import assert_accepted, gauge_metric, log_record, logs_request, metrics_request, number_point, post_otlp
from harness import HTTP_TIMEOUT_S, OspreyServer, recent_second, record_figure

SQL_LIMIT = 64
PROMQL_LIMIT = 128
LOGS_LIMIT = 100

# --- the requests that used to crash ------------------------------------------------------------


def sql_chain(op: str, terms: int = 1000) -> str:
    return "SELECT " + op.join(["1"] * terms)


SQL_CRASHES = {
    "plus": sql_chain(" + "),
    "or": sql_chain(" OR "),
    "and": sql_chain(" AND "),
    "concat": sql_chain(" || "),
    "union-all": " UNION ALL ".join(["SELECT 1"] * 1000),
    # Shorter than the above, but each crashed too (the weights of sqldepth.rs).
    "not-21": "SELECT " + "NOT " * 21 + "true",
    "abs-17": "SELECT " + "abs(" * 17 + "1" + ")" * 17,
    "subquery-14": "SELECT " + "(SELECT " * 14 + "1" + ")" * 14,
    "join-39": "SELECT 1 FROM logs t0" + "".join(f" JOIN logs t{i} ON true" for i in range(1, 40)),
}

LOG_CRASHES = {
    "parens-3000": "(" * 3000 + "a" + ")" * 3000,
    "not-10000": "NOT " * 10_000 + "a",
}

PROMQL_CRASHES = {
    "abs-3000": "abs(" * 3000 + "up" + ")" * 3000,
    "plus-10000": " + ".join(["up"] * 10_000),
    "sum-3000": "sum(" * 3000 + "up" + ")" * 3000,
    "unary-10000": "-" * 10_000 + "up",
    "subquery-200": "max_over_time(" * 200 + "up" + "[5m:1m])" * 200,
}

LOG_ENDPOINTS = ["/api/v1/logs/search", "/api/v1/logs/histogram", "/api/v1/logs/patterns"]


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def seeded(osprey: OspreyServer) -> OspreyServer:
    """Some logs (so regexes and log searches have rows to run over) and one gauge."""
    t = recent_second(60) * 1_000_000_000
    logs = [log_record(t + i, f"depth probe line {i} aaa") for i in range(5)]
    assert_accepted(post_otlp(osprey, "logs", logs_request("depth", logs)))
    gauge = gauge_metric("depth.probe", [number_point(t, 2.0)])
    assert_accepted(post_otlp(osprey, "metrics", metrics_request("depth", [gauge])))
    return osprey


def assert_refused(resp: requests.Response, limit: int) -> str:
    assert resp.status_code == 400, f"want 400, got {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body.get("status") == "error", body
    message = body["error"]
    assert "nested too deeply" in message and f"more than {limit} levels" in message, message
    record_figure("refused deep query answered after", round(resp.elapsed.total_seconds() * 1000, 1), "ms")
    return message


def assert_alive(server: OspreyServer) -> None:
    assert server.running, f"the server died:\n{server.log_tail()}"
    assert requests.get(server.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
    assert server.sql("SELECT 1 + 1") == [[2]]


def prom_post(server: OspreyServer, path: str, data: dict[str, str]) -> requests.Response:
    return server.post(path, data={**data, "time": f"{time.time():.3f}"})


# --- SQL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SQL_CRASHES))
def test_deep_sql_is_refused(seeded: OspreyServer, name: str) -> None:
    assert_refused(seeded.sql_response(SQL_CRASHES[name]), SQL_LIMIT)
    assert_alive(seeded)


def test_sql_at_the_limit_still_runs(seeded: OspreyServer) -> None:
    # 64 operators: accepted (the debug build crashed at 82); 65: refused.
    assert seeded.sql(sql_chain(" + ", SQL_LIMIT + 1)) == [[SQL_LIMIT + 1]]
    assert_refused(seeded.sql_response(sql_chain(" + ", SQL_LIMIT + 2)), SQL_LIMIT)
    assert seeded.sql(" UNION ALL ".join(["SELECT 1"] * (SQL_LIMIT + 1))) == [[1]] * (SQL_LIMIT + 1)
    # A WHERE clause of 30 conditions is ordinary.
    conditions = " AND ".join(f"body <> 'no such line {i}'" for i in range(30))
    assert seeded.sql(f"SELECT count(*) FROM logs WHERE service = 'depth' AND {conditions}") == [[5]]
    assert_alive(seeded)


@pytest.mark.parametrize("pattern", ["(a{100}){100}{100}", "(a"])
def test_a_regex_that_does_not_compile_is_400(seeded: OspreyServer, pattern: str) -> None:
    resp = seeded.sql_response(f"SELECT count(*) FROM logs WHERE body ~ '{pattern}'")
    assert resp.status_code == 400, resp.text[:300]
    assert "regular expression" in resp.json()["error"], resp.text[:300]
    assert seeded.sql("SELECT count(*) FROM logs WHERE body ~ 'a{3}'") == [[5]]
    assert_alive(seeded)


# --- the log search language --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LOG_ENDPOINTS)
@pytest.mark.parametrize("name", list(LOG_CRASHES))
def test_deep_log_queries_are_refused(seeded: OspreyServer, endpoint: str, name: str) -> None:
    # The query string is 18-40 KB once encoded; hyper accepts it, so it reaches the
    # parser (these endpoints take GET only: there is no form path to try).
    resp = seeded.get(endpoint, params={"query": LOG_CRASHES[name]})
    assert_refused(resp, LOGS_LIMIT)
    assert_alive(seeded)


def test_log_queries_at_the_limit_still_run(seeded: OspreyServer) -> None:
    for q, hits in [
        ("(" * 50 + "probe" + ")" * 50, 5),
        ("(" * LOGS_LIMIT + "probe" + ")" * LOGS_LIMIT, 5),
        ("NOT " * LOGS_LIMIT + "probe", 5),
    ]:
        resp = seeded.get("/api/v1/logs/search", params={"query": q, "service": "depth"})
        assert resp.status_code == 200, resp.text[:300]
        assert len(resp.json()["data"]["result"]) == hits
    for q in ["(" * (LOGS_LIMIT + 1) + "a" + ")" * (LOGS_LIMIT + 1), "NOT " * (LOGS_LIMIT + 1) + "a"]:
        assert_refused(seeded.get("/api/v1/logs/search", params={"query": q}), LOGS_LIMIT)
    assert_alive(seeded)


# --- PromQL -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PROMQL_CRASHES))
def test_deep_promql_is_refused(seeded: OspreyServer, name: str) -> None:
    resp = prom_post(seeded, "/api/v1/query", {"query": PROMQL_CRASHES[name]})
    message = assert_refused(resp, PROMQL_LIMIT)
    assert resp.json()["errorType"] == "bad_data"
    assert message.startswith('invalid parameter "query"'), message
    assert_alive(seeded)


@pytest.mark.parametrize(
    "path, field",
    [
        ("/api/v1/query_range", "query"),
        ("/api/v1/query_exemplars", "query"),
        ("/api/v1/series", "match[]"),
        ("/api/v1/labels", "match[]"),
    ],
)
def test_every_promql_surface_is_bounded(seeded: OspreyServer, path: str, field: str) -> None:
    now = time.time()
    data = {field: PROMQL_CRASHES["abs-3000"], "start": f"{now - 60:.3f}", "end": f"{now:.3f}", "step": "15"}
    assert_refused(seeded.post(path, data=data), PROMQL_LIMIT)
    deep_selector = "(" * 3000 + "up" + ")" * 3000
    resp = seeded.get("/api/v1/label/__name__/values", params={"match[]": deep_selector})
    assert_refused(resp, PROMQL_LIMIT)
    assert_alive(seeded)


def test_promql_at_the_limit_evaluates(seeded: OspreyServer) -> None:
    # The evaluator's depth follows from the parser's bound: at the limit it runs.
    at_limit = "abs(" * PROMQL_LIMIT + "depth_probe" + ")" * PROMQL_LIMIT
    [row] = seeded.prom_query(at_limit)
    assert row["value"][1] == "2"
    over = "abs(" * (PROMQL_LIMIT + 1) + "depth_probe" + ")" * (PROMQL_LIMIT + 1)
    assert_refused(prom_post(seeded, "/api/v1/query", {"query": over}), PROMQL_LIMIT)
    # 64 nested subqueries are 128 levels (the call and the range each count).
    subqueries = "max_over_time(" * 64 + "depth_probe" + "[5m:1m])" * 64
    resp = prom_post(seeded, "/api/v1/query", {"query": subqueries})
    assert resp.status_code == 200, resp.text[:300]
    assert_refused(
        prom_post(seeded, "/api/v1/query", {"query": "max_over_time(" * 65 + "up" + "[5m:1m])" * 65}),
        PROMQL_LIMIT,
    )
    # A 40-term sum is ordinary.
    [row] = seeded.prom_query(" + ".join(["depth_probe"] * 40))
    assert row["value"][1] == "80"
    assert_alive(seeded)


# --- LogQL on the Loki API ----------------------------------------------------------------------

LOGQL_LIMIT = 100

LOGQL_CRASHES = {
    "parens-3000": "sum(" * 3000 + 'count_over_time({service_name="depth"}[1m])' + ")" * 3000,
    "plus-10000": " + ".join(['count_over_time({service_name="depth"}[1m])'] * 10_000),
    "unary-10000": "-" * 10_000 + 'count_over_time({service_name="depth"}[1m])',
}


@pytest.mark.parametrize("name", list(LOGQL_CRASHES))
@pytest.mark.parametrize("path", ["/loki/api/v1/query", "/loki/api/v1/query_range"])
def test_deep_logql_is_refused(seeded: OspreyServer, path: str, name: str) -> None:
    # Sent as a form (Grafana POSTs long queries), as Loki answers: 400, plain text.
    now = time.time()
    form = {"query": LOGQL_CRASHES[name], "time": f"{now:.3f}", "start": f"{now - 600:.3f}", "end": f"{now:.3f}"}
    resp = seeded.post(path, data=form)
    assert resp.status_code == 400, f"want 400, got {resp.status_code}: {resp.text[:300]}"
    assert "nested too deeply" in resp.text or "parse error" in resp.text, resp.text[:300]
    assert_alive(seeded)


def test_a_deep_logql_tail_is_refused(seeded: OspreyServer) -> None:
    """The WebSocket tail parses its query before it upgrades: 400, server alive."""
    query = '{service_name="depth"} |= "a"' + " or \"b\"" * 20_000
    resp = seeded.get("/loki/api/v1/tail", params={"query": "(" * 3000 + query})
    assert 400 <= resp.status_code < 500, f"{resp.status_code}: {resp.text[:300]}"
    assert_alive(seeded)


def test_logql_at_the_limit_still_runs(seeded: OspreyServer) -> None:
    q = "sum(" * (LOGQL_LIMIT - 2) + 'count_over_time({service_name="depth"}[5m])' + ")" * (LOGQL_LIMIT - 2)
    resp = seeded.get("/loki/api/v1/query", params={"query": q, "time": f"{time.time():.3f}"})
    assert resp.status_code == 200, resp.text[:300]
    assert_alive(seeded)
