"""Ingest through the official OpenTelemetry Python SDK, read back through every API.

Each test runs once per transport: OTLP/gRPC and OTLP/HTTP+protobuf, each
plain and gzip-compressed. The SDK exports asynchronously (batch processors)
or inside span.end() (simple processors); either way ``force_flush`` returns
only once the export call has finished, and every export result is recorded
and must be SUCCESS before anything is asserted.

Timestamps are set explicitly (microsecond-aligned, a few seconds in the
past) so stored values can be compared exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from harness import OspreyServer, rfc3339_to_ns

TRANSPORTS = ["grpc", "grpc+gzip", "http/protobuf", "http/protobuf+gzip"]
MS = 1_000_000  # nanoseconds per millisecond
EXPORT_TIMEOUT_S = 10


def base_time_ns() -> int:
    """A microsecond-aligned timestamp 10 s in the past (inside every lookback)."""
    return (time.time_ns() // 1000) * 1000 - 10_000 * MS


def hex_trace_id(trace_id: int) -> str:
    return format(trace_id, "032x")


def hex_span_id(span_id: int) -> str:
    return format(span_id, "016x")


# --- exporters ------------------------------------------------------------------------


@dataclass
class ExportRecorder:
    """Wraps exporters so every export() result is kept and can be asserted."""

    results: list[Any] = field(default_factory=list)

    def wrap(self, exporter):
        original = exporter.export

        def export(*args, **kwargs):
            result = original(*args, **kwargs)
            self.results.append(result)
            return result

        exporter.export = export  # instance attribute shadows the method
        return exporter

    def assert_all_succeeded(self, min_calls: int = 1, exact_calls: int | None = None) -> None:
        names = [getattr(r, "name", str(r)) for r in self.results]
        if exact_calls is not None:
            assert len(names) == exact_calls, f"expected {exact_calls} export calls, got {names}"
        assert len(names) >= min_calls, f"expected at least {min_calls} export calls, got {names}"
        assert all(n == "SUCCESS" for n in names), f"export results: {names}"


class Transport:
    """Creates SDK exporters for one transport, optionally with a tenant header."""

    def __init__(self, server: OspreyServer, name: str, tenant: str | None = None) -> None:
        self.server = server
        self.grpc = name.startswith("grpc")
        self.gzip = name.endswith("+gzip")
        self.tenant = tenant

    def _grpc_kwargs(self) -> dict[str, Any]:
        import grpc

        return {
            "endpoint": self.server.grpc_endpoint,
            "insecure": True,
            # gRPC metadata keys must be lowercase.
            "headers": {"x-scope-orgid": self.tenant} if self.tenant else None,
            "timeout": EXPORT_TIMEOUT_S,
            "compression": grpc.Compression.Gzip if self.gzip else grpc.Compression.NoCompression,
        }

    def _http_kwargs(self, path: str) -> dict[str, Any]:
        from opentelemetry.exporter.otlp.proto.http import Compression

        return {
            "endpoint": self.server.otlp_http(path),
            "headers": {"X-Scope-OrgID": self.tenant} if self.tenant else None,
            "timeout": EXPORT_TIMEOUT_S,
            "compression": Compression.Gzip if self.gzip else Compression.NoCompression,
        }

    def span_exporter(self):
        if self.grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(**self._grpc_kwargs())
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**self._http_kwargs("/v1/traces"))

    def log_exporter(self):
        if self.grpc:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

            return OTLPLogExporter(**self._grpc_kwargs())
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**self._http_kwargs("/v1/logs"))

    def metric_exporter(self):
        # Cumulative for every instrument, whatever the SDK's default.
        temporality = {
            kind: AggregationTemporality.CUMULATIVE
            for kind in (
                Counter,
                UpDownCounter,
                Histogram,
                ObservableCounter,
                ObservableUpDownCounter,
                ObservableGauge,
            )
        }
        if self.grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

            return OTLPMetricExporter(**self._grpc_kwargs(), preferred_temporality=temporality)
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(**self._http_kwargs("/v1/metrics"), preferred_temporality=temporality)


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


# --- traces -------------------------------------------------------------------------------


def emit_checkout_trace(tx: Transport, t0: int) -> dict[str, Any]:
    """Three nested spans over two services, context propagated via W3C headers.

    frontend: "GET /checkout" (SERVER, root)
      frontend: "POST /orders" (CLIENT)
        backend: "create order" (SERVER, status ERROR, typed attributes, 1 event)

    Returns the ids and timings the SDK used.
    """
    rec = ExportRecorder()
    frontend = TracerProvider(resource=Resource.create({"service.name": "frontend", "service.instance.id": "fe-1"}))
    frontend.add_span_processor(BatchSpanProcessor(rec.wrap(tx.span_exporter())))
    backend = TracerProvider(resource=Resource.create({"service.name": "backend"}))
    backend.add_span_processor(SimpleSpanProcessor(rec.wrap(tx.span_exporter())))
    try:
        fe_tracer = frontend.get_tracer("checkout.frontend", "1.2.3")
        root = fe_tracer.start_span(
            "GET /checkout", kind=SpanKind.SERVER, start_time=t0, attributes={"http.request.method": "GET"}
        )
        client = fe_tracer.start_span(
            "POST /orders", context=trace.set_span_in_context(root), kind=SpanKind.CLIENT, start_time=t0 + 5 * MS
        )
        # Cross the "network": inject into headers, extract on the backend side.
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(client))
        incoming = TraceContextTextMapPropagator().extract(carrier)
        handler = backend.get_tracer("checkout.backend").start_span(
            "create order",
            context=incoming,
            kind=SpanKind.SERVER,
            start_time=t0 + 10 * MS,
            attributes={"order.id": "A-17", "retry.count": 42, "cache.hit": True, "load.factor": 2.5},
        )
        handler.add_event("validation.failed", {"field": "card"}, timestamp=t0 + 20 * MS)
        handler.set_status(Status(StatusCode.ERROR, "card declined"))
        handler.end(end_time=t0 + 40 * MS)
        client.end(end_time=t0 + 45 * MS)
        root.end(end_time=t0 + 50 * MS)

        assert frontend.force_flush(EXPORT_TIMEOUT_S * 1000)
        assert backend.force_flush(EXPORT_TIMEOUT_S * 1000)
        rec.assert_all_succeeded(min_calls=2)
    finally:
        frontend.shutdown()
        backend.shutdown()

    ctx = {s: sp.get_span_context() for s, sp in (("root", root), ("client", client), ("handler", handler))}
    return {
        "trace_id": hex_trace_id(ctx["root"].trace_id),
        "root": hex_span_id(ctx["root"].span_id),
        "client": hex_span_id(ctx["client"].span_id),
        "handler": hex_span_id(ctx["handler"].span_id),
        "t0": t0,
    }


def jaeger_tag_text(tag: dict[str, Any]) -> str:
    """A Jaeger tag's value as text: True -> "true", 42 -> "42", "x" -> "x"."""
    value = tag["value"]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_trace_across_two_services(osprey: OspreyServer, transport: str) -> None:
    t0 = base_time_ns()
    ids = emit_checkout_trace(Transport(osprey, transport), t0)
    tid = ids["trace_id"]
    # The propagated context kept one trace id across both services.
    assert osprey.count("spans") == 3
    assert osprey.sql("SELECT count(DISTINCT trace_id) FROM spans") == [[1]]

    # --- SQL: one row per span, exact values --------------------------------------
    rows = osprey.sql_dicts(
        "SELECT name, service, kind, trace_id, span_id, parent_span_id, status_code, status_message,"
        " start_time, end_time, duration_ns FROM spans ORDER BY start_time"
    )
    expected = [
        ("GET /checkout", "frontend", "SPAN_KIND_SERVER", ids["root"], "", "STATUS_CODE_UNSET", 0, 50),
        ("POST /orders", "frontend", "SPAN_KIND_CLIENT", ids["client"], ids["root"], "STATUS_CODE_UNSET", 5, 45),
        ("create order", "backend", "SPAN_KIND_SERVER", ids["handler"], ids["client"], "STATUS_CODE_ERROR", 10, 40),
    ]
    assert [r["name"] for r in rows] == [e[0] for e in expected]
    for row, (name, service, kind, span_id, parent, status, start_ms, end_ms) in zip(rows, expected):
        assert row["service"] == service, row
        assert row["kind"] == kind, row
        assert row["trace_id"] == tid, row
        assert row["span_id"] == span_id, row
        assert row["parent_span_id"] == parent, row
        assert row["status_code"] == status, row
        assert rfc3339_to_ns(row["start_time"]) == t0 + start_ms * MS, row
        assert rfc3339_to_ns(row["end_time"]) == t0 + end_ms * MS, row
        assert row["duration_ns"] == (end_ms - start_ms) * MS, row
    assert rows[2]["status_message"] == "card declined"
    assert rows[0]["status_message"] in ("", None)

    # Typed attributes are stringified; resource and events are kept.
    [attrs] = osprey.sql_dicts(
        "SELECT attributes['order.id'] AS order_id, attributes['retry.count'] AS retry_count,"
        " attributes['cache.hit'] AS cache_hit, attributes['load.factor'] AS load_factor,"
        " attributes['missing.key'] AS missing, resource['service.name'] AS res_service, events"
        " FROM spans WHERE name = 'create order'"
    )
    assert attrs["order_id"] == "A-17"
    assert attrs["retry_count"] == "42"
    assert attrs["cache_hit"] == "true"
    assert attrs["load_factor"] == "2.5"
    assert attrs["missing"] is None
    assert attrs["res_service"] == "backend"
    assert "validation.failed" in attrs["events"]
    [[root_method, root_instance]] = osprey.sql(
        "SELECT attributes['http.request.method'], resource['service.instance.id'] FROM spans"
        " WHERE name = 'GET /checkout'"
    )
    assert (root_method, root_instance) == ("GET", "fe-1")

    # --- Jaeger API ------------------------------------------------------------------
    r = osprey.get(f"/api/traces/{tid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] is None
    assert len(body["data"]) == 1
    jtrace = body["data"][0]
    assert jtrace["traceID"] == tid
    spans = {s["operationName"]: s for s in jtrace["spans"]}
    assert sorted(spans) == sorted(e[0] for e in expected)
    for name, service, _kind, span_id, parent, _status, start_ms, end_ms in expected:
        s = spans[name]
        assert s["traceID"] == tid
        assert s["spanID"] == span_id
        # SDK nanoseconds -> Jaeger microseconds.
        assert s["startTime"] == (t0 + start_ms * MS) // 1000, s
        assert s["duration"] == (end_ms - start_ms) * MS // 1000, s
        if parent:
            assert s["references"] == [{"refType": "CHILD_OF", "traceID": tid, "spanID": parent}], s
        else:
            assert s["references"] in ([], None), s
        assert jtrace["processes"][s["processID"]]["serviceName"] == service
    error_tag = {"key": "error", "type": "bool", "value": True}
    assert error_tag in spans["create order"]["tags"]
    assert error_tag not in spans["GET /checkout"]["tags"]
    assert error_tag not in spans["POST /orders"]["tags"]
    # Attributes are stored as strings, so a tag may be typed ("int64", 42) or
    # a string ("string", "42"); either way its text must match.
    tags = {t["key"]: t for t in spans["create order"]["tags"]}
    assert {k: jaeger_tag_text(tags[k]) for k in ("order.id", "retry.count", "cache.hit", "load.factor")} == {
        "order.id": "A-17",
        "retry.count": "42",
        "cache.hit": "true",
        "load.factor": "2.5",
    }
    assert all(set(t) == {"key", "type", "value"} for t in spans["create order"]["tags"])
    assert sorted(p["serviceName"] for p in jtrace["processes"].values()) == ["backend", "frontend"]

    r = osprey.get("/api/services")
    assert r.status_code == 200, r.text
    services = r.json()
    assert sorted(services["data"]) == ["backend", "frontend"]
    assert services["total"] == 2

    # An unknown trace id is a Jaeger-shaped 404.
    r = osprey.get("/api/traces/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    assert r.json() == {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": 404, "msg": "trace not found"}],
    }


