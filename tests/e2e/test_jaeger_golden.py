"""Jaeger API responses compared with golden JSON (tests/e2e/golden/): the v1 shapes
Grafana's Jaeger data source reads and the v3 shapes (OTLP/JSON in grpc-gateway's
`result` wrapper) the Jaeger UI reads, for one fixed trace across two services sent
in two requests. Absolute times are replaced by offsets from the trace's start before
comparing, since the data must be recent to be kept.

Set OSPREY_UPDATE_GOLDEN=1 to rewrite the files (then read the diff)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from builders import assert_accepted, post_otlp
from harness import OspreyServer

GOLDEN = Path(__file__).parent / "golden"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, CHILD, DB = "00f067aa0ba902b7", "b7ad6b7169203331", "53995c3f42cd8ad8"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def kv(key: str, value: dict) -> dict:
    return {"key": key, "value": value}


def requests_for(t0: int) -> list[dict]:
    """The trace: frontend's server span and a client span in one request, the
    payments service's server span (with an event and a link) in another."""
    frontend = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        kv("service.name", {"stringValue": "frontend"}),
                        kv("host.name", {"stringValue": "web-1"}),
                        kv("process.pid", {"intValue": "4242"}),
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "shop.http"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": ROOT,
                                "name": "GET /checkout",
                                "kind": 2,
                                "startTimeUnixNano": str(t0),
                                "endTimeUnixNano": str(t0 + 120_000_000),
                                "attributes": [
                                    kv("http.method", {"stringValue": "GET"}),
                                    kv("http.status_code", {"intValue": "500"}),
                                    kv("sampling.ratio", {"doubleValue": 0.25}),
                                    kv("cache.hit", {"boolValue": True}),
                                    kv("http.request.header.accept", {"arrayValue": {"values": [{"stringValue": "text/html"}, {"stringValue": "*/*"}]}}),
                                ],
                                "status": {"code": 2, "message": "payment failed"},
                            },
                            {
                                "traceId": TRACE,
                                "spanId": CHILD,
                                "parentSpanId": ROOT,
                                "name": "POST payments",
                                "kind": 3,
                                "startTimeUnixNano": str(t0 + 10_000_000),
                                "endTimeUnixNano": str(t0 + 100_000_000),
                                "attributes": [kv("peer.service", {"stringValue": "payments"})],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    payments = {
        "resourceSpans": [
            {
                "resource": {"attributes": [kv("service.name", {"stringValue": "payments"})]},
                "scopeSpans": [
                    {
                        "scope": {"name": "pay.server"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": DB,
                                "parentSpanId": CHILD,
                                "name": "charge",
                                "kind": 2,
                                "startTimeUnixNano": str(t0 + 20_000_000),
                                "endTimeUnixNano": str(t0 + 90_000_000),
                                "status": {"code": 2},
                                "events": [
                                    {
                                        "timeUnixNano": str(t0 + 50_000_000),
                                        "name": "card declined",
                                        "attributes": [kv("attempt", {"intValue": "2"})],
                                    }
                                ],
                                "links": [{"traceId": OTHER_TRACE, "spanId": "00f067aa0ba902b8"}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    return [frontend, payments]


TIME_KEYS_NS = {"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano"}
TIME_KEYS_US = {"startTime", "timestamp"}


def relative(v, t0: int):
    """The response with absolute times as offsets from t0 (ns, or µs in v1)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in TIME_KEYS_NS and isinstance(x, str):
                out[k] = f"t0+{int(x) - t0}"
            elif k in TIME_KEYS_US and isinstance(x, int):
                out[k] = f"t0+{x - t0 // 1000}us"
            else:
                out[k] = relative(x, t0)
        return out
    if isinstance(v, list):
        return [relative(x, t0) for x in v]
    return v


def check_golden(name: str, got) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(got, indent=2, sort_keys=True) + "\n"
    if os.environ.get("OSPREY_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing; run with OSPREY_UPDATE_GOLDEN=1 and review it"
    assert json.loads(text) == json.loads(path.read_text()), f"{name} differs from {path}"


@pytest.fixture
def trace_t0(osprey: OspreyServer) -> int:
    t0 = (time.time_ns() - 60_000_000_000) // 1000 * 1000 + 1000  # µs-aligned for v1
    for req in requests_for(t0):
        assert_accepted(post_otlp(osprey, "traces", req))
    return t0


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "files"])
def test_jaeger_v1_and_v3_golden(osprey: OspreyServer, trace_t0: int, flushed: bool) -> None:
    t0 = trace_t0
    if flushed:
        osprey.flush()

    r = osprey.get(f"/api/traces/{TRACE}")
    assert r.status_code == 200, r.text
    check_golden("jaeger_v1_trace", relative(r.json(), t0))

    params = {"service": "payments", "start": str(t0 // 1000 - 1), "end": str(t0 // 1000 + 10**6), "limit": "5"}
    r = osprey.get("/api/traces", params=params)
    assert r.status_code == 200, r.text
    assert relative(r.json(), t0) == json.loads((GOLDEN / "jaeger_v1_trace.json").read_text())

    r = osprey.get(f"/api/v3/traces/{TRACE}")
    assert r.status_code == 200, r.text
    check_golden("jaeger_v3_trace", relative(r.json(), t0))

    iso = lambda ns: datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
    r = osprey.get(
        "/api/v3/traces",
        params={
            "query.serviceName": "frontend",
            "query.operationName": "GET /checkout",
            "query.startTimeMin": iso(t0 - 10**9),
            "query.startTimeMax": iso(t0 + 10**9),
            "query.durationMin": "100ms",
            "query.searchDepth": "10",
        },
    )
    assert r.status_code == 200, r.text
    assert relative(r.json(), t0) == json.loads((GOLDEN / "jaeger_v3_trace.json").read_text())
    # `query.attributes` (span or resource attributes, as v1's tags).
    window = {
        "query.serviceName": "frontend",
        "query.startTimeMin": iso(t0 - 10**9),
        "query.startTimeMax": iso(t0 + 10**9),
    }
    r = osprey.get("/api/v3/traces", params={**window, "query.attributes": '{"http.status_code":"500","host.name":"web-1"}'})
    assert r.status_code == 200, r.text
    assert relative(r.json(), t0) == json.loads((GOLDEN / "jaeger_v3_trace.json").read_text())
    # The snake_case names Jaeger 1.x's gateway took are still accepted.
    r = osprey.get(
        "/api/v3/traces",
        params={
            "query.service_name": "frontend",
            "query.operation_name": "GET /checkout",
            "query.start_time_min": iso(t0 - 10**9),
            "query.start_time_max": iso(t0 + 10**9),
            "query.duration_min": "100ms",
            "query.num_traces": "10",
        },
    )
    assert r.status_code == 200, r.text
    assert relative(r.json(), t0) == json.loads((GOLDEN / "jaeger_v3_trace.json").read_text())
    r = osprey.get("/api/v3/operations", params={"service": "frontend", "span_kind": "client"})
    assert r.json() == {"operations": [{"name": "POST payments", "spanKind": "client"}]}
    r = osprey.get("/api/v3/traces", params={**window, "query.attributes": '{"http.status_code":"404"}'})
    assert r.status_code == 404 and r.json()["error"]["message"] == "No traces found", r.text

    r = osprey.get("/api/v3/services")
    assert r.json() == {"services": ["frontend", "payments"]}
    r = osprey.get("/api/v3/operations", params={"service": "frontend"})
    assert r.json() == {
        "operations": [{"name": "GET /checkout", "spanKind": "server"}, {"name": "POST payments", "spanKind": "client"}]
    }
    r = osprey.get("/api/v3/operations", params={"service": "frontend", "spanKind": "client"})
    assert r.json() == {"operations": [{"name": "POST payments", "spanKind": "client"}]}


def test_jaeger_v3_errors(osprey: OspreyServer, trace_t0: int) -> None:
    def error(path: str, params: dict, status: int, message: str) -> None:
        r = osprey.get(path, params=params)
        assert r.status_code == status, r.text
        body = r.json()
        assert body["error"]["httpCode"] == status and message in body["error"]["message"], body

    error(f"/api/v3/traces/{OTHER_TRACE}", {}, 404, "trace not found")
    error("/api/v3/traces/not-hex", {}, 400, "malformed parameter trace_id")
    error("/api/v3/traces", {"query.serviceName": "frontend"}, 400, "query.startTimeMin and query.startTimeMax are required")
    error(
        "/api/v3/traces",
        {"query.serviceName": "frontend", "query.startTimeMin": "soon", "query.startTimeMax": "later"},
        400,
        "malformed parameter query.startTimeMin",
    )
    error(
        "/api/v3/traces",
        # fixed date: a wide query window over a service that never exists; the answer is the same on any date
        {"query.serviceName": "nobody", "query.startTimeMin": "2020-01-01T00:00:00Z", "query.startTimeMax": "2030-01-01T00:00:00Z"},
        404,
        "No traces found",
    )
    error("/api/v3/operations", {"service": "frontend", "spanKind": "sideways"}, 400, "unsupported span kind")
