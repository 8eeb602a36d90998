"""Builders for hand-written OTLP/JSON requests and a poster for them.

OTLP/JSON rules followed here (OTLP spec, "JSON Protobuf Encoding"):
trace/span ids are lowercase hex strings (not base64), 64-bit integers are
decimal strings, enums are integers, field names are lowerCamelCase.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import time
from collections.abc import Iterable
from typing import Any

import requests

from harness import HTTP_TIMEOUT_S, OspreyServer, tenant_headers

# OTLP enum values, as integers on the wire.
SPAN_KIND = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS_CODE = {"UNSET": 0, "OK": 1, "ERROR": 2}
TEMPORALITY_CUMULATIVE = 2

SIGNAL_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}


def now_ns() -> int:
    return time.time_ns()


def any_value(value: Any) -> dict[str, Any]:
    """Python value -> OTLP AnyValue (bool is checked before int on purpose)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    raise TypeError(f"unsupported attribute value {value!r}")


def key_values(attrs: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (attrs or {}).items()]


def resource(service: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"attributes": key_values({"service.name": service, **(extra or {})})}


# --- logs ------------------------------------------------------------------------


def log_record(
    ts_ns: int,
    body: str,
    *,
    severity_number: int = 9,
    severity_text: str = "INFO",
    attributes: dict[str, Any] | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    observed_ns: int | None = None,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timeUnixNano": str(ts_ns),
        "severityNumber": severity_number,
        "severityText": severity_text,
        "body": {"stringValue": body},
        "attributes": key_values(attributes),
    }
    if observed_ns is not None:
        rec["observedTimeUnixNano"] = str(observed_ns)
    if trace_id:
        rec["traceId"] = trace_id
    if span_id:
        rec["spanId"] = span_id
    return rec


def logs_request(
    service: str,
    records: Iterable[dict[str, Any]],
    scope: str = "e2e",
    resource_attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": resource(service, resource_attrs),
                "scopeLogs": [{"scope": {"name": scope}, "logRecords": list(records)}],
            }
        ]
    }


# --- traces ----------------------------------------------------------------------


def span(
    trace_id: str,
    span_id: str,
    name: str,
    start_ns: int,
    end_ns: int,
    *,
    kind: str = "INTERNAL",
    parent_span_id: str | None = None,
    attributes: dict[str, Any] | None = None,
    status_code: str = "UNSET",
    status_message: str | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": SPAN_KIND[kind],
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": key_values(attributes),
        "status": {"code": STATUS_CODE[status_code]},
    }
    if parent_span_id:
        s["parentSpanId"] = parent_span_id
    if status_message:
        s["status"]["message"] = status_message
    return s


def traces_request(
    service: str,
    spans: Iterable[dict[str, Any]],
    scope: str = "e2e",
    resource_attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": resource(service, resource_attrs),
                "scopeSpans": [{"scope": {"name": scope}, "spans": list(spans)}],
            }
        ]
    }


# --- metrics ---------------------------------------------------------------------


def number_point(ts_ns: int, value: float, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"timeUnixNano": str(ts_ns), "attributes": key_values(attributes)}
    if isinstance(value, int):
        p["asInt"] = str(value)
    else:
        p["asDouble"] = value
    return p


def gauge_metric(name: str, points: list[dict[str, Any]], unit: str = "") -> dict[str, Any]:
    return {"name": name, "unit": unit, "gauge": {"dataPoints": points}}


def counter_metric(name: str, points: list[dict[str, Any]], unit: str = "") -> dict[str, Any]:
    """Monotonic cumulative Sum (a Prometheus counter)."""
    return {
        "name": name,
        "unit": unit,
        "sum": {
            "aggregationTemporality": TEMPORALITY_CUMULATIVE,
            "isMonotonic": True,
            "dataPoints": points,
        },
    }


def metrics_request(
    service: str,
    metrics: Iterable[dict[str, Any]],
    scope: str = "e2e",
    resource_attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": resource(service, resource_attrs),
                "scopeMetrics": [{"scope": {"name": scope}, "metrics": list(metrics)}],
            }
        ]
    }


# --- sending -----------------------------------------------------------------------


def post_otlp(
    server: OspreyServer,
    signal: str,
    body: dict[str, Any] | bytes,
    *,
    tenant: str | None = None,
    gzip: bool = False,
    port: str = "otlp",
    content_type: str = "application/json",
    extra_headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST an OTLP/HTTP request.

    ``body`` is a dict (serialised as JSON) or raw bytes sent as-is.
    ``port`` is "otlp" (the OTLP/HTTP listener) or "http" (the main port).
    """
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": content_type, **tenant_headers(tenant), **(extra_headers or {})}
    if gzip:
        data = gzip_module.compress(data)
        headers["Content-Encoding"] = "gzip"
    path = SIGNAL_PATHS[signal]
    url = server.otlp_http(path) if port == "otlp" else server.http(path)
    return requests.post(url, data=data, headers=headers, timeout=HTTP_TIMEOUT_S)


def assert_accepted(resp: requests.Response) -> None:
    """An OTLP/HTTP JSON request was fully accepted (200, nothing rejected)."""
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text[:1000]}"
    if resp.content and "json" in resp.headers.get("Content-Type", ""):
        partial = resp.json().get("partialSuccess") or {}
        for key in ("rejectedSpans", "rejectedLogRecords", "rejectedDataPoints"):
            assert int(partial.get(key, 0) or 0) == 0, f"partial success: {partial}"