# --- logs -----------------------------------------------------------------------------------

# A fixed span context, so the correlated log's ids are known in advance.
CORRELATED_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
CORRELATED_SPAN_ID = 0xB7AD6B7169203331

# (service, severity number, severity text, body, attributes, correlated?)
LOGS = [
    ("frontend", SeverityNumber.DEBUG, "DEBUG", "cache warmup started", {"cache.size": 128}, False),
    ("frontend", SeverityNumber.INFO, "INFO", "user alice logged in", {"user.id": "alice", "login.ok": True}, False),
    ("backend", SeverityNumber.WARN, "WARN", "payment retry for order 17", {"order.id": "17", "attempt": 2}, False),
    ("backend", SeverityNumber.ERROR, "ERROR", "payment failed for order 17", {"order.id": "17", "amount": 9.75}, True),
    ("frontend", SeverityNumber.FATAL, "FATAL", "Payment service unreachable", {"peer": "backend"}, False),
]


def emit_logs(tx: Transport, t0: int) -> None:
    """Emit LOGS[i] at t0 + i ms from two LoggerProviders (one per service)."""
    rec = ExportRecorder()
    providers = {}
    for service, processor in (("frontend", BatchLogRecordProcessor), ("backend", SimpleLogRecordProcessor)):
        provider = LoggerProvider(resource=Resource.create({"service.name": service}))
        provider.add_log_record_processor(processor(rec.wrap(tx.log_exporter())))
        providers[service] = provider
    correlated = trace.set_span_in_context(
        NonRecordingSpan(
            SpanContext(CORRELATED_TRACE_ID, CORRELATED_SPAN_ID, is_remote=False, trace_flags=TraceFlags(1))
        )
    )
    try:
        for i, (service, sev, sev_text, body, attrs, is_correlated) in enumerate(LOGS):
            logger = providers[service].get_logger(f"{service}.logger")
            logger.emit(
                timestamp=t0 + i * MS,
                observed_timestamp=t0 + i * MS + 500,
                context=correlated if is_correlated else trace.set_span_in_context(trace.INVALID_SPAN),
                severity_number=sev,
                severity_text=sev_text,
                body=body,
                attributes=attrs,
            )
        for provider in providers.values():
            assert provider.force_flush(EXPORT_TIMEOUT_S * 1000)
        rec.assert_all_succeeded(min_calls=2)
    finally:
        for provider in providers.values():
            provider.shutdown()


