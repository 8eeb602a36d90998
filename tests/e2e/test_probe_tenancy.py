"""Tenant isolation probe (issue 20, item 3): what tenant `alpha` writes through every
ingest surface, tenant `beta` (which has data of its own) and the default tenant (no
`X-Scope-OrgID`) cannot find through any query surface, nor change with admin and delete
requests.

Written as alpha, with a marker made per run (`probe` + random hex): OTLP traces, logs
and metrics over gRPC, HTTP protobuf and HTTP JSON (OTLP port and API port; a client and
server span, so span metrics and the service graph follow); remote_write 1.0 and 2.0
with exemplars and metadata; Loki push (JSON, snappy protobuf); /api/v1/logs lines; a
scrape job of `[scrape] tenant = "alpha"`; a ruler-API rule group (a recording rule, a
firing alert); a posted alert; a silence; a dashboard. Each read is first made as
alpha, who must find the marker, so each probe can fail.

Read as beta and default: SQL over every table and SQL tricks (information_schema,
SHOW, table functions, file and URL paths, comments, UNION, CTEs, several statements,
DDL, DML, SET, qualified names); PromQL, series, labels, metadata, exemplars; the Loki
API with its WebSocket tail; log search, histogram, fields, patterns and the SSE tail;
Jaeger v1 and v3, trace search, dependencies, the Monitor tab; rules, alerts, history,
Alertmanager alerts, groups and silences; dashboards; storage status; scrape targets;
tenant ids near alpha's. No answer is a 5xx.
"""

from __future__ import annotations

import json
import math
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket  # websocket-client
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from builders import assert_accepted, counter_metric, log_record, logs_request, metrics_request, number_point, post_otlp, span, traces_request
from harness import HTTP_TIMEOUT_S, OspreyServer, record_figure, rfc3339, tenant_headers, wait_until
from protos import REMOTE_WRITE_V1, message_classes
from test_loki import encode_push
from test_otlp_sdk import EXPORT_TIMEOUT_S, ExportRecorder, Transport
from test_remote_write import post_write, snappy
from test_remote_write_v2 import V2_CT, V2Builder
from test_scrape import Target
from test_tail import collect, open_tail

MS = 1_000_000
READERS = ["beta", None]  # None: no header, the default tenant
LOKI_PB = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


@dataclass
class Probe:
    server: OspreyServer
    m: str  # the marker
    trace_id: str  # alpha's OTLP/JSON trace (a client span and its server span)
    silence_id: str
    dashboard: str
    rule_ns: str
    tmp: Path


class ApiPortTransport(Transport):
    """The SDK's OTLP/HTTP exporters pointed at the API port's /v1/* paths."""

    def _http_kwargs(self, path: str) -> dict[str, Any]:
        return {**super()._http_kwargs(path), "endpoint": self.server.http(path)}


def sdk_send(tx: Transport, name: str) -> None:
    """A span, a log record and a counter of service `name`, each export a success."""
    rec = ExportRecorder()
    res = Resource.create({"service.name": name})
    tp = TracerProvider(resource=res)
    tp.add_span_processor(SimpleSpanProcessor(rec.wrap(tx.span_exporter())))
    lp = LoggerProvider(resource=res)
    lp.add_log_record_processor(SimpleLogRecordProcessor(rec.wrap(tx.log_exporter())))
    reader = PeriodicExportingMetricReader(rec.wrap(tx.metric_exporter()), export_interval_millis=math.inf)
    mp = MeterProvider(resource=res, metric_readers=[reader])
    try:
        with tp.get_tracer(name).start_as_current_span(f"{name} op", attributes={"marker": name}):
            lp.get_logger(name).emit(severity_text="INFO", body=f"{name} says hello")
        mp.get_meter(name).create_counter(f"{name}.events").add(3)
        for p in (tp, lp, mp):
            assert p.force_flush(EXPORT_TIMEOUT_S * 1000)
        rec.assert_all_succeeded(min_calls=3)
    finally:
        for p in (tp, lp, mp):
            p.shutdown()


def ok(r: requests.Response, status: int = 200) -> requests.Response:
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text[:1000]}"
    return r


