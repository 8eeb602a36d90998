"""Per-tenant limits (issue 20, item 4): `[limits]` for every tenant and
`[overrides.<tenant>]` for one. Ingest rates refuse with 429 and Retry-After naming the
limit, and nothing of a refused request is stored; shapes (labels, attributes, spans
per trace, active series) refuse with 400 on remote_write and Loki push and per record
(partial success) on OTLP; long lines are cut to `max_line_size`; query limits (rows,
series, time, memory) and `max_rules` refuse as Prometheus does; every refusal is
counted in `osprey_limits_refused_total` by tenant and limit."""

from __future__ import annotations

import re
import time

import requests

import builders as b
from harness import HTTP_TIMEOUT_S, OspreyServer, wait_until
from test_remote_write import encode_write_request, post_write

LIMITS = """
[limits]
ingest_lines_per_second = 100
ingest_burst = "1s"
max_labels_per_series = 4
max_attributes_per_record = 3
max_spans_per_trace = 2
max_active_series = 3
max_line_size = "1KiB"
max_result_rows = 5
max_rules = 1

[overrides.big]
ingest_lines_per_second = 0
max_active_series = 0
max_result_rows = 50

[overrides.tiny]
max_query_memory = "256KiB"
max_series = 2
"""


def lines(server: OspreyServer, n: int, tenant: str | None = None, prefix: str = "line") -> requests.Response:
    body = "".join(f"{prefix} {i}\n" for i in range(n)).encode()
    return server.post("/api/v1/logs?service=svc", tenant=tenant, data=body, headers={"Content-Type": "text/plain"})


def refused(server: OspreyServer) -> dict[tuple[str, str], float]:
    text = server.get("/metrics").text
    out = {}
    for m in re.finditer(r'^osprey_limits_refused_total\{tenant="([^"]*)",limit="([^"]*)"\} (\S+)$', text, re.M):
        out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def test_ingest_rates_refuse_with_retry_after_and_store_nothing_of_it(osprey_factory) -> None:
    server = osprey_factory(config=LIMITS)
    assert lines(server, 100).status_code == 200
    r = lines(server, 100, prefix="refused")
    assert r.status_code == 429, r.text
    assert "limits.ingest_lines_per_second = 100/s" in r.text, r.text
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 2
    # Another tenant has its own budget; an override lifts the limit.
    assert lines(server, 100, tenant="other").status_code == 200
    assert lines(server, 5000, tenant="big").status_code == 200
    assert server.count("logs", "body LIKE 'refused%'") == 0
    time.sleep(retry)
    assert lines(server, 100, prefix="later").status_code == 200
    assert server.count("logs") == 200
    assert refused(server)[("default", "ingest_lines_per_second")] == 1


def test_shapes_are_refused_by_the_limit_they_break(osprey_factory) -> None:
    server = osprey_factory(config=LIMITS)
    now_ms = int(time.time() * 1000)
    # remote_write: a series with 5 labels (with __name__) is a 400 naming the limit.
    wide = {"__name__": "wide", "a": "1", "b": "2", "c": "3", "d": "4"}
    r = post_write(server, encode_write_request([(wide, [(1.0, now_ms)])]))
    assert r.status_code == 400 and "limits.max_labels_per_series" in r.text, r.text
    # OTLP logs: the record with 4 attributes is rejected alone.
    now = b.now_ns()
    body = b.logs_request("svc", [
        b.log_record(now, "ok", attributes={"a": 1}),
        b.log_record(now, "too wide", attributes={"a": 1, "b": 2, "c": 3, "d": 4}),
    ])
    r = b.post_otlp(server, "logs", body)
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) == 1 and "limits.max_attributes_per_record" in partial["errorMessage"]
    # OTLP spans: a trace takes two spans, the third is rejected.
    trace = "5b8efff798038103d269b633813fc60c"
    spans = [b.span(trace, f"{i:016x}", f"op{i}", now, now + 1000) for i in range(1, 4)]
    r = b.post_otlp(server, "traces", b.traces_request("svc", spans))
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1 and "limits.max_spans_per_trace" in partial["errorMessage"], partial
    # Loki push: structured metadata over the limit refuses the push.
    push = {"streams": [{"stream": {"job": "x"}, "values": [[str(now), "line", {"a": "1", "b": "2", "c": "3", "d": "4"}]]}]}
    r = server.post("/loki/api/v1/push", json=push)
    assert r.status_code == 400 and "limits.max_attributes_per_record" in r.text, r.text
    # A line over max_line_size is cut, not refused.
    assert server.post("/api/v1/logs?service=long", data=("x" * 3000 + "\n").encode(),
                       headers={"Content-Type": "text/plain"}).status_code == 200
    (length,) = server.sql("SELECT length(body) FROM logs WHERE service = 'long'")[0]
    assert 1024 <= length < 1100, length
    assert server.count("logs", "service = 'svc'") == 1
    assert server.count("spans") == 2
    counts = refused(server)
    for limit in ("max_labels_per_series", "max_attributes_per_record", "max_spans_per_trace"):
        assert counts.get(("default", limit), 0) >= 1, (limit, counts)


