"""The Loki query API against a brute-force LogQL evaluation (issue 18, items 4 and 7).

Real-shaped logs (JSON, logfmt, plain and multi-line) arrive through Loki push
(protobuf, as Promtail and Alloy send it) and OTLP/HTTP; each query's answer from
``/loki/api/v1/query_range`` and ``/loki/api/v1/query`` is compared exactly with an
evaluation over the same lines written here from Loki's documented semantics:

- stream labels are Loki push labels as they are, OTLP resource attributes with Loki's
  naming (``service.name`` → ``service_name``); structured metadata (push metadata,
  OTLP record attributes, same naming) is merged into a log query's stream labels;
- line filters are substring / RE2 matches; ``| json`` flattens nested keys with ``_``;
  ``| logfmt`` takes ``key=value`` pairs; ``| pattern`` as Loki's pattern parser; a
  label that cannot be parsed as a number in a numeric filter gets ``__error__``;
- a log query returns the ``limit`` newest (``backward``) or oldest (``forward``)
  lines of ``[start, end)``; a metric query's step ``t`` sees the lines of
  ``(t - range, t]``; ``rate`` is ``count / range seconds``.

The reference (``loki_reference.py``) builds each query from the same pieces the query names (``Q``),
not by parsing LogQL: a mistake in Osprey's parser or engine shows up as a difference.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from typing import Any, Callable

import pytest

from builders import log_record, logs_request, post_otlp
from harness import OspreyServer, wait_until
from loki_reference import (
    S,
    by,
    bytes_n,
    bytes_over,
    contains,
    count,
    drop,
    duration_s,
    Entry,
    json_params_stage,
    json_stage,
    keep,
    keep_parsed,
    key,
    Labels,
    logfmt_stage,
    matches,
    no_error,
    not_contains,
    num_filter,
    pattern_stage,
    pattern_test,
    Q,
    quantile,
    rate,
    ref_log,
    ref_metric,
    regexp_stage,
    rename_then_template,
    series,
    str_filter,
    stream_is,
    stream_re,
    unwrap,
    Window,
)
from test_loki import encode_push
from test_remote_write import snappy

def corpus(end_ns: int) -> tuple[list[Entry], list[tuple[str, list[tuple[int, str, dict[str, str]]]]], list[dict[str, Any]]]:
    """The lines of the 10 minutes before ``end_ns`` (each a distinct ns), as the
    reference sees them, as Loki push streams, and as OTLP records of ``checkout``."""
    entries: list[Entry] = []
    pushes: list[tuple[str, list[tuple[int, str, dict[str, str]]]]] = []
    t0 = end_ns - 600 * S

    api_labels = {"service_name": "api", "env": "prod", "job": "api"}
    api = []
    for i in range(60):
        ts = t0 + i * 10 * S + 1
        if i % 7 == 3:
            line = f"panic: upstream timeout in handler {i}"
        else:
            doc = {
                "level": "error" if i % 5 == 0 else "info",
                "method": "POST" if i % 3 == 0 else "GET",
                "status": 500 if i % 5 == 0 else 200,
                "latency_ms": 7 * i + 3,
                "took": f"{i * 13 % 97}ms",
                "size": f"{i % 4 + 1}KB",
                "req": {"path": f"/p{i % 3}", "id": f"r-{i}"},
            }
            line = json.dumps(doc)
        api.append((ts, line, {}))
        entries.append(Entry(ts, api_labels, line))
    pushes.append(('{service_name="api", env="prod", job="api"}', api))

    web_labels = {"service_name": "web", "env": "prod", "job": "web"}
    web = []
    for i in range(40):
        ts = t0 + i * 15 * S + 2
        status = [200, 404, 500, 302][i % 4]
        line = f'level={"warn" if status >= 400 else "info"} msg="request done" status={status} duration={i * 11}ms bytes={i}KB path=/x/{i % 5}'
        meta = {"user_id": f"u-{i % 3}"} if i % 2 == 0 else {}
        web.append((ts, line, meta))
        entries.append(Entry(ts, web_labels, line, dict(meta)))
    pushes.append(('{service_name="web", env="prod", job="web"}', web))

    db_labels = {"service_name": "db", "env": "dev"}
    db = []
    for i in range(30):
        ts = t0 + i * 20 * S + 3
        if i % 10 == 9:
            line = f"Traceback (most recent call last):\n  File \"q.py\", line {i}\nTimeoutError: query {i}"
        else:
            line = f"query took {i * 3 % 50}ms rows={i % 7} table=t{i % 2}"
        db.append((ts, line, {}))
        entries.append(Entry(ts, db_labels, line))
    pushes.append(('{service_name="db", env="dev"}', db))

    checkout_stream = {"service_name": "checkout", "env": "prod", "k8s_namespace_name": "shop"}
    records = []
    for i in range(30):
        ts = t0 + i * 19 * S + 4
        method = "POST" if i % 2 else "GET"
        line = json.dumps({"level": "error" if i % 6 == 0 else "info", "msg": "order placed" if i % 6 else "card declined", "amount": i * 2.5})
        records.append(log_record(ts, line, attributes={"http.method": method}))
        entries.append(Entry(ts, checkout_stream, line, {"http_method": method}))
    return entries, pushes, [logs_request("checkout", records, resource_attrs={"env": "prod", "k8s.namespace.name": "shop"})]


LOG_QUERIES: list[Q] = [
    Q('{service_name="api"}', stream_is(service_name="api"), []),
    Q('{env="prod"} |= "timeout"', stream_is(env="prod"), [contains("timeout")]),
    Q('{env=~"prod|dev"} |~ "(?i)timeout"', stream_re("env", "prod|dev"), [matches("(?i)timeout")]),
    Q('{service_name="web"} != "status=200" |= "warn"', stream_is(service_name="web"), [not_contains("status=200"), contains("warn")]),
    Q('{service_name="api"} |= "POST" or "panic"', stream_is(service_name="api"), [contains("POST", "panic")]),
    Q('{service_name="api"} | json | level="error"', stream_is(service_name="api"), [json_stage(), str_filter("level", lambda v: v == "error")]),
    Q('{service_name="api"} | json | __error__!=""', stream_is(service_name="api"), [json_stage(), str_filter("__error__", lambda v: v != "")]),
    Q('{service_name="api"} | json | status >= 500 and latency_ms > 100', stream_is(service_name="api"),
      [json_stage(), num_filter("status", lambda x: x >= 500), num_filter("latency_ms", lambda x: x > 100)]),
    Q('{service_name="api"} | json | took > 50ms', stream_is(service_name="api"),
      [json_stage(), num_filter("took", lambda x: x > 0.05, duration_s)]),
    Q('{service_name="api"} | json | size >= 3KB | __error__=""', stream_is(service_name="api"),
      [json_stage(), num_filter("size", lambda x: x >= 3000, bytes_n), no_error()]),
    Q('{service_name="api"} | json | req_path=~"/p[12]" | drop req_id, took', stream_is(service_name="api"),
      [json_stage(), str_filter("req_path", lambda v: re.fullmatch("/p[12]", v) is not None), drop("req_id", "took")]),
    Q('{service_name="web"} | logfmt | status = 404', stream_is(service_name="web"),
      [logfmt_stage(), num_filter("status", lambda x: x == 404)]),
    Q('{service_name="web"} | logfmt | duration > 200ms or bytes < 5KB', stream_is(service_name="web"),
      [logfmt_stage(), lambda line, l: (line, l) if (duration_s(l["duration"]) > 0.2 or bytes_n(l["bytes"]) < 5000) else None]),
    Q('{service_name="web"} | logfmt | keep path, user_id', stream_is(service_name="web"),
      [logfmt_stage(), keep("path", "user_id")]),
    Q('{service_name="web"} | user_id="u-1"', stream_is(service_name="web"), [str_filter("user_id", lambda v: v == "u-1")]),
    Q('{service_name="db"} | pattern "query took <ms>ms rows=<rows> table=<table>" | rows > 3', stream_is(service_name="db"),
      [pattern_stage([("lit", "query took "), ("cap", "ms"), ("lit", "ms rows="), ("cap", "rows"), ("lit", " table="), ("cap", "table")]),
       num_filter("rows", lambda x: x > 3)]),
    Q('{service_name="db"} |> "Traceback <_>"', stream_is(service_name="db"), [pattern_test([("lit", "Traceback "), ("cap", "_")])]),
    Q('{service_name="db"} !> "query took <_>ms rows=<_>"', stream_is(service_name="db"),
      [pattern_test([("lit", "query took "), ("cap", "_"), ("lit", "ms rows="), ("cap", "_")], negate=True)]),
    Q('{service_name="checkout"} | json | http_method="POST" | amount > 30', stream_is(service_name="checkout"),
      [json_stage(), str_filter("http_method", lambda v: v == "POST"), num_filter("amount", lambda x: x > 30)]),
    Q('{k8s_namespace_name="shop"} |= "declined"', stream_is(k8s_namespace_name="shop"), [contains("declined")]),
    Q('{service_name="api"} | json level, path="req.path" | path="/p1"', stream_is(service_name="api"),
      [json_params_stage({"level": ["level"], "path": ["req", "path"]}), str_filter("path", lambda v: v == "/p1")]),
    Q('{service_name="web"} | logfmt status, p="path" | p=~"/x/[34]"', stream_is(service_name="web"),
      [lambda line, l: logfmt_stage()(line, l), keep_parsed({"status": "status", "p": "path"}), str_filter("p", lambda v: v in ("/x/3", "/x/4"))]),
    Q('{service_name="db"} | regexp "took (?P<ms>[0-9]+)ms rows=(?P<rows>[0-9]+)" | ms > 20', stream_is(service_name="db"),
      [regexp_stage(r"took (?P<ms>[0-9]+)ms rows=(?P<rows>[0-9]+)"), num_filter("ms", lambda x: x > 20)]),
    Q('{service_name="api"} | json | level!="info" | keep level, method', stream_is(service_name="api"),
      [json_stage(), str_filter("level", lambda v: v != "info"), keep("level", "method")]),
    Q('{service_name="checkout"} | json | msg=~"card.*"', stream_is(service_name="checkout"),
      [json_stage(), str_filter("msg", lambda v: re.fullmatch("card.*", v) is not None)]),
    Q('{service_name="web"} | logfmt | status!=200 | path="/x/1"', stream_is(service_name="web"),
      [logfmt_stage(), num_filter("status", lambda x: x != 200), str_filter("path", lambda v: v == "/x/1")]),
    Q('{env="dev"} != "Traceback"', stream_is(env="dev"), [not_contains("Traceback")]),
    Q('{service_name="db"} |= "Traceback" | decolorize', stream_is(service_name="db"), [contains("Traceback")]),
    Q('{job=~"api|web"} |~ "status.{1,3}50"', stream_re("job", "api|web"), [matches("status.{1,3}50")]),
    Q('{service_name="api"} | json | method="GET" | drop __error__, __error_details__', stream_is(service_name="api"),
      [json_stage(), str_filter("method", lambda v: v == "GET"), drop("__error__", "__error_details__")]),
    Q('{service_name="web"} | logfmt --strict | status=500', stream_is(service_name="web"),
      [logfmt_stage(), num_filter("status", lambda x: x == 500)]),
    Q('{service_name="api"} | json | __error__="" | latency_ms <= 50 or level="error"', stream_is(service_name="api"),
      [json_stage(), no_error(), lambda line, l: (line, l) if float(l["latency_ms"]) <= 50 or l.get("level") == "error" else None]),
    Q('{service_name=~"web|db"} |= "5" != "500"', stream_re("service_name", "web|db"), [contains("5"), not_contains("500")]),
    Q('{env="prod", service_name!="api"} |~ "(?i)ERROR"', lambda l: l.get("env") == "prod" and l.get("service_name") != "api",
      [matches("(?i)ERROR")]),
    # Templates: the line rewritten from labels (a missing one is empty), then filtered.
    Q('{service_name="api"} | json | line_format "{{.level}} {{.method}} {{.nope}}!" |= "error"', stream_is(service_name="api"),
      [json_stage(), lambda line, l: (f"{l.get('level', '')} {l.get('method', '')} !", l), contains("error")]),
    Q('{service_name="api"} | json | line_format "{{ .level | ToUpper }}" |= "ERR"', stream_is(service_name="api"),
      [json_stage(), lambda line, l: (l.get("level", "").upper(), l), contains("ERR")]),
    # A rename, then a template reading the labels as they were at it.
    Q('{service_name="web"} | logfmt | label_format p=path, s="{{.status}}/{{.p}}" | s=~"404/.*"', stream_is(service_name="web"),
      [logfmt_stage(), rename_then_template("p", "path", "s", lambda l: f"{l.get('status', '')}/{l.get('p', '')}"),
       str_filter("s", lambda v: re.fullmatch("404/.*", v) is not None)]),
]




def api_streams(resp: dict[str, Any]) -> list[tuple[Labels, list[tuple[int, str]]]]:
    assert resp["status"] == "success", resp
    assert resp["data"]["resultType"] == "streams", resp
    assert "stats" in resp["data"]
    def labels(stream: Labels) -> Labels:
        return {k: ("*" if k == "__error_details__" else v) for k, v in stream.items()}
    out = [(labels(s["stream"]), [(int(ts), line) for ts, line in s["values"]]) for s in resp["data"]["result"]]
    return sorted(out, key=lambda s: key(s[0]))


@pytest.fixture(scope="module")
def loaded(osprey_bin, tmp_path_factory: pytest.TempPathFactory):
    """One server for the module, with the corpus: half of it flushed to files, the
    rest in memory, so both read paths answer."""
    tmp = tmp_path_factory.mktemp("loki-api")
    (tmp / "data").mkdir()
    server = OspreyServer(osprey_bin, tmp / "data", tmp, name="osprey-loki", env=None,
                          data_dir_via_env=False, args=[])
    server.start()
    try:
        end = (time.time_ns() // S) * S
        entries, pushes, otlp = corpus(end)
        half = [(labels, lines[: len(lines) // 2]) for labels, lines in pushes]
        rest = [(labels, lines[len(lines) // 2:]) for labels, lines in pushes]
        for part in (half, rest):
            r = server.post("/loki/api/v1/push", data=snappy(encode_push(part)),
                            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
            assert r.status_code == 204, r.text
            if part is half:
                for body in otlp:
                    r = post_otlp(server, "logs", body)
                    assert r.status_code == 200, r.text
                server.flush()
        wait_until(lambda: server.count("logs") == len(entries), message="every line stored")
        # Loki's `detected_level` structured metadata: the stored severity's level.
        levels = {ts: lvl for ts, lvl in server.sql(
            "SELECT CAST(timestamp AS BIGINT), CASE WHEN severity_number BETWEEN 1 AND 24"
            " THEN (severity_number - 1) / 4 ELSE -1 END FROM logs")}
        names = ["trace", "debug", "info", "warn", "error", "fatal"]
        for e in entries:
            e.meta["detected_level"] = names[levels[e.ts]] if levels[e.ts] >= 0 else "unknown"
        assert {e.meta["detected_level"] for e in entries} >= {"info", "error", "warn"}
        yield server, entries, end
    finally:
        server.stop()


@pytest.mark.parametrize("q", LOG_QUERIES, ids=[q.logql for q in LOG_QUERIES])
@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_log_queries_match_the_reference(loaded, q: Q, direction: str) -> None:
    server, entries, end = loaded
    start, stop, limit = end - 500 * S, end, 25
    r = server.get("/loki/api/v1/query_range", params={
        "query": q.logql, "start": str(start), "end": str(stop), "limit": str(limit), "direction": direction})
    assert r.status_code == 200, r.text
    want = ref_log(q, entries, start, stop, limit, direction == "forward")
    assert want, f"{q.logql}: the reference selects nothing; the query tests nothing"
    got = api_streams(r.json())
    assert got == want
    # Lines in each stream follow the direction.
    for _, values in api_streams(r.json()):
        ts = [t for t, _ in values]
        assert ts == sorted(ts, reverse=direction == "backward")


def grouped(keys: tuple[str, ...] | None, fn: Callable[[list[float]], float], value: Callable[[int, str, Labels], float | None],
            drop_label: str | None = None) -> Callable[[Window, int], dict[tuple[tuple[str, str], ...], float]]:
    """A range function with the range's own grouping (``… [1m]) by (a)``): the points
    of every series of a group together (``keys`` None: each series alone, less the
    unwrapped label)."""
    def run(w: Window, _rng: int) -> dict[tuple[tuple[str, str], ...], float]:
        groups: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = defaultdict(list)
        for k, points in w.items():
            labels = {a: b for a, b in k if a != drop_label}
            g = tuple(sorted((n, labels[n]) for n in keys if labels.get(n))) if keys is not None else key(labels)
            for ts, line, l in points:
                v = value(ts, line, l)
                if v is not None:
                    groups[g].append((ts, v))
        return {g: fn([v for _, v in sorted(pts)]) for g, pts in groups.items() if pts}
    return run


def label_value(name: str, unit: Callable[[str], float] = float) -> Callable[[int, str, Labels], float | None]:
    return lambda _ts, _line, l: unit(l[name]) if l.get(name) else None


def statistics_pstdev(v: list[float]) -> float:
    m = sum(v) / len(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / len(v))


def mean(v: list[float]) -> float:
    return sum(v) / len(v)


def absent_of(labels: Labels) -> Callable[[Window, int], dict[tuple[tuple[str, str], ...], float]]:
    return lambda w, _rng: {} if any(w.values()) else {key(labels): 1.0}


METRIC_QUERIES: list[Q] = [
    Q('count_over_time({service_name="api"}[1m])', stream_is(service_name="api"), [], series(count)),
    Q('sum by (level) (count_over_time({service_name="api"} | json | __error__="" [1m]))', stream_is(service_name="api"),
      [json_stage(), no_error()], by(("level",), sum, count)),
    Q('rate({env="prod"} |= "timeout" [2m])', stream_is(env="prod"), [contains("timeout")], series(rate), 120),
    Q('sum(bytes_over_time({service_name="web"}[1m]))', stream_is(service_name="web"), [], by((), sum, bytes_over)),
    Q('sum by (status) (count_over_time({service_name="web"} | logfmt [1m]))', stream_is(service_name="web"),
      [logfmt_stage()], by(("status",), sum, count)),
    Q('max_over_time({service_name="api"} | json | unwrap latency_ms | __error__="" [1m]) by (method)', stream_is(service_name="api"),
      [json_stage(), no_error()], grouped(("method",), max, label_value("latency_ms"), "latency_ms")),
    Q('avg_over_time({service_name="api"} | json | unwrap latency_ms | __error__="" [2m]) by (level)', stream_is(service_name="api"),
      [json_stage(), no_error()], grouped(("level",), mean, label_value("latency_ms"), "latency_ms"), 120),
    Q('quantile_over_time(0.9, {service_name="web"} | logfmt | unwrap duration(duration) [2m]) by (path)', stream_is(service_name="web"),
      [logfmt_stage()], grouped(("path",), quantile(0.9), label_value("duration", duration_s), "duration"), 120),
    Q('sum by (service_name) (sum_over_time({service_name="web"} | logfmt | unwrap bytes(bytes) [1m]))', stream_is(service_name="web"),
      [logfmt_stage()], by(("service_name",), sum, unwrap("bytes", sum, bytes_n))),
    Q('min_over_time({service_name="checkout"} | json | unwrap amount [2m]) by (http_method)', stream_is(service_name="checkout"),
      [json_stage()], grouped(("http_method",), min, label_value("amount"), "amount"), 120),
    Q('first_over_time({service_name="checkout"} | json | unwrap amount [3m]) by (level)', stream_is(service_name="checkout"),
      [json_stage()], grouped(("level",), lambda v: v[0], label_value("amount"), "amount"), 180),
    Q('last_over_time({service_name="checkout"} | json | unwrap amount [3m]) by (level)', stream_is(service_name="checkout"),
      [json_stage()], grouped(("level",), lambda v: v[-1], label_value("amount"), "amount"), 180),
    Q('count_over_time({service_name="db"} |~ "took [0-9]+ms" [3m])', stream_is(service_name="db"), [matches("took [0-9]+ms")], series(count), 180),
    Q('sum by (http_method) (count_over_time({service_name="checkout"}[2m]))', stream_is(service_name="checkout"), [],
      by(("http_method",), sum, count), 120),
    Q('absent_over_time({service_name="nope"}[1m])', stream_is(service_name="nope"), [], absent_of({"service_name": "nope"})),
    Q('sum by (table) (count_over_time({service_name="db"} | pattern "query took <_>ms rows=<_> table=<table>" [5m]))', stream_is(service_name="db"),
      [pattern_stage([("lit", "query took "), ("cap", "_"), ("lit", "ms rows="), ("cap", "_"), ("lit", " table="), ("cap", "table")])],
      by(("table",), sum, count), 300),
    Q('bytes_rate({service_name="db"}[2m])', stream_is(service_name="db"), [], series(lambda p, r: bytes_over(p, r) / r), 120),
    Q('sum by (user_id) (rate({service_name="web"} | logfmt | status >= 400 [2m]))', stream_is(service_name="web"),
      [logfmt_stage(), num_filter("status", lambda x: x >= 400)], by(("user_id",), sum, rate), 120),
    Q('sum by (job) (count_over_time({job=~".+"}[2m]))', stream_re("job", ".+"), [], by(("job",), sum, count), 120),
    # A service regex prefilters through the index (whole names, as the selector).
    Q('sum by (service_name) (count_over_time({service_name=~"web|d."} |= "5" [2m]))', stream_re("service_name", "web|d."),
      [contains("5")], by(("service_name",), sum, count), 120),
    Q('sum by (service_name) (count_over_time({service_name=~"(?i:API)|.*out"}[2m]))', stream_re("service_name", "(?i:API)|.*out"),
      [], by(("service_name",), sum, count), 120),
    Q('stddev_over_time({service_name="api"} | json | unwrap latency_ms | __error__="" [2m]) by (level)', stream_is(service_name="api"),
      [json_stage(), no_error()], grouped(("level",), lambda v: statistics_pstdev(v), label_value("latency_ms"), "latency_ms"), 120),
    Q('count(count_over_time({env="prod"}[1m]))', stream_is(env="prod"), [], lambda w, r: {(): float(len([k for k, p in w.items() if p]))} if any(w.values()) else {}),
    Q('sum(rate({service_name="api"}[1m] offset 2m))', stream_is(service_name="api"), [], by((), sum, rate), 60, 120),
    Q('avg by (service_name) (count_over_time({env="prod"}[2m]))', stream_is(env="prod"), [], by(("service_name",), mean, count), 120),
    Q('sum by (path) (count_over_time({service_name="web"} | logfmt [2m])) > 1', stream_is(service_name="web"), [logfmt_stage()],
      lambda w, r: {k: v for k, v in by(("path",), sum, count)(w, r).items() if v > 1}, 120),
    Q('label_replace(sum by (service_name) (count_over_time({env="prod"}[1m])), "first", "$1", "service_name", "(.)(.*)")', stream_is(env="prod"), [],
      lambda w, r: {tuple(sorted(dict(k, first=dict(k)["service_name"][0]).items())): v for k, v in by(("service_name",), sum, count)(w, r).items()}),
]


def matrix_of(resp: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    assert resp["status"] == "success", resp
    assert resp["data"]["resultType"] == "matrix", resp
    return {key(s["metric"]): {round(float(t) * 1000) * 10**6: float(v) for t, v in s["values"]} for s in resp["data"]["result"]}


def close(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, dict):
            if not close(x, y):
                return False
        elif not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


@pytest.mark.parametrize("q", METRIC_QUERIES, ids=[q.logql for q in METRIC_QUERIES])
def test_metric_range_queries_match_the_reference(loaded, q: Q) -> None:
    server, entries, end = loaded
    start, step = end - 480 * S, 30
    steps = list(range(start, end + 1, step * S))
    r = server.get("/loki/api/v1/query_range", params={
        "query": q.logql, "start": str(start // S), "end": str(end // S), "step": f"{step}s"})
    assert r.status_code == 200, r.text
    want = {k: v for k, v in ref_metric(q, entries, steps).items() if v}
    assert want, f"{q.logql}: the reference has no sample; the query tests nothing"
    got = matrix_of(r.json())
    assert close(got, want), (got, want)


@pytest.mark.parametrize("q", METRIC_QUERIES, ids=[q.logql for q in METRIC_QUERIES])
def test_metric_instant_queries_match_the_reference(loaded, q: Q) -> None:
    server, entries, end = loaded
    at = end - 60 * S
    r = server.get("/loki/api/v1/query", params={"query": q.logql, "time": str(at)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["resultType"] == "vector", body
    got = {}
    for s in body["data"]["result"]:
        assert round(float(s["value"][0]) * 1000) * 10**6 == at
        got[key(s["metric"])] = float(s["value"][1])
    want = {k: v[at] for k, v in ref_metric(q, entries, [at]).items() if at in v}
    assert close(got, want), (got, want)


def test_binary_operations_and_vector(loaded) -> None:
    """A ratio of two sums and `or vector(0)`, from the same reference pieces."""
    server, entries, end = loaded
    at = end - 30 * S
    prod = Q("", stream_is(env="prod"), [], by((), sum, count))
    every = Q("", stream_re("env", ".+"), [], by((), sum, count))
    [(_, p)] = ref_metric(prod, entries, [at]).items()
    [(_, e)] = ref_metric(every, entries, [at]).items()
    r = server.get("/loki/api/v1/query", params={
        "query": 'sum(count_over_time({env="prod"}[1m])) / sum(count_over_time({env=~".+"}[1m]))', "time": str(at)})
    [sample] = r.json()["data"]["result"]
    assert math.isclose(float(sample["value"][1]), p[at] / e[at])
    r = server.get("/loki/api/v1/query", params={
        "query": 'sum(count_over_time({service_name="nope"}[1m])) or vector(0)', "time": str(at)})
    assert r.json()["data"]["result"] == [{"metric": {}, "value": [at // S, "0"]}]

    # Many-to-one: each service's share of its environment's lines, labels of the many side.
    per_svc = Q("", stream_re("env", ".+"), [], by(("env", "service_name"), sum, count))
    per_env = Q("", stream_re("env", ".+"), [], by(("env",), sum, count))
    svcs, envs = ref_metric(per_svc, entries, [at]), ref_metric(per_env, entries, [at])
    want = {k: v[at] / envs[tuple(x for x in k if x[0] == "env")][at] for k, v in svcs.items()}
    assert len(want) > len(envs) > 0
    r = server.get("/loki/api/v1/query", params={"time": str(at), "query":
        'sum by (env, service_name) (count_over_time({env=~".+"}[1m]))'
        ' / on (env) group_left sum by (env) (count_over_time({env=~".+"}[1m]))'})
    assert r.status_code == 200, r.text
    got = {key(x["metric"]): float(x["value"][1]) for x in r.json()["data"]["result"]}
    assert got.keys() == want.keys() and all(math.isclose(got[k], want[k]) for k in want), (got, want)


def test_labels_values_and_series_list_the_streams(loaded) -> None:
    server, entries, end = loaded
    rng = {"start": str(end - 700 * S), "end": str(end)}
    streams = {key(e.stream) for e in entries}
    names = sorted({k for s in streams for k, _ in s})
    assert server.get("/loki/api/v1/labels", params=rng).json()["data"] == names
    values = sorted({dict(s)["service_name"] for s in streams})
    assert server.get("/loki/api/v1/label/service_name/values", params=rng).json()["data"] == values
    prod = server.get("/loki/api/v1/label/service_name/values", params={**rng, "query": '{env="prod"}'}).json()["data"]
    assert prod == sorted({dict(s)["service_name"] for s in streams if dict(s)["env"] == "prod"})
    got = server.get("/loki/api/v1/series", params={**rng, "match[]": '{service_name=~"a.*|db"}'}).json()["data"]
    assert sorted(key(s) for s in got) == sorted(s for s in streams if dict(s)["service_name"] in ("api", "db"))


def test_logcli_style_errors(loaded) -> None:
    server, _, end = loaded
    bad = server.get("/loki/api/v1/query_range", params={"query": '{service_name="api"', "start": str(end - S), "end": str(end)})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/plain")
    assert bad.text.startswith("parse error at line 1, col ")
    log_instant = server.get("/loki/api/v1/query", params={"query": '{service_name="api"}'})
    assert log_instant.status_code == 400
    assert "log queries are not supported as an instant query type" in log_instant.text


def test_tail_over_a_websocket_sends_history_then_new_lines(loaded) -> None:
    """`/loki/api/v1/tail` as logcli and Grafana's live view use it: the query's lines
    since `start` first, then each new line the query keeps, through its pipeline."""
    import websocket  # websocket-client

    server, entries, end = loaded
    q = '{service_name="web"} | logfmt | status >= 400'
    start = end - 120 * S
    url = server.http("/loki/api/v1/tail").replace("http://", "ws://")
    ws = websocket.create_connection(f"{url}?query={requests_quote(q)}&start={start}&limit=50", timeout=20)
    try:
        ref = Q(q, stream_is(service_name="web"), [logfmt_stage(), num_filter("status", lambda x: x >= 400)])
        want = ref_log(ref, entries, start, time.time_ns() + S, 50, forward=False)
        first = json.loads(ws.recv())
        got = sorted(((s["stream"], [(int(t), line) for t, line in s["values"]]) for s in first["streams"]),
                     key=lambda s: key(s[0]))
        want_sorted = sorted(((labels, sorted(values)) for labels, values in want), key=lambda s: key(s[0]))
        assert want_sorted, "the history tests nothing"
        assert got == want_sorted
        # New lines: one the query keeps (status 503), one it does not (200).
        now = time.time_ns()
        push = [('{service_name="web", env="prod", job="web"}', [
            (now, 'level=warn msg="late" status=503 duration=1ms bytes=1KB path=/x/9', {}),
            (now + 1, 'level=info msg="fine" status=200 duration=1ms bytes=1KB path=/x/9', {}),
        ])]
        r = server.post("/loki/api/v1/push", data=snappy(encode_push(push)),
                        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
        assert r.status_code == 204, r.text
        frame = json.loads(ws.recv())
        lines = [(s["stream"].get("status"), v[1]) for s in frame["streams"] for v in s["values"]]
        assert lines == [("503", 'level=warn msg="late" status=503 duration=1ms bytes=1KB path=/x/9')]
        assert frame["dropped_entries"] is None
    finally:
        ws.close()
    # A metric query cannot be tailed.
    bad = server.get("/loki/api/v1/tail", params={"query": 'count_over_time({service_name="web"}[1m])'},
                     headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert bad.status_code == 400
    assert "tail only supports log queries" in bad.text


def requests_quote(s: str) -> str:
    import urllib.parse

    return urllib.parse.quote(s, safe="")