def write_alpha(s: OspreyServer, m: str) -> dict[str, str]:
    now = time.time_ns()
    for via, tx in (("grpc", Transport(s, "grpc", "alpha")), ("hpb", Transport(s, "http/protobuf", "alpha")),
                    ("hpbapi", ApiPortTransport(s, "http/protobuf", "alpha"))):
        sdk_send(tx, f"{m}_{via}")
    trace_id, client, server_span = secrets.token_hex(16), secrets.token_hex(8), secrets.token_hex(8)
    t0 = now - 5_000 * MS
    for via, port in (("json", "otlp"), ("jsonapi", "http")):
        svc = f"{m}_{via}"
        spans = traces_request(svc, [span(trace_id if via == "json" else secrets.token_hex(16), client, f"{svc} call",
                                          t0, t0 + 20 * MS, kind="CLIENT", attributes={"marker": m})])
        if via == "json":  # the server half: a service-graph edge and a second service
            spans["resourceSpans"] += traces_request(f"{svc}_srv", [span(
                trace_id, server_span, f"{svc} serve", t0 + 2 * MS, t0 + 18 * MS, kind="SERVER", parent_span_id=client)])["resourceSpans"]
        assert_accepted(post_otlp(s, "traces", spans, tenant="alpha", port=port))
        logs = logs_request(svc, [log_record(now, f"{svc} says hello", attributes={"marker": m})])
        assert_accepted(post_otlp(s, "logs", logs, tenant="alpha", port=port))
        metrics = metrics_request(svc, [counter_metric(f"{svc}.events", [number_point(now, 3)])])
        assert_accepted(post_otlp(s, "metrics", metrics, tenant="alpha", port=port))
    # remote_write 1.0 with an exemplar; 2.0 with an exemplar and metadata.
    now_ms = now // MS
    req = rw1(f"{m}_rw1_total", {"job": f"{m}_rw1", f"{m}_label": "x"}, 1.0, now_ms - 1000)
    req.timeseries[0].exemplars.add(value=1.0, timestamp=now_ms - 1000).labels.add(name="trace_id", value=m)
    ok(post_write(s, req.SerializeToString(), tenant="alpha"), 204)
    b = V2Builder()
    ts2 = b.series({"__name__": f"{m}_rw2_total", "job": f"{m}_rw2"}, [(2.0, now_ms - 1000)])
    ts2.exemplars.add(labels_refs=[b.ref("trace_id"), b.ref(m)], value=2.0, timestamp=now_ms - 1000)
    ts2.metadata.type = 1
    ts2.metadata.help_ref = b.ref(f"help of {m}")
    ok(requests.post(s.http("/api/v1/write"), data=b.body(), timeout=HTTP_TIMEOUT_S, headers={
        "Content-Encoding": "snappy", "Content-Type": V2_CT, "X-Prometheus-Remote-Write-Version": "2.0.0",
        "X-Scope-OrgID": "alpha"}), 204)
    # Loki push, JSON and snappy protobuf.
    line = f'level=info {m}_key=1 msg="hello {m}"'
    push = {"streams": [{"stream": {"service_name": f"{m}_lokijson", "job": m}, "values": [[str(now), line]]}]}
    ok(s.post("/loki/api/v1/push", tenant="alpha", json=push), 204)
    pb = encode_push([(f'{{service_name="{m}_lokipb", {m}_stream="x"}}', [(now, line, {"marker": m})])])
    ok(s.post("/loki/api/v1/push", tenant="alpha", data=snappy(pb), headers=LOKI_PB), 204)
    # Lines: enough of one template for the pattern APIs.
    lines = "".join(f'level=warn {m}_key={i} msg="request {i} served for {m}"\n' for i in range(40))
    ok(s.post(f"/api/v1/logs?service={m}_lines", tenant="alpha", data=lines.encode()))
    # Rules through the ruler API: a recording rule, a firing alert, and what alpha's
    # rules see of the probe's metrics (beta has the same rule, below).
    group = (f"name: {m}_group\ninterval: 1s\nrules:\n  - record: {m}:recorded\n    expr: vector(1)\n"
             f"  - alert: {m}Alert\n    expr: vector(1)\n    annotations:\n      summary: hello {m}\n"
             '  - record: seen:probe_metrics\n    expr: count({__name__=~"probe.+"}) or vector(0)\n')
    ok(s.post(f"/config/v1/rules/{m}_ns", tenant="alpha", data=group), 202)
    # Alertmanager API: an alert and a silence of it; a dashboard.
    alert = {"labels": {"alertname": f"{m}Posted", "marker": m}, "annotations": {"summary": m}}
    ok(s.post("/api/v2/alerts", tenant="alpha", json=[alert]))
    t = int(time.time())
    silence = {"matchers": [{"name": "alertname", "value": f"{m}Posted", "isRegex": False, "isEqual": True}],
               "startsAt": rfc3339(t), "endsAt": rfc3339(t + 7200), "createdBy": m, "comment": f"quiet {m}"}
    silence_id = ok(s.post("/api/v2/silences", tenant="alpha", json=silence)).json()["silenceID"]
    board = {"uid": f"{m}-dash", "title": f"{m} board", "schemaVersion": 39, "panels": []}
    ok(s.post("/api/v1/dashboards", tenant="alpha", json={"dashboard": board}))
    return {"trace_id": trace_id, "silence_id": silence_id}