def test_active_series_limit_keeps_known_series_and_refuses_new_ones(osprey_factory) -> None:
    server = osprey_factory(config=LIMITS)
    now_ms = int(time.time() * 1000)
    series = [({"__name__": "m", "i": str(i)}, [(1.0, now_ms)]) for i in range(5)]
    r = post_write(server, encode_write_request(series))
    assert r.status_code == 400 and "limits.max_active_series" in r.text, r.text
    assert server.count("metrics") == 3
    # The three known series still take samples; a new one still does not.
    more = [({"__name__": "m", "i": str(i)}, [(2.0, now_ms + 1000)]) for i in range(3)]
    assert post_write(server, encode_write_request(more)).status_code == 204
    assert post_write(server, encode_write_request([({"__name__": "m", "i": "9"}, [(1.0, now_ms)])])).status_code == 400
    assert post_write(server, encode_write_request(series), tenant="big").status_code == 204
    assert server.count("metrics") == 6
    assert refused(server)[("default", "max_active_series")] == 3


def test_query_limits_per_tenant(osprey_factory) -> None:
    server = osprey_factory(config=LIMITS)
    for tenant in (None, "big", "tiny"):
        assert lines(server, 20, tenant=tenant, prefix="q" * 200).status_code == 200
    rows = lambda t: requests.post(server.http("/api/v1/sql"), json={"query": "SELECT body FROM logs"},  # noqa: E731
                                   headers={"X-Scope-OrgID": t}, timeout=HTTP_TIMEOUT_S).json()
    assert (len(rows("default")["rows"]), rows("default")["truncated"]) == (5, True)
    assert len(rows("big")["rows"]) == 20
    # A sort larger than tiny's query memory is refused, naming the limit.
    r = server.sql_response("SELECT body, repeat(body, 50) AS big FROM logs ORDER BY big", tenant="tiny")
    assert r.status_code == 422 and "limits.max_query_memory" in r.text, r.text
    # PromQL: tiny may select at most 2 series.
    now_ms = int(time.time() * 1000)
    series = [({"__name__": "s", "i": str(i)}, [(1.0, now_ms)]) for i in range(3)]
    assert post_write(server, encode_write_request(series), tenant="tiny").status_code == 204
    r = server.get("/api/v1/query", tenant="tiny", params={"query": "s", "time": now_ms / 1000})
    assert r.status_code == 422 and "max_series" in r.text, r.text
    assert len(server.prom_query('s{i="0"}', at=now_ms / 1000, tenant="tiny")) == 1


def test_rules_per_tenant(osprey_factory, tmp_path) -> None:
    (tmp_path / "rules.d").mkdir()
    server = osprey_factory(config=LIMITS + '\n[rules]\ntenant_dir = "rules.d"\n')
    one = "name: g1\nrules:\n  - record: a:one\n    expr: vector(1)\n"
    two = "name: g2\nrules:\n  - record: a:two\n    expr: vector(2)\n"
    ok = server.post("/config/v1/rules/ns", data=one, headers={"Content-Type": "application/yaml"})
    assert ok.status_code in (200, 202), ok.text
    r = server.post("/config/v1/rules/ns", data=two, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "limits.max_rules" in r.text, r.text
    groups = server.get("/api/v1/rules").json()["data"]["groups"]
    assert [g["name"] for g in groups] == ["g1"]
    wait_until(lambda: refused(server).get(("default", "max_rules")) == 1, timeout=5, message="max_rules refusal counted")