def test_logs(osprey: OspreyServer, transport: str) -> None:
    t0 = base_time_ns()
    emit_logs(Transport(osprey, transport), t0)

    # --- SQL ---------------------------------------------------------------------------
    assert osprey.count("logs") == len(LOGS)
    rows = osprey.sql_dicts(
        "SELECT service, timestamp, observed_timestamp, severity_text, severity_number, body,"
        " trace_id, span_id, scope, resource['service.name'] AS res_service FROM logs ORDER BY timestamp"
    )
    assert len(rows) == len(LOGS)
    for i, (row, (service, sev, sev_text, body, _attrs, is_correlated)) in enumerate(zip(rows, LOGS)):
        assert row["service"] == service, row
        assert row["res_service"] == service, row
        assert rfc3339_to_ns(row["timestamp"]) == t0 + i * MS, row
        assert rfc3339_to_ns(row["observed_timestamp"]) == t0 + i * MS + 500, row
        assert row["severity_text"] == sev_text, row
        assert row["severity_number"] == sev.value, row
        assert row["body"] == body, row
        assert row["scope"] == f"{service}.logger", row
        if is_correlated:
            assert row["trace_id"] == hex_trace_id(CORRELATED_TRACE_ID), row
            assert row["span_id"] == hex_span_id(CORRELATED_SPAN_ID), row
        else:
            assert row["trace_id"] == "", row
            assert row["span_id"] == "", row

    attrs = osprey.sql(
        "SELECT attributes['cache.size'], attributes['login.ok'], attributes['attempt'], attributes['amount']"
        " FROM logs ORDER BY timestamp"
    )
    assert attrs[0][0] == "128"  # int -> decimal string
    assert attrs[1][1] == "true"  # bool -> "true"
    assert attrs[2][2] == "2"
    assert attrs[3][3] == "9.75"  # float -> shortest decimal string
    assert osprey.sql("SELECT body FROM logs WHERE attributes['user.id'] = 'alice'") == [["user alice logged in"]]

    # --- logs search ----------------------------------------------------------------------
    def search(**params) -> dict[str, Any]:
        r = osprey.get("/api/v1/logs/search", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]

    # Terms are ANDed, case-insensitive; newest first.
    data = search(query="payment order")
    bodies = [x["body"] for x in data["result"]]
    assert bodies == ["payment failed for order 17", "payment retry for order 17"]
    assert data["stats"]["matched"] == 2
    timestamps = [rfc3339_to_ns(x["timestamp"]) for x in data["result"]]
    assert timestamps == [t0 + 3 * MS, t0 + 2 * MS]

    error_hit = data["result"][0]
    assert error_hit["service"] == "backend"
    assert error_hit["severity"] == "ERROR"
    assert error_hit["trace_id"] == hex_trace_id(CORRELATED_TRACE_ID)
    assert error_hit["span_id"] == hex_span_id(CORRELATED_SPAN_ID)
    assert error_hit["attributes"] == {"order.id": "17", "amount": "9.75"}
    assert not data["result"][1]["trace_id"]

    data = search(query="PAYMENT")
    assert [x["body"] for x in data["result"]] == [
        "Payment service unreachable",
        "payment failed for order 17",
        "payment retry for order 17",
    ]
    assert data["stats"]["matched"] == 3

    data = search(query="payment", limit=2)
    assert [x["body"] for x in data["result"]] == ["Payment service unreachable", "payment failed for order 17"]

    data = search(query="payment", service="frontend")
    assert [x["body"] for x in data["result"]] == ["Payment service unreachable"]

    data = search(query="nothing-matches-this")
    assert data["result"] == []
    assert data["stats"]["matched"] == 0


