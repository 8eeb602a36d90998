"""RED metrics from spans without configuration (DESIGN §5): spans exported by the
OpenTelemetry Python SDK from several services (one TracerProvider per service.name,
context propagated between them) become `traces_span_metrics_*` series, read back with
PromQL and compared with a reference computed here from the very spans the SDK
exported (an in-memory exporter next to the OTLP one)."""

from __future__ import annotations

import math
import time
from collections import defaultdict

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from builders import assert_accepted, post_otlp
from harness import OspreyServer

MS = 1_000_000
BUCKETS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000]
KIND = {SpanKind.SERVER: "SPAN_KIND_SERVER", SpanKind.CLIENT: "SPAN_KIND_CLIENT", SpanKind.INTERNAL: "SPAN_KIND_INTERNAL"}
STATUS = {StatusCode.UNSET: "STATUS_CODE_UNSET", StatusCode.OK: "STATUS_CODE_OK", StatusCode.ERROR: "STATUS_CODE_ERROR"}
ENV = {
    "OSPREY_SPANMETRICS_INTERVAL": "1s",
    "OSPREY_SPANMETRICS_DIMENSIONS": '["http.route"]',
    "OSPREY_SPANMETRICS_GRAPH_WAIT": "2s",
}


def emit(server: OspreyServer, t0: int, tenant: str | None = None) -> list:
    """40 requests through frontend → cart → payments, with errors and varied latencies.
    Returns the SDK's finished spans."""
    memory = InMemorySpanExporter()
    providers = {}
    for svc in ("frontend", "cart", "payments"):
        p = TracerProvider(resource=Resource.create({"service.name": svc}))
        headers = {"X-Scope-OrgID": tenant} if tenant else None
        p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.otlp_http("/v1/traces"), headers=headers)))
        p.add_span_processor(SimpleSpanProcessor(memory))
        providers[svc] = p
    prop = TraceContextTextMapPropagator()
    try:
        for i in range(40):
            start = t0 + i * 100 * MS
            route = "/checkout" if i % 3 else "/cart"
            root = providers["frontend"].get_tracer("fe").start_span(
                f"GET {route}", kind=SpanKind.SERVER, start_time=start, attributes={"http.route": route}
            )
            call = providers["frontend"].get_tracer("fe").start_span(
                "POST cart", context=trace.set_span_in_context(root), kind=SpanKind.CLIENT, start_time=start + MS
            )
            carrier: dict[str, str] = {}
            prop.inject(carrier, context=trace.set_span_in_context(call))
            cart = providers["cart"].get_tracer("cart").start_span(
                "add item", context=prop.extract(carrier), kind=SpanKind.SERVER, start_time=start + 2 * MS
            )
            pay_ms = [1, 3, 7, 45, 120, 900, 1500, 20000][i % 8]
            pay = providers["payments"].get_tracer("pay").start_span(
                "charge", context=trace.set_span_in_context(cart), kind=SpanKind.INTERNAL, start_time=start + 3 * MS
            )
            if i % 5 == 0:
                pay.set_status(Status(StatusCode.ERROR, "declined"))
            elif i % 5 == 1:
                pay.set_status(Status(StatusCode.OK))
            pay.end(end_time=start + 3 * MS + pay_ms * MS)
            cart.end(end_time=start + 4 * MS + pay_ms * MS)
            call.end(end_time=start + 5 * MS + pay_ms * MS)
            root.end(end_time=start + 6 * MS + pay_ms * MS + (i % 4) * MS // 2)
        for p in providers.values():
            assert p.force_flush(10_000)
    finally:
        for p in providers.values():
            p.shutdown()
    return list(memory.get_finished_spans())


def reference(spans, weight_of=lambda s: 1.0) -> dict:
    ref: dict[tuple, dict] = defaultdict(lambda: {"calls": 0.0, "sum": 0.0, "buckets": [0.0] * (len(BUCKETS) + 1)})
    for s in spans:
        labels = {
            "service_name": s.resource.attributes["service.name"],
            "span_name": s.name,
            "span_kind": KIND[s.kind],
            "status_code": STATUS[s.status.status_code],
        }
        if "http.route" in (s.attributes or {}):
            labels["http_route"] = s.attributes["http.route"]
        key = tuple(sorted(labels.items()))
        ms = (s.end_time - s.start_time) / 1e6
        w = weight_of(s)
        r = ref[key]
        r["calls"] += w
        r["sum"] += ms * w
        idx = next((i for i, b in enumerate(BUCKETS) if ms <= b), len(BUCKETS))
        r["buckets"][idx] += w
    return ref


def series(server: OspreyServer, metric: str, tenant: str | None = None) -> dict[tuple, float]:
    out = {}
    for r in server.prom_query(metric, tenant=tenant):
        labels = {k: v for k, v in r["metric"].items() if k != "__name__"}
        out[tuple(sorted(labels.items()))] = float(r["value"][1])
    return out


def check(server: OspreyServer, ref: dict, tenant: str | None = None) -> list[str]:
    """Differences between the stored series and the reference (empty when equal)."""
    problems = []
    calls = series(server, "traces_span_metrics_calls_total", tenant)
    counts = series(server, "traces_span_metrics_duration_milliseconds_count", tenant)
    sums = series(server, "traces_span_metrics_duration_milliseconds_sum", tenant)
    buckets = series(server, "traces_span_metrics_duration_milliseconds_bucket", tenant)
    if set(calls) != set(ref):
        problems.append(f"series differ: extra {set(calls) - set(ref)}, missing {set(ref) - set(calls)}")
        return problems
    for key, r in ref.items():
        if calls[key] != r["calls"] or counts.get(key) != r["calls"]:
            problems.append(f"{key}: calls {calls[key]} / count {counts.get(key)} != {r['calls']}")
        if not math.isclose(sums.get(key, math.nan), r["sum"], rel_tol=1e-9):
            problems.append(f"{key}: sum {sums.get(key)} != {r['sum']}")
        cumulative = 0.0
        for bound, n in zip([*map(str, BUCKETS), "+Inf"], r["buckets"]):
            cumulative += n
            got = buckets.get(tuple(sorted((*key, ("le", bound)))))
            if got != cumulative:
                problems.append(f"{key} le={bound}: {got} != {cumulative}")
    return problems


def wait_for(server: OspreyServer, ref: dict, tenant: str | None = None) -> None:
    deadline = time.monotonic() + 20
    problems: list[str] = ["not checked"]
    while time.monotonic() < deadline:
        problems = check(server, ref, tenant)
        if not problems:
            return
        time.sleep(0.3)
    pytest.fail("RED series differ from the reference:\n" + "\n".join(problems[:20]))


def test_red_series_match_the_spans(osprey_factory) -> None:
    server = osprey_factory(env=ENV)
    t0 = (time.time_ns() // 1000) * 1000 - 30_000 * MS
    spans = emit(server, t0)
    assert len(spans) == 160
    ref = reference(spans)
    assert len(ref) == 7  # 2 routes, 1 client, 1 cart, 3 payment statuses
    wait_for(server, ref)

    # Exemplars link latency buckets to traces: every duration bucket series a span
    # fell in has one, the newest such span of that series and bucket.
    bounds = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000, math.inf]
    exported = {(format(s.context.trace_id, "032x"), format(s.context.span_id, "016x")): s for s in spans}
    r = server.get(
        "/api/v1/query_exemplars",
        params={"query": "traces_span_metrics_duration_milliseconds_bucket", "start": t0 / 1e9 - 60, "end": time.time() + 60},
    )
    assert r.status_code == 200, r.text
    groups = r.json()["data"]
    want_buckets = set()
    for s in spans:
        ms = (s.end_time - s.start_time) / 1e6
        le = next(b for b in bounds if ms <= b)
        want_buckets.add((s.resource.attributes["service.name"], s.name, "+Inf" if le == math.inf else f"{le:g}"))
    got_buckets = set()
    for g in groups:
        labels = g["seriesLabels"]
        assert labels["__name__"] == "traces_span_metrics_duration_milliseconds_bucket"
        got_buckets.add((labels["service_name"], labels["span_name"], labels["le"]))
        for e in g["exemplars"]:
            span = exported[(e["labels"]["trace_id"], e["labels"]["span_id"])]
            ms = (span.end_time - span.start_time) / 1e6
            assert float(e["value"]) == pytest.approx(ms)
            assert e["timestamp"] == pytest.approx(span.end_time / 1e9, abs=0.001)
            upper = math.inf if labels["le"] == "+Inf" else float(labels["le"])
            assert ms <= upper and ms > max([b for b in bounds if b < upper], default=-1)
    assert got_buckets == want_buckets

    # A sampled span counts for its adjusted count (tracestate ot=th:8 → p = 1/2), and
    # counters accumulate: the reference grows by 2 calls of one series.
    sampled = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "traceState": "ot=th:8",
        "name": "charge",
        "kind": 1,
        "startTimeUnixNano": str(t0),
        "endTimeUnixNano": str(t0 + 3 * MS),
    }
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "payments"}}]},
                "scopeSpans": [{"spans": [sampled]}],
            }
        ]
    }
    assert_accepted(post_otlp(server, "traces", body))
    key = tuple(
        sorted(
            {
                "service_name": "payments",
                "span_name": "charge",
                "span_kind": "SPAN_KIND_INTERNAL",
                "status_code": "STATUS_CODE_UNSET",
            }.items()
        )
    )
    ref[key]["calls"] += 2
    ref[key]["sum"] += 3.0 * 2
    ref[key]["buckets"][1] += 2  # 3 ms ≤ 4 ms
    wait_for(server, ref)

    # The service graph: frontend's CLIENT "POST cart" spans pair with cart's SERVER
    # "add item" children (sent by another provider, in other requests). cart → payments
    # is an INTERNAL span: a dependency, not a service-graph edge.
    edge = (("client", "frontend"), ("server", "cart"))  # connection_type "" is no label
    # frontend's root SERVER spans are called by something that sends no spans: the
    # virtual node "user".
    user_edge = (("client", "user"), ("connection_type", "virtual_node"), ("server", "frontend"))
    deadline = time.monotonic() + 20
    while series(server, "traces_service_graph_request_total").get(edge) != 40 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert series(server, "traces_service_graph_request_total") == {edge: 40.0, user_edge: 40.0}
    assert series(server, "traces_service_graph_request_failed_total") == {edge: 0.0, user_edge: 0.0}
    assert series(server, "traces_service_graph_request_client_seconds_count")[user_edge] == 0.0
    assert series(server, "traces_service_graph_request_server_seconds_count")[user_edge] == 40.0

    # A client span to a database that sends no spans: after graph_wait (2 s) without a
    # server half, an edge to the virtual node named by db.system.
    db_call = {
        "traceId": "6b8efff798038103d269b633813fc60c",
        "spanId": "fee19b7ec3c1b174",
        "parentSpanId": "aee19b7ec3c1b174",
        "name": "SELECT orders",
        "kind": 3,
        "startTimeUnixNano": str(t0),
        "endTimeUnixNano": str(t0 + 4 * MS),
        "attributes": [{"key": "db.system", "value": {"stringValue": "postgresql"}}],
    }
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
                "scopeSpans": [{"spans": [db_call]}],
            }
        ]
    }
    assert_accepted(post_otlp(server, "traces", body))
    db_key = tuple(
        sorted(
            {"service_name": "cart", "span_name": "SELECT orders", "span_kind": "SPAN_KIND_CLIENT", "status_code": "STATUS_CODE_UNSET"}.items()
        )
    )
    ref[db_key]["calls"] += 1
    ref[db_key]["sum"] += 4.0
    ref[db_key]["buckets"][1] += 1  # 4 ms ≤ 4 ms
    db_edge = (("client", "cart"), ("connection_type", "virtual_node"), ("server", "postgresql"))
    deadline = time.monotonic() + 20
    while series(server, "traces_service_graph_request_total").get(db_edge) != 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert series(server, "traces_service_graph_request_total")[db_edge] == 1.0
    assert series(server, "traces_service_graph_request_client_seconds_sum")[db_edge] == pytest.approx(0.004)
    by_id = {s.context.span_id: s for s in spans}
    client_s = sorted((s.end_time - s.start_time) / 1e9 for s in spans if s.name == "POST cart")
    server_s = sorted(
        (s.end_time - s.start_time) / 1e9 for s in spans if s.name == "add item" and by_id[s.parent.span_id].name == "POST cart"
    )
    sums = series(server, "traces_service_graph_request_client_seconds_sum")
    assert math.isclose(sums[edge], sum(client_s), rel_tol=1e-9)
    server_buckets = series(server, "traces_service_graph_request_server_seconds_bucket")
    for le in (0.002, 0.01, 0.1, 1.0, 2.0):
        assert server_buckets[tuple(sorted((*edge, ("le", f"{le:g}"))))] == sum(x <= le for x in server_s), le
    assert server_buckets[tuple(sorted((*edge, ("le", "+Inf"))))] == 40

    r = server.get("/api/dependencies", params={"endTs": str(time.time_ns() // MS), "lookback": "3600000"})
    assert r.status_code == 200, r.text
    # From the service graph (not a join of spans): its edges, virtual nodes included;
    # cart → payments is an INTERNAL span, no edge.
    deps = sorted((d["parent"], d["child"], d["callCount"]) for d in r.json()["data"])
    assert deps == [("cart", "postgresql", 1), ("frontend", "cart", 40), ("user", "frontend", 40)]
    # `service`: the edges it is on, either side.
    r = server.get("/api/dependencies", params={"endTs": str(time.time_ns() // MS), "lookback": "3600000", "service": "cart"})
    assert sorted((d["parent"], d["child"]) for d in r.json()["data"]) == [("cart", "postgresql"), ("frontend", "cart")]
    # A window before any edge was written counts nothing.
    r = server.get("/api/dependencies", params={"endTs": str(t0 // MS - 3_600_000), "lookback": "60000"})
    assert r.status_code == 200 and r.json()["data"] == [], r.text
    r = server.get("/api/dependencies", params={"endTs": "soon"})
    assert r.status_code == 400 and "endTs" in r.json()["errors"][0]["msg"], r.text

    # Another tenant's spans make that tenant's series only.
    other = emit(server, t0, tenant="team-b")
    wait_for(server, reference(other), tenant="team-b")
    wait_for(server, ref)


def monitor_reference(spans, kind: str, end_ms: int, lookback: int, step: int, rate_per: int, *, services, kinds, group, quantile=None):
    groups: dict[tuple, list] = defaultdict(list)
    for s in spans:
        svc = s.resource.attributes["service.name"]
        if KIND[s.kind] not in kinds or svc not in services:
            continue
        key = (svc, s.name) if group else (svc,)
        groups[key].append((s.start_time, s.end_time - s.start_time, s.status.status_code == StatusCode.ERROR))
    out = {}
    for key, items in groups.items():
        points = []
        for t in range(end_ms - lookback, end_ms + 1, step):
            w = [x for x in items if (t - rate_per) * MS < x[0] <= t * MS]
            if kind == "calls":
                points.append((t, len(w) / (rate_per / 1000)))
            elif w and kind == "errors":
                points.append((t, sum(x[2] for x in w) / len(w)))
            elif w:
                d = sorted(x[1] for x in w)
                points.append((t, d[max(1, math.ceil(quantile * len(d))) - 1] / 1e6))
        out[key] = points
    return out


def test_monitor_tab_metrics_match_the_spans(osprey: OspreyServer) -> None:
    from datetime import datetime, timezone

    t0 = (time.time_ns() // 1000) * 1000 - 30_000 * MS
    spans = emit(osprey, t0)
    end_ms = (t0 // MS // 1000 + 10) * 1000  # whole seconds, after every span
    common = {"endTs": str(end_ms), "lookback": "8000", "step": "1000", "ratePer": "3000"}
    cases = [
        ("calls", {"service": ["frontend", "cart"]}, {"SPAN_KIND_SERVER"}, False, None),
        ("errors", {"service": ["payments"], "spanKind": ["internal"], "groupByOperation": ["true"]}, {"SPAN_KIND_INTERNAL"}, True, None),
        ("latencies", {"service": ["frontend"], "spanKind": ["server", "client"], "quantile": ["0.95"]}, {"SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"}, False, 0.95),
        ("latencies", {"service": ["payments"], "spanKind": ["internal"], "quantile": ["0.5"], "groupByOperation": ["1"]}, {"SPAN_KIND_INTERNAL"}, True, 0.5),
    ]
    for kind, params, kinds, group, q in cases:
        query = [(k, v) for k, vs in params.items() for v in vs] + list(common.items())
        r = osprey.get(f"/api/metrics/{kind}", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["type"] == "GAUGE" and body["name"] == {"calls": "service_call_rate", "errors": "service_error_rate", "latencies": "service_latencies"}[kind]
        want = monitor_reference(
            spans, kind, end_ms, 8000, 1000, 3000, services=params["service"], kinds=kinds, group=group, quantile=q
        )
        got = {}
        for m in body["metrics"]:
            labels = {l["name"]: l["value"] for l in m["labels"]}
            key = (labels["service_name"], labels["operation"]) if group else (labels["service_name"],)
            got[key] = [
                (int(datetime.strptime(p["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() * 1000), p["gaugeValue"]["doubleValue"])
                for p in m["metricPoints"]
            ]
        assert set(got) == set(want), (kind, set(got), set(want))
        for key, points in want.items():
            assert [t for t, _ in got[key]] == [t for t, _ in points], (kind, key)
            for (_, a), (_, b) in zip(got[key], points):
                assert math.isclose(a, b, rel_tol=1e-9), (kind, key, a, b)
        assert any(v for pts in want.values() for _, v in pts), kind  # the window saw spans

    r = osprey.get("/api/metrics/calls")
    assert r.status_code == 400 and "please provide at least one service name" in r.json()["errors"][0]["msg"]
    r = osprey.get("/api/metrics/latencies", params={"service": "frontend"})
    assert r.status_code == 400 and "'quantile'" in r.json()["errors"][0]["msg"]
    r = osprey.get("/api/metrics/throughput", params={"service": "frontend"})
    assert r.status_code == 404