def write_beta(s: OspreyServer) -> None:
    """Beta's own data: its answers are not empty only because it has none."""
    now = time.time_ns()
    ok(s.post("/api/v1/logs?service=betasvc", tenant="beta", data=b'level=info msg="beta was here"\n'))
    things = rw1("beta_things_total", {"job": "betajob"}, 5.0, now // MS - 1000)
    ok(post_write(s, things.SerializeToString(), tenant="beta"), 204)
    tid = secrets.token_hex(16)
    body = traces_request("betasvc", [span(tid, secrets.token_hex(8), "beta op", now - 3_000 * MS, now - 2_000 * MS, kind="SERVER")])
    assert_accepted(post_otlp(s, "traces", body, tenant="beta"))
    # The same probing rule as alpha's: rules evaluate in their own tenant.
    group = ('name: crosscheck\ninterval: 1s\nrules:\n'
             '  - record: seen:probe_metrics\n    expr: count({__name__=~"probe.+"}) or vector(0)\n')
    ok(s.post("/config/v1/rules/checks", tenant="beta", data=group), 202)


def rw1(name: str, labels: dict[str, str], value: float, ts_ms: int) -> Any:
    """A remote_write 1.0 WriteRequest of one series with one sample."""
    req = message_classes("prometheus", REMOTE_WRITE_V1)["WriteRequest"]()
    ts = req.timeseries.add()
    for k, v in sorted({"__name__": name, **labels}.items()):
        ts.labels.add(name=k, value=v)
    ts.samples.add(value=value, timestamp=ts_ms)
    return req


@pytest.fixture(scope="module")
def probe(osprey_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    """One server for the module: the scrape target, beta's data, then alpha's through
    every surface, and the asynchronous products (scrape, rules, span metrics, service
    graph, firing alert) waited for as alpha."""
    tmp = tmp_path_factory.mktemp("tenancy")
    m = "probe" + secrets.token_hex(6)
    target = Target()
    target.body = f"# HELP {m}_scraped help of {m}\n# TYPE {m}_scraped gauge\n{m}_scraped 1\n"
    for d in ("data", "rules.d"):
        (tmp / d).mkdir()
    (tmp / "alertmanager.yml").write_text("route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n")
    (tmp / "osprey.toml").write_text(
        '[rules]\ntenant_dir = "rules.d"\nevaluation_interval = "1s"\n'
        '[alerting]\nalertmanager_config = "alertmanager.yml"\n'
        '[spanmetrics]\ninterval = "1s"\ngraph_wait = "1s"\n'
        '[scrape]\nscrape_interval = "500ms"\nscrape_timeout = "400ms"\ntenant = "alpha"\n'
        f'[[scrape.jobs]]\njob_name = "{m}_job"\ntargets = ["{target.address}"]\n'
    )
    server = OspreyServer(osprey_bin, tmp / "data", tmp, name="osprey-tenancy",
                          args=["--config", str(tmp / "osprey.toml")])
    server.start()
    try:
        write_beta(server)
        ids = write_alpha(server, m)
        for q in (f"{m}_scraped", f"{m}:recorded", 'traces_span_metrics_calls_total{service_name=~"probe.+"}',
                  'traces_service_graph_request_total{client=~"probe.+"}', "seen:probe_metrics > 0"):
            wait_until(lambda: server.prom_query(q, tenant="alpha"), timeout=30, message=f"{q} as alpha")
        wait_until(lambda: server.prom_query("seen:probe_metrics", tenant="beta"), timeout=30, message="beta's rule")
        wait_until(lambda: f"{m}Alert" in server.get("/api/v2/alerts", tenant="alpha").text, timeout=30,
                   message="alpha's alert firing")
        yield Probe(server, m, ids["trace_id"], ids["silence_id"], f"{m}-dash", f"{m}_ns", tmp)
        server.stop()
    finally:
        server.kill()
        target.close()


# --- what alpha wrote is there ------------------------------------------------------------


def test_every_write_landed_for_alpha(probe: Probe) -> None:
    s, m = probe.server, probe.m
    vias = ["grpc", "hpb", "hpbapi", "json", "jsonapi"]
    services = {r[0] for r in s.sql(f"SELECT DISTINCT service FROM logs WHERE service LIKE '{m}%'", "alpha")}
    assert services == {f"{m}_{v}" for v in [*vias, "lokijson", "lokipb", "lines"]}, services
    services = {r[0] for r in s.sql(f"SELECT DISTINCT service FROM spans WHERE service LIKE '{m}%'", "alpha")}
    assert services == {f"{m}_{v}" for v in [*vias, "json_srv"]}, services
    metrics = {r[0] for r in s.sql(f"SELECT DISTINCT metric FROM metrics WHERE metric LIKE '{m}%'", "alpha")}
    assert metrics >= {f"{m}_{v}_events_total" for v in vias} | {f"{m}_rw1_total", f"{m}_rw2_total", f"{m}_scraped", f"{m}:recorded"}, metrics
    assert s.count("logs", f"service = '{m}_lines'", "alpha") == 40
    assert float(s.prom_query("seen:probe_metrics", tenant="alpha")[0]["value"][1]) > 0
    r = ok(s.get("/api/v1/query_exemplars", tenant="alpha", params={"query": f'{{__name__=~"{m}_rw.*"}}', "start": time.time() - 600}))
    assert sorted(e["exemplars"][0]["labels"]["trace_id"] for e in r.json()["data"]) == [m, m], r.text
    assert f"{m}Posted" in ok(s.get("/api/v2/alerts", tenant="alpha")).text
    assert ok(s.get(f"/api/v2/silence/{probe.silence_id}", tenant="alpha")).json()["comment"] == f"quiet {m}"
    assert ok(s.get(f"/api/v1/dashboards/{probe.dashboard}", tenant="alpha")).json()["data"]["title"] == f"{m} board"
    assert (probe.tmp / "rules.d" / "alpha" / f"{probe.rule_ns}.yml").is_file()


# --- every query surface, as alpha (finds it) and as the readers (do not) -------------------


def surfaces(p: Probe) -> list[tuple[str, dict[str, Any]]]:
    """Reads that name no part of the marker, so an answer that holds it leaked it."""
    now = time.time()
    start, end = now - 3600, now + 60
    ns = {"start": str(int(start * 1e9)), "end": str(int(end * 1e9))}
    every_stream = '{service_name=~".+"}'
    every_series = '{__name__=~".+"}'
    end_ms = str(int(end * 1000))
    return [
        ("/api/v1/query", {"query": every_series}),
        ("/api/v1/query_range", {"query": every_series, "start": start, "end": now, "step": "60"}),
        ("/api/v1/series", {"match[]": every_series, "start": start, "end": end}),
        *((path, {}) for path in ("/api/v1/labels", "/api/v1/label/__name__/values", "/api/v1/label/job/values",
                                  "/api/v1/metadata")),
        ("/api/v1/query_exemplars", {"query": every_series, "start": start, "end": end}),
        ("/loki/api/v1/query_range", {"query": every_stream, "limit": "5000", **ns}),
        ("/loki/api/v1/query_range", {"query": f"sum by (service_name) (count_over_time({every_stream}[5m]))", "step": "60", **ns}),
        ("/loki/api/v1/query", {"query": f"sum by (service_name) (count_over_time({every_stream}[1h]))"}),
        ("/loki/api/v1/labels", ns),
        ("/loki/api/v1/label/service_name/values", ns),
        ("/loki/api/v1/series", {"match[]": every_stream, **ns}),
        ("/loki/api/v1/index/volume", {"query": every_stream, **ns}),
        ("/loki/api/v1/index/volume_range", {"query": every_stream, "step": "60", **ns}),
        ("/loki/api/v1/detected_fields", {"query": every_stream, **ns}),
        ("/loki/api/v1/detected_field/msg/values", {"query": every_stream, **ns}),
        ("/loki/api/v1/detected_labels", {"query": every_stream, **ns}),
        # Patterns hide the variable parts (the marker too): alpha's template is the needle.
        ("/loki/api/v1/patterns", {"query": every_stream, "step": "60s", **ns, "needle": "served for"}),
        ("/api/v1/logs/search", {"query": "", "limit": "1000", "start": start, "end": end}),
        ("/api/v1/logs/histogram", {"query": "", "by": "service", "start": start, "end": end}),
        ("/api/v1/logs/fields", {"query": "", "start": start, "end": end}),
        ("/api/v1/logs/patterns", {"query": "", "start": start, "end": end}),
        ("/api/dependencies", {"endTs": end_ms, "lookback": "3600000"}),
        *((path, {}) for path in ("/api/services", "/api/v3/services", "/api/v1/rules", "/api/v1/alerts",
                                  "/api/v1/alerts/history", "/api/v2/alerts", "/api/v2/alerts/groups",
                                  "/api/v2/silences", "/api/v1/dashboards")),
    ]


def named(p: Probe) -> list[tuple[str, dict[str, Any], str]]:
    """Requests that name alpha's things (a service, an id): (path, params, what alpha's answer
    has), answered to the readers with nothing (an empty list or 404)."""
    m, now_ms = p.m, int(time.time() * 1000)
    svc = f"{m}_json"
    window = {"start": str((now_ms - 3_600_000) * 1000), "end": str((now_ms + 60_000) * 1000)}
    return [
        (f"/api/traces/{p.trace_id}", {}, "data"),
        (f"/api/v3/traces/{p.trace_id}", {}, "result"),
        ("/api/traces", {"service": svc, **window}, "data"),
        ("/api/v1/traces/search", {"service": svc, **window}, "data.traces"),
        (f"/api/services/{svc}/operations", {}, "data"),
        ("/api/operations", {"service": svc}, "data"),
        ("/api/v3/operations", {"service": svc}, "operations"),
        ("/api/v3/traces", {"query.serviceName": svc, "query.startTimeMin": rfc3339(now_ms // 1000 - 3600),
                            "query.startTimeMax": rfc3339(now_ms // 1000 + 60)}, "result"),
        ("/api/metrics/calls", {"service": svc, "endTs": str(now_ms + 60_000), "lookback": "3600000", "step": "60000",
                                "ratePer": "600000", "spanKind": "client"}, "metrics"),
        ("/api/metrics/latencies", {"service": svc, "endTs": str(now_ms + 60_000), "lookback": "3600000", "step": "60000",
                                    "ratePer": "600000", "spanKind": "client", "quantile": "0.95"}, "metrics"),
        (f"/api/v2/silence/{p.silence_id}", {}, "id"),
        (f"/api/v1/dashboards/{p.dashboard}", {}, "data"),
        (f"/api/v1/dashboards/{p.dashboard}/versions", {}, "data"),
        (f"/api/v1/dashboards/{p.dashboard}/versions/1", {}, "data"),
    ]


def part(body: Any, key: str) -> Any:
    """`key` ("a.b": nested) of a JSON answer."""
    for k in key.split("."):
        body = body.get(k) if isinstance(body, dict) else body
    return body


# The read APIs that take their parameters as a form too.
POSTABLE = {"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/query_exemplars",
            "/loki/api/v1/query_range", "/loki/api/v1/query"}


def ask(s: OspreyServer, method: str, path: str, tenant: str | None, params: dict[str, Any]) -> requests.Response:
    """A read that must answer 200: GET with a query string or POST with a form."""
    form = {"params": params} if method == "GET" else {"data": params}
    r = requests.request(method, s.http(path), headers=tenant_headers(tenant), timeout=HTTP_TIMEOUT_S, **form)
    assert r.status_code == 200, f"{method} {path} as {tenant}: {r.status_code} {r.text[:500]}"
    return r


def sweep(p: Probe, reader: str | None) -> int:
    """Reads every query surface as alpha and as `reader`; returns the reads made."""
    s, m = p.server, p.m
    reads = 0
    for path, params in surfaces(p):
        needle = params.pop("needle", m)
        for method in ("GET", "POST") if path in POSTABLE else ("GET",):
            mine = ask(s, method, path, "alpha", params)
            assert needle in mine.text, f"alpha does not find its own {needle} in {method} {path}: the probe tests nothing\n{mine.text[:500]}"
            theirs = ask(s, method, path, reader, params)
            reads += 1
            assert needle not in theirs.text and m not in theirs.text, f"LEAK: {method} {path} as {reader}:\n{theirs.text[:2000]}"
    for path, params, key in named(p):
        mine = ok(s.get(path, tenant="alpha", params=params))
        assert part(mine.json(), key), f"alpha's {path} is empty: the probe tests nothing\n{mine.text[:500]}"
        theirs = s.get(path, tenant=reader, params=params)
        assert theirs.status_code in (200, 404), f"{path} as {reader}: {theirs.status_code} {theirs.text[:500]}"
        if theirs.status_code == 200:
            assert not part(theirs.json(), key), f"LEAK: {path} as {reader}:\n{theirs.text[:2000]}"
        reads += 1
    return reads
    # Counts that hold no marker: zero for the reader, not for alpha.
    stats = {"query": '{service_name=~"probe.+"}', "start": str(int((time.time() - 3600) * 1e9))}
    assert ok(s.get("/loki/api/v1/index/stats", tenant="alpha", params=stats)).json()["entries"] > 0
    assert ok(s.get("/loki/api/v1/index/stats", tenant=reader, params=stats)).json() == {
        "streams": 0, "chunks": 0, "entries": 0, "bytes": 0}
    # The readers' own data answers (beta's), so the empty answers are not a broken read.
    if reader == "beta":
        assert "beta was here" in ok(s.get("/api/v1/logs/search", tenant="beta", params={"query": ""})).text
        assert ok(s.get("/api/services", tenant="beta")).json()["data"] == ["betasvc"]


@pytest.mark.parametrize("reader", READERS, ids=["beta", "default"])
def test_query_surfaces_show_nothing_of_alpha(probe: Probe, reader: str | None) -> None:
    reads = sweep(probe, reader)
    # Again with alpha's rows in files (the first sweep read them in memory).
    ok(probe.server.post("/api/v1/admin/flush", tenant="alpha"))
    reads += sweep(probe, reader)
    record_figure(f"reads as {reader or 'default'} that found nothing of alpha", reads, "requests")


@pytest.mark.parametrize("reader", READERS, ids=["beta", "default"])
def test_sql_over_every_table_shows_nothing_of_alpha(probe: Probe, reader: str | None) -> None:
    s, m = probe.server, probe.m
    for table, where in (("logs", "service"), ("spans", "service"), ("metrics", "metric"), ("series", "metric")):
        assert s.count(table, f"{where} LIKE 'probe%'", "alpha") > 0, table
        assert s.count(table, f"{where} LIKE 'probe%'", reader) == 0, f"LEAK: {table} as {reader}"
        r = ok(s.sql_response(f"SELECT * FROM {table}", reader))
        assert m not in r.text, f"LEAK: SELECT * FROM {table} as {reader}:\n{r.text[:2000]}"
    ids = ", ".join(str(r[0]) for r in s.sql(f"SELECT series_id FROM series WHERE metric LIKE '{m}%'", "alpha"))
    assert s.count("samples", f"series_id IN ({ids})", "alpha") > 0
    assert s.count("samples", f"series_id IN ({ids})", reader) == 0, f"LEAK: alpha's samples as {reader}"
    # The probing recording rule saw the probe's metrics in alpha's tenant only.
    assert [x["value"][1] for x in s.prom_query("seen:probe_metrics", tenant="beta")] == ["0"]


def test_sql_tricks_find_nothing_of_alpha(probe: Probe) -> None:
    s, m = probe.server, probe.m
    ok(s.post("/api/v1/admin/flush", tenant="alpha"))
    files = [f for f in sorted((probe.tmp / "data").rglob("*.parquet")) if "alpha" in f.parts]
    assert files, "alpha has no data files to point at"
    f, d = files[0], files[0].parent.parent
    port = s.http_port
    tricks = [
        "SELECT * FROM information_schema.tables", "SELECT * FROM information_schema.columns",
        "SELECT * FROM datafusion.information_schema.tables", "SHOW TABLES", "SHOW COLUMNS FROM logs", "SHOW ALL",
        "SELECT * FROM generate_series(1, 3)", "SELECT * FROM range(3)",
        f"SELECT * FROM read_parquet('{f}')", f"SELECT * FROM read_csv('{f}')", f"SELECT * FROM read_json('{f}')",
        f"SELECT * FROM parquet_metadata('{f}')",
        f"SELECT * FROM '{f}'", f'SELECT * FROM "{f}"', f"SELECT * FROM '{d}/'", f"SELECT * FROM 'file://{f}'",
        "SELECT * FROM 'osprey://data/tables/alpha/logs/'", f"SELECT * FROM 'http://127.0.0.1:{port}/api/v1/logs/search'",
        "SELECT 1; SELECT * FROM logs", "SELECT 1 -- ; SELECT * FROM logs", "SELECT 1 /* ; */; SELECT * FROM logs",
        "/* alpha */ SELECT * FROM logs", "SELECT * FROM logs UNION ALL SELECT * FROM logs",
        "SELECT body FROM logs UNION ALL SELECT name FROM spans UNION ALL SELECT metric FROM metrics",
        "WITH x AS (SELECT * FROM logs) SELECT * FROM x", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{d}/'", f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{f}'",
        "CREATE VIEW v AS SELECT * FROM logs", "CREATE TABLE t AS SELECT * FROM logs",
        f"COPY (SELECT * FROM logs) TO '{probe.tmp}/copied.csv'", f"COPY logs TO '{probe.tmp}/copied.parquet'",
        "INSERT INTO logs SELECT * FROM logs", "DROP TABLE logs", "SET datafusion.catalog.information_schema = true",
        "SET datafusion.execution.listing_table_ignore_subdirectory = false", "PREPARE q AS SELECT * FROM logs",
        "SELECT * FROM alpha.logs", 'SELECT * FROM "alpha".logs', 'SELECT * FROM "alpha"."logs"', "SELECT * FROM datafusion.alpha.logs",
        "SELECT * FROM alpha.public.logs", "SELECT * FROM datafusion.public.logs", "SELECT * FROM tables", "SELECT * FROM alpha",
        "EXPLAIN SELECT * FROM logs", "EXPLAIN ANALYZE SELECT * FROM logs", "EXPLAIN VERBOSE SELECT * FROM metrics", "DESCRIBE logs",
    ]
    for reader in READERS:
        for q in tricks:
            r = s.sql_response(q, reader)
            assert r.status_code < 500, f"{q!r} as {reader}: {r.status_code} {r.text[:500]}"
            assert m not in r.text, f"LEAK: {q!r} as {reader}:\n{r.text[:2000]}"
            # Nor alpha's files by name (EXPLAIN lists the files a scan reads).
            assert not any(x.name in r.text and x.name not in q for x in files), f"LEAK: {q!r} as {reader}:\n{r.text[:2000]}"
            if r.status_code != 200:
                assert r.json()["error"], r.text
    # Nothing was written by COPY, nothing registered by CREATE.
    assert not list(probe.tmp.glob("copied*"))
    assert s.sql_response("SELECT * FROM v", "beta").status_code == 400
    # The same forms as alpha do show alpha's rows and files.
    assert m in ok(s.sql_response("WITH x AS (SELECT * FROM logs) SELECT * FROM x", "alpha")).text
    assert any(x.name in ok(s.sql_response("EXPLAIN SELECT * FROM logs", "alpha")).text for x in files)


# Valid ids near alpha's (a prefix, a case, suffixes), and ids that are paths, lists or
# wildcards (refused: 400).
NEAR = ["alph", "a", "Alpha", "ALPHA", "alpha.", "alpha_", "alpha-x", "alpha.logs"]
BAD = ["beta|alpha", "alpha|beta", "alpha,beta", "../alpha", "beta/../alpha", "alpha/", "./alpha", ".", "*", "alpha beta"]


def test_tenant_ids_near_alpha_find_nothing(probe: Probe) -> None:
    s, m = probe.server, probe.m
    reads = [
        ("POST", "/api/v1/sql", {"json": {"query": "SELECT body FROM logs"}}),
        ("GET", "/api/v1/query", {"params": {"query": '{__name__=~".+"}'}}),
        ("GET", "/api/v1/logs/search", {"params": {"query": ""}}),
        ("GET", "/loki/api/v1/query_range", {"params": {"query": '{service_name=~".+"}'}}),
        ("GET", "/api/services", {}), ("GET", "/api/v1/rules", {}), ("GET", "/api/v2/silences", {}),
        ("GET", "/api/v1/dashboards", {}), ("GET", "/api/v1/status/storage", {}),
    ]
    for tenant in NEAR + BAD:
        for method, path, kw in reads:
            r = requests.request(method, s.http(path), headers={"X-Scope-OrgID": tenant}, timeout=HTTP_TIMEOUT_S, **kw)
            assert r.status_code == (200 if tenant in NEAR else 400), f"{method} {path} as {tenant!r}: {r.status_code} {r.text[:500]}"
            assert m not in r.text and '"alpha"' not in r.text, f"LEAK: {method} {path} as {tenant!r}:\n{r.text[:2000]}"


# --- live tails --------------------------------------------------------------------------


def until(events: Any, text: str, timeout: float = 15.0) -> list[str]:
    """The SSE events (as JSON text) up to the first one holding `text`, which must come."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(text in x for x in got):
        assert time.monotonic() < deadline, f"no tail event with {text!r} within {timeout}s: {got}"
        got += [json.dumps(d) for _, d in collect(events, 1, timeout=0.5)]
    return got


@pytest.mark.parametrize("reader", READERS, ids=["beta", "default"])
def test_live_tails_show_nothing_of_alpha(probe: Probe, reader: str | None) -> None:
    """The SSE tail and Loki's WebSocket tail of the reader, open while alpha writes: they
    get the reader's own line, which follows alpha's, and nothing of alpha's."""
    s, m = probe.server, probe.m
    sentinel = f"sentinel{secrets.token_hex(4)}"
    _, their_events = open_tail(s, {"query": ""}, tenant=reader)
    _, my_events = open_tail(s, {"query": ""}, tenant="alpha")
    q = urllib.parse.quote('{service_name=~".+"}', safe="")
    start = time.time_ns() - 3600 * 10**9
    url = s.http("/loki/api/v1/tail").replace("http://", "ws://") + f"?query={q}&start={start}&limit=1000"
    headers = [f"X-Scope-OrgID: {reader}"] if reader else []
    ws_theirs = websocket.create_connection(url, timeout=15, header=headers)
    ws_mine = websocket.create_connection(url, timeout=15, header=["X-Scope-OrgID: alpha"])
    try:
        time.sleep(0.3)  # the subscriptions are taken when the responses start
        ok(s.post(f"/api/v1/logs?service={m}_tail", tenant="alpha", data=f"live {m}\n".encode()))
        ok(s.post("/api/v1/logs?service=sentinels", tenant=reader, data=f"{sentinel}\n".encode()))
        got = until(their_events, sentinel)
        assert not any(m in x for x in got), f"LEAK: the SSE tail of {reader} got alpha's record: {got}"
        until(my_events, f"live {m}")

        frames: list[str] = []
        while not any(sentinel in x for x in frames):
            frames.append(ws_theirs.recv())  # times out (fails) after 15 s without the sentinel
        assert not any(m in x for x in frames), f"LEAK: the Loki tail of {reader} got alpha's lines: {frames}"
        assert m in ws_mine.recv(), "alpha's Loki tail history holds nothing of alpha's"
    finally:
        # The Loki tail answers a close; the SSE streams stay open until the server
        # stops (as in test_tail.py).
        ws_theirs.close()
        ws_mine.close()


# --- writes keyed like alpha's, admin and deletes as beta ---------------------------------


def test_same_series_and_trace_ids_in_two_tenants_stay_apart(probe: Probe) -> None:
    """A series with alpha's labels and time, spans with alpha's trace ids, written as beta:
    beta's own (not dropped as a retry, refused as a conflict, paired or merged with alpha's)."""
    s = probe.server
    now_ms = int(time.time() * 1000) - 500
    labels = {"job": "shared", "probe_run": probe.m[5:]}  # no marker: beta's answers stay clean
    # Beta sends alpha's newest sample of one series, and another value at its time of another.
    for name, tenant, value in (("shared_gauge", "alpha", 1.0), ("shared_gauge", "beta", 1.0),
                                ("shared_other", "alpha", 1.0), ("shared_other", "beta", 2.0)):
        ok(post_write(s, rw1(name, labels, value, now_ms).SerializeToString(), tenant=tenant), 204)
    for tenant, other in (("alpha", 1.0), ("beta", 2.0)):
        assert s.count("metrics", "metric = 'shared_gauge'", tenant) == 1, tenant
        assert [float(x["value"][1]) for x in s.prom_query("shared_other", at=now_ms / 1000, tenant=tenant)] == [other]
    # A server span answering alpha's client span (which waits for it in the service
    # graph), beside a pair of beta's own: the graph pairs beta's, never across tenants.
    t0, a_tid, a_client, b_tid, b_client = time.time_ns() - 1_000 * MS, *(secrets.token_hex(n) for n in (16, 8, 16, 8))
    lone = traces_request(f"{probe.m}_lone", [span(a_tid, a_client, "lone call", t0, t0 + 5 * MS, kind="CLIENT")])
    assert_accepted(post_otlp(s, "traces", lone, tenant="alpha"))
    answer = traces_request("betasvc", [
        span(a_tid, secrets.token_hex(8), "answer", t0 + MS, t0 + 4 * MS, kind="SERVER", parent_span_id=a_client),
        span(b_tid, b_client, "beta call", t0, t0 + 5 * MS, kind="CLIENT")])
    answer["resourceSpans"] += traces_request("betadb", [
        span(b_tid, secrets.token_hex(8), "beta serve", t0 + MS, t0 + 4 * MS, kind="SERVER", parent_span_id=b_client)])["resourceSpans"]
    assert_accepted(post_otlp(s, "traces", answer, tenant="beta"))

    def edges(tenant: str) -> set[tuple[str, str]]:
        return {(x["metric"]["client"], x["metric"]["server"])
                for x in s.prom_query("traces_service_graph_request_total", tenant=tenant)}

    wait_until(lambda: ("betasvc", "betadb") in edges("beta"), timeout=15, message="beta's own edge")
    assert not any(probe.m in c + v for c, v in edges("beta")), edges("beta")
    assert not any("beta" in c + v for c, v in edges("alpha")), edges("alpha")

    ok(s.get(f"/api/traces/{probe.trace_id}", tenant="beta"), 404)
    body = traces_request("betasvc", [span(probe.trace_id, secrets.token_hex(8), "beta borrows an id",
                                           time.time_ns() - 2_000 * MS, time.time_ns() - 1_000 * MS)])
    assert_accepted(post_otlp(s, "traces", body, tenant="beta"))
    r = ok(s.get(f"/api/traces/{probe.trace_id}", tenant="beta"))
    assert [sp["operationName"] for t in r.json()["data"] for sp in t["spans"]] == ["beta borrows an id"]
    r = ok(s.get(f"/api/traces/{probe.trace_id}", tenant="alpha"))
    assert sorted(sp["operationName"] for t in r.json()["data"] for sp in t["spans"]) == [
        f"{probe.m}_json call", f"{probe.m}_json serve"]


def counts(p: Probe) -> dict[str, int]:
    """Alpha's rows that nothing adds to meanwhile (the scrape and the rules do add samples)."""
    s, m = p.server, p.m
    return {"logs": s.count("logs", tenant="alpha"), "spans": s.count("spans", tenant="alpha"),
            "samples": s.count("metrics", f"metric LIKE '{m}%' AND metric NOT IN ('{m}_scraped', '{m}:recorded')", "alpha")}


def test_admin_and_deletes_as_beta_leave_alpha_alone(probe: Probe) -> None:
    s, m = probe.server, probe.m
    before = counts(probe)
    for path in ("/api/v1/admin/flush", "/api/v1/admin/compact?full=true"):
        for reader in READERS:
            ok(s.post(path, tenant=reader))
    assert counts(probe) == before
    for reader in READERS:
        st = ok(s.get("/api/v1/status/storage", tenant=reader)).json()["data"]
        assert all(p["tenant"] != "alpha" for p in st["partitions"]), st
        assert m not in json.dumps(st) and "alpha" not in json.dumps(st), st
    assert any(p["tenant"] == "alpha" for p in ok(s.get("/api/v1/status/storage", tenant="alpha")).json()["data"]["partitions"])

    # Dashboards: beta cannot change or delete alpha's; beta's own of the same uid is beta's.
    dash = f"/api/v1/dashboards/{probe.dashboard}"
    h = tenant_headers("beta")
    assert requests.delete(s.http(dash), headers=h, timeout=HTTP_TIMEOUT_S).status_code == 404
    r = requests.put(s.http(dash), headers=h, timeout=HTTP_TIMEOUT_S, json={"version": 1, "dashboard": {"title": "beta's"}})
    assert r.status_code == 404, r.text
    assert s.post(f"{dash}/versions/1/restore", tenant="beta").status_code == 404
    ok(s.post("/api/v1/dashboards", tenant="beta", json={"dashboard": {"uid": probe.dashboard, "title": "beta's"}}))
    ok(requests.delete(s.http(dash), headers=h, timeout=HTTP_TIMEOUT_S))
    assert ok(s.get(dash, tenant="alpha")).json()["data"]["title"] == f"{m} board"

    # Rule groups: deleting alpha's as beta is a 404; alpha's keeps evaluating.
    group = f"/config/v1/rules/{probe.rule_ns}/{m}_group"
    r = requests.delete(s.http(group), headers=h, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 404, r.text
    assert f"{m}_group" in ok(s.get("/api/v1/rules", tenant="alpha")).text

    # Silences: beta can neither update nor expire alpha's.
    sid = probe.silence_id
    t = int(time.time())
    update = {"id": sid, "matchers": [{"name": "alertname", "value": "x", "isRegex": False, "isEqual": True}],
              "startsAt": rfc3339(t), "endsAt": rfc3339(t + 60), "createdBy": "beta", "comment": "beta's"}
    r = s.post("/api/v2/silences", tenant="beta", json=update)
    assert r.status_code == 404, r.text
    r = requests.delete(s.http(f"/api/v2/silence/{sid}"), headers=h, timeout=HTTP_TIMEOUT_S)
    got = ok(s.get(f"/api/v2/silence/{sid}", tenant="alpha")).json()
    assert (got["status"]["state"], got["comment"]) == ("active", f"quiet {m}")
    # Expiring a silence the tenant does not have is a 404, as in Alertmanager (it was
    # a 500 before this probe).
    assert r.status_code == 404, f"DELETE /api/v2/silence/{{alpha's id}} as beta: {r.status_code} {r.text}"


def test_scrape_targets_are_per_tenant(probe: Probe) -> None:
    s, m = probe.server, probe.m
    assert m in ok(s.get("/api/v1/targets", tenant="alpha")).text
    for reader in READERS:
        r = ok(s.get("/api/v1/targets", tenant=reader))
        # Targets are the scraping tenant's (they were one list for every tenant before
        # this probe).
        assert m not in r.text, f"LEAK: /api/v1/targets as {reader}:\n{r.text[:1000]}"