# --- metrics ------------------------------------------------------------------------------------

# Expected rows per translated metric name after exactly one cumulative export.
EXPECTED_METRIC_ROWS = {
    "http_requests_total": 2,  # two attribute sets
    "queue_size": 1,  # up-down counter -> gauge, "{item}" unit dropped
    "process_memory_usage_bytes": 1,  # observable gauge, unit By
    "queue_wait_milliseconds": 1,  # gauge, unit ms
    "latency_seconds_bucket": 4,  # bounds 0.1, 0.5, 1 and +Inf
    "latency_seconds_sum": 1,
    "latency_seconds_count": 1,
}


def emit_metrics(tx: Transport) -> tuple[int, int]:
    """Record the instruments and export exactly once; return the export window (ns)."""
    rec = ExportRecorder()
    # math.inf: no background collection; only force_flush exports (exactly once).
    reader = PeriodicExportingMetricReader(rec.wrap(tx.metric_exporter()), export_interval_millis=math.inf)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "frontend", "service.instance.id": "frontend-1"}),
        metric_readers=[reader],
    )
    try:
        meter = provider.get_meter("checkout.metrics")
        requests_counter = meter.create_counter("http.requests", unit="1")
        requests_counter.add(3, {"http.method": "GET", "http.route": "/checkout"})
        requests_counter.add(4, {"http.method": "GET", "http.route": "/checkout"})
        requests_counter.add(2, {"http.method": "POST", "http.route": "/checkout"})

        queue = meter.create_up_down_counter("queue.size", unit="{item}")
        queue.add(5)
        queue.add(-2)

        def memory(_options: CallbackOptions):
            return [Observation(1048576)]

        meter.create_observable_gauge("process.memory.usage", callbacks=[memory], unit="By")
        meter.create_gauge("queue.wait", unit="ms").set(12.5)

        latency = meter.create_histogram("latency", unit="s", explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0])
        for v in (0.05, 0.2, 0.3, 2.0):
            latency.record(v, {"http.route": "/checkout"})

        before = time.time_ns()
        assert provider.force_flush(EXPORT_TIMEOUT_S * 1000)
        after = time.time_ns()
        rec.assert_all_succeeded(exact_calls=1)
    finally:
        provider.shutdown()
    return before, after


def test_metrics(osprey: OspreyServer, transport: str) -> None:
    before, after = emit_metrics(Transport(osprey, transport))

    # --- SQL ---------------------------------------------------------------------------------
    counts = {m: n for m, n in osprey.sql("SELECT metric, count(*) FROM metrics GROUP BY metric")}
    assert counts.pop("target_info") == 1  # the resource's other attributes, checked below
    assert counts == EXPECTED_METRIC_ROWS

    rows = osprey.sql_dicts(
        "SELECT labels['http_method'] AS method, labels['http_route'] AS route, labels['job'] AS job,"
        " labels['instance'] AS instance, value, timestamp FROM metrics"
        " WHERE metric = 'http_requests_total' ORDER BY method"
    )
    assert [(r["method"], r["route"], r["job"], r["instance"], r["value"]) for r in rows] == [
        ("GET", "/checkout", "frontend", "frontend-1", 7.0),
        ("POST", "/checkout", "frontend", "frontend-1", 2.0),
    ]
    for r in rows:
        assert before <= rfc3339_to_ns(r["timestamp"]) <= after, r

    def single_value(metric: str) -> float:
        rows = osprey.sql(f"SELECT value FROM metrics WHERE metric = '{metric}'")
        assert len(rows) == 1, (metric, rows)
        return rows[0][0]

    assert single_value("queue_size") == 3.0
    assert single_value("process_memory_usage_bytes") == 1048576.0
    assert single_value("queue_wait_milliseconds") == 12.5
    assert single_value("latency_seconds_count") == 4.0
    assert single_value("latency_seconds_sum") == pytest.approx(2.55)

    buckets = {
        float(le): value
        for le, value in osprey.sql("SELECT labels['le'], value FROM metrics WHERE metric = 'latency_seconds_bucket'")
    }
    # Cumulative counts: 0.05 | 0.2, 0.3 | - | 2.0
    assert buckets == {0.1: 1.0, 0.5: 3.0, 1.0: 3.0, math.inf: 4.0}

    # --- Prometheus API ------------------------------------------------------------------------
    now = time.time()
    result = osprey.prom_query('http_requests_total{job="frontend"}', at=now)
    by_method = {s["metric"]["http_method"]: s for s in result}
    assert sorted(by_method) == ["GET", "POST"]
    get_series = by_method["GET"]
    assert get_series["metric"]["__name__"] == "http_requests_total"
    assert get_series["metric"]["job"] == "frontend"
    assert get_series["metric"]["instance"] == "frontend-1"
    assert get_series["metric"]["http_route"] == "/checkout"
    ts, value = get_series["value"]
    assert ts == pytest.approx(now, abs=0.001)
    assert isinstance(value, str) and float(value) == 7.0
    assert float(by_method["POST"]["value"][1]) == 2.0

    def prom_value(query: str) -> float:
        result = osprey.prom_query(query, at=now)
        assert len(result) == 1, (query, result)
        return float(result[0]["value"][1])

    assert prom_value('http_requests_total{job="frontend",http_method=~"P.*"}') == 2.0
    assert prom_value('http_requests_total{job="frontend",http_method!="POST"}') == 7.0
    assert prom_value('latency_seconds_count{job="frontend"}') == 4.0
    assert prom_value('latency_seconds_bucket{job="frontend",le="+Inf"}') == 4.0
    assert prom_value('latency_seconds_bucket{job="frontend",le="0.5"}') == 3.0
    assert prom_value('latency_seconds_sum{job="frontend"}') == pytest.approx(2.55)
    assert prom_value('queue_size{job="frontend"}') == 3.0
    assert prom_value("process_memory_usage_bytes") == 1048576.0
    assert prom_value('queue_wait_milliseconds{instance="frontend-1"}') == 12.5

    # Prometheus' OTLP translation: resource attributes other than service.name,
    # service.namespace and service.instance.id become target_info's labels.
    info = osprey.prom_query('target_info{job="frontend"}', at=now)
    assert len(info) == 1, info
    assert info[0]["metric"]["instance"] == "frontend-1"
    assert info[0]["metric"]["telemetry_sdk_language"] == "python"
    assert "service_name" not in info[0]["metric"]
    assert float(info[0]["value"][1]) == 1.0

    assert osprey.prom_query('http_requests_total{job="someone-else"}', at=now) == []
    # Lookback is 5 minutes: an hour earlier nothing is visible.
    assert osprey.prom_query('http_requests_total{job="frontend"}', at=now - 3600) == []

    r = osprey.get("/api/v1/query", params={"query": 'http_requests_total{job="frontend"', "time": f"{now:.3f}"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"
    assert body["error"]


# --- tenants --------------------------------------------------------------------------------------


def test_tenant_isolation(osprey: OspreyServer, transport: str) -> None:
    """Data sent with X-Scope-OrgID: acme is visible to acme only."""
    tx = Transport(osprey, transport, tenant="acme")
    rec = ExportRecorder()

    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "acme-svc"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(rec.wrap(tx.span_exporter())))
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "acme-svc"}))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(rec.wrap(tx.log_exporter())))
    reader = PeriodicExportingMetricReader(rec.wrap(tx.metric_exporter()), export_interval_millis=math.inf)
    meter_provider = MeterProvider(resource=Resource.create({"service.name": "acme-svc"}), metric_readers=[reader])
    try:
        with tracer_provider.get_tracer("acme").start_as_current_span("acme-op") as s:
            trace_id = hex_trace_id(s.get_span_context().trace_id)
            logger_provider.get_logger("acme").emit(severity_text="INFO", body="acme secret log")
        meter_provider.get_meter("acme").create_counter("acme.jobs").add(5)
        for provider in (tracer_provider, logger_provider, meter_provider):
            assert provider.force_flush(EXPORT_TIMEOUT_S * 1000)
        rec.assert_all_succeeded(min_calls=3)
    finally:
        for provider in (tracer_provider, logger_provider, meter_provider):
            provider.shutdown()

    assert osprey.count("spans", tenant="acme") == 1
    assert osprey.count("logs", tenant="acme") == 1
    assert osprey.count("metrics", "metric = 'acme_jobs_total'", tenant="acme") == 1
    assert osprey.sql("SELECT trace_id FROM logs", tenant="acme") == [[trace_id]]
    for other in (None, "default", "other"):
        assert osprey.count("spans", tenant=other) == 0, other
        assert osprey.count("logs", tenant=other) == 0, other
        assert osprey.count("metrics", tenant=other) == 0, other

    # The query APIs are tenant-scoped too.
    assert osprey.get(f"/api/traces/{trace_id}", tenant="acme").status_code == 200
    assert osprey.get(f"/api/traces/{trace_id}").status_code == 404
    assert len(osprey.prom_query("acme_jobs_total", tenant="acme")) == 1
    assert osprey.prom_query("acme_jobs_total") == []
    r = osprey.get("/api/v1/logs/search", params={"query": "secret"})
    assert r.status_code == 200 and r.json()["data"]["result"] == []
    r = osprey.get("/api/v1/logs/search", tenant="acme", params={"query": "secret"})
    assert r.status_code == 200 and [x["body"] for x in r.json()["data"]["result"]] == ["acme secret log"]
