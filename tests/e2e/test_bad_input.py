"""Malformed, oversized and hostile input is refused cleanly.

Every test first stores a known baseline (3 logs, 2 spans, 1 metric point),
sends bad requests, and then checks that the baseline is exactly intact,
the server is healthy, and a good request is still accepted.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from builders import (
    assert_accepted,
    counter_metric,
    gauge_metric,
    log_record,
    logs_request,
    metrics_request,
    number_point,
    post_otlp,
    span,
    traces_request,
)
from harness import HTTP_TIMEOUT_S, OspreyServer

SIGNALS = ["traces", "logs", "metrics"]
BASELINE = {"logs": 3, "spans": 2, "metrics": 1}
GOOD_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


# --- helpers ----------------------------------------------------------------------------------


def seed(server: OspreyServer) -> None:
    """Store the baseline every test checks afterwards."""
    t = time.time_ns() - 5_000_000_000
    logs = [log_record(t + i, f"baseline log {i}") for i in range(3)]
    assert_accepted(post_otlp(server, "logs", logs_request("base", logs)))
    spans = [
        span(GOOD_TRACE_ID, "00f067aa0ba902b7", "base-root", t, t + 1000, kind="SERVER"),
        span(GOOD_TRACE_ID, "00f067aa0ba902b8", "base-child", t + 10, t + 900, parent_span_id="00f067aa0ba902b7"),
    ]
    assert_accepted(post_otlp(server, "traces", traces_request("base", spans)))
    assert_accepted(
        post_otlp(server, "metrics", metrics_request("base", [gauge_metric("base.gauge", [number_point(t, 1.5)])]))
    )
    assert counts(server) == BASELINE


def counts(server: OspreyServer) -> dict[str, int]:
    """Row counts per table, leaving out the probes written by assert_unharmed."""
    return {
        "logs": server.count("logs", "service <> 'probe'"),
        "spans": server.count("spans"),
        "metrics": server.count("metrics"),
    }


def assert_unharmed(server: OspreyServer) -> None:
    """Baseline intact (and nothing from the bad request stored), server
    healthy, and still accepting good data."""
    assert counts(server) == BASELINE
    assert requests.get(server.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
    probes = server.count("logs", "service = 'probe'")
    t = time.time_ns()
    assert_accepted(post_otlp(server, "logs", logs_request("probe", [log_record(t, "after the bad request")])))
    assert server.count("logs", "service = 'probe'") == probes + 1


def error_message(resp: requests.Response) -> str:
    """The message of an OTLP error Status, JSON or protobuf encoded."""
    content_type = resp.headers.get("Content-Type", "")
    if "json" in content_type:
        return str(resp.json().get("message", ""))
    if "protobuf" in content_type:
        return status_pb2.Status.FromString(resp.content).message
    return resp.text


def assert_rejected(resp: requests.Response, status: int | tuple[int, ...]) -> None:
    allowed = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in allowed, f"want {allowed}, got {resp.status_code}: {resp.text[:500]}"


def valid_json_body(signal: str) -> bytes:
    t = time.time_ns()
    body = {
        "logs": logs_request("bad", [log_record(t, "should never be stored")]),
        "traces": traces_request("bad", [span(GOOD_TRACE_ID, "1111111111111111", "never-stored", t, t + 5)]),
        "metrics": metrics_request("bad", [counter_metric("never.stored", [number_point(t, 1)])]),
    }[signal]
    return json.dumps(body).encode()


@pytest.fixture
def seeded(osprey: OspreyServer) -> OspreyServer:
    seed(osprey)
    return osprey


# --- transport-level problems ---------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x0a\x05abc", id="truncated-field"),
        pytest.param(b"\xff" * 11, id="overlong-varint"),
        pytest.param(b"\x0f\x00\x00", id="invalid-wire-type"),
    ],
)
def test_garbage_protobuf_is_400(seeded: OspreyServer, signal: str, garbage: bytes) -> None:
    resp = post_otlp(seeded, signal, garbage, content_type="application/x-protobuf")
    assert_rejected(resp, 400)
    assert error_message(resp), "a 400 must carry a Status with a message"
    assert_unharmed(seeded)


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("port", ["otlp", "http"])
def test_truncated_gzip_is_400(seeded: OspreyServer, signal: str, port: str) -> None:
    compressed = gzip.compress(valid_json_body(signal))
    resp = post_otlp(
        seeded,
        signal,
        compressed[: len(compressed) // 2],
        port=port,
        extra_headers={"Content-Encoding": "gzip"},
    )
    assert_rejected(resp, 400)
    assert error_message(resp)
    assert_unharmed(seeded)


@pytest.mark.parametrize("signal", SIGNALS)
def test_gzip_header_on_plain_body_is_400(seeded: OspreyServer, signal: str) -> None:
    resp = post_otlp(seeded, signal, valid_json_body(signal), extra_headers={"Content-Encoding": "gzip"})
    assert_rejected(resp, 400)
    assert_unharmed(seeded)


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("port", ["otlp", "http"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unknown_content_type_is_415(seeded: OspreyServer, signal: str, port: str, content_type: str) -> None:
    resp = post_otlp(seeded, signal, valid_json_body(signal), port=port, content_type=content_type)
    assert_rejected(resp, 415)
    assert_unharmed(seeded)


# --- JSON-level problems ----------------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
def test_json_syntax_error_is_400(seeded: OspreyServer, signal: str) -> None:
    key = {"logs": "resourceLogs", "traces": "resourceSpans", "metrics": "resourceMetrics"}[signal]
    resp = post_otlp(seeded, signal, f'{{"{key}": [{{"resource": '.encode())
    assert_rejected(resp, 400)
    assert error_message(resp)
    assert_unharmed(seeded)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_invalid_utf8_in_json_is_400(seeded: OspreyServer, gzipped: bool) -> None:
    body = json.dumps(logs_request("bad", [log_record(time.time_ns(), "PLACEHOLDER")])).encode()
    body = body.replace(b"PLACEHOLDER", b"bad \xff\xfe bytes")
    resp = post_otlp(seeded, "logs", body, gzip=gzipped)
    assert_rejected(resp, 400)
    assert error_message(resp)
    assert_unharmed(seeded)


@pytest.mark.parametrize(
    "point",
    [
        pytest.param({"asDouble": "abc"}, id="asDouble-not-a-number"),
        pytest.param({"asInt": "12x"}, id="asInt-not-an-integer"),
        pytest.param({"asInt": {"nested": 1}}, id="asInt-object"),
        pytest.param({}, id="no-value"),
    ],
)
@pytest.mark.parametrize("kind", ["gauge", "sum"])
def test_malformed_metric_value_is_400(seeded: OspreyServer, point: dict, kind: str) -> None:
    data_point = {"timeUnixNano": str(time.time_ns()), **point}
    metric = {"name": "broken.metric", kind: {"dataPoints": [data_point]}}
    if kind == "sum":
        metric["sum"].update({"aggregationTemporality": 2, "isMonotonic": True})
    resp = post_otlp(seeded, "metrics", metrics_request("bad", [metric]))
    assert_rejected(resp, 400)
    assert error_message(resp)
    assert seeded.count("metrics", "metric LIKE 'broken%'") == 0
    assert_unharmed(seeded)


# --- invalid ids: rejected outright or via partial success ---------------------------------------

BAD_IDS = [
    pytest.param({"traceId": "abcd"}, id="trace-id-too-short"),
    pytest.param({"traceId": GOOD_TRACE_ID + "ab"}, id="trace-id-too-long"),
    pytest.param({"traceId": "zz" * 16}, id="trace-id-not-hex"),
    pytest.param({"spanId": "abc"}, id="span-id-odd-length"),
    pytest.param({"spanId": "00f067aa0ba902b7ff"}, id="span-id-too-long"),
]


def check_bad_span_outcome(server: OspreyServer, status: int, rejected: int, message: str) -> None:
    """Either the whole request is refused (400, nothing stored) or it is a
    partial success that rejects exactly the bad span and explains why."""
    good = server.count("spans", "name = 'good-op'")
    bad = server.count("spans", "name = 'bad-op'")
    if status == 400:
        assert (good, bad) == (0, 0)
        assert message
    else:
        assert status == 200, status
        assert rejected == 1, "partial success must count the rejected span"
        assert message, "partial success must carry an error message"
        assert (good, bad) == (1, 0)
    assert requests.get(server.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
    assert server.count("logs") == BASELINE["logs"]
    assert server.count("spans", "name LIKE 'base-%'") == BASELINE["spans"]


@pytest.mark.parametrize("override", BAD_IDS)
def test_invalid_ids_json(seeded: OspreyServer, override: dict) -> None:
    t = time.time_ns()
    bad = span(GOOD_TRACE_ID, "2222222222222222", "bad-op", t, t + 10)
    bad.update(override)
    good = span(GOOD_TRACE_ID, "3333333333333333", "good-op", t, t + 10)
    resp = post_otlp(seeded, "traces", traces_request("ids", [good, bad]))
    if resp.status_code == 200:
        partial = resp.json().get("partialSuccess") or {}
        rejected, message = int(partial.get("rejectedSpans", 0) or 0), partial.get("errorMessage", "")
    else:
        rejected, message = 0, error_message(resp)
    check_bad_span_outcome(seeded, resp.status_code, rejected, message)


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        pytest.param(b"\x01" * 5, b"\x02" * 8, id="trace-id-5-bytes"),
        pytest.param(b"\x01" * 17, b"\x02" * 8, id="trace-id-17-bytes"),
        pytest.param(b"\x01" * 16, b"\x02" * 3, id="span-id-3-bytes"),
    ],
)
def test_invalid_ids_protobuf(seeded: OspreyServer, trace_id: bytes, span_id: bytes) -> None:
    t = time.time_ns()
    good_id = bytes.fromhex(GOOD_TRACE_ID)
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="ids"))]),
                scope_spans=[
                    ScopeSpans(
                        spans=[
                            Span(
                                trace_id=good_id,
                                span_id=b"\x33" * 8,
                                name="good-op",
                                start_time_unix_nano=t,
                                end_time_unix_nano=t + 10,
                            ),
                            Span(
                                trace_id=trace_id,
                                span_id=span_id,
                                name="bad-op",
                                start_time_unix_nano=t,
                                end_time_unix_nano=t + 10,
                            ),
                        ]
                    )
                ],
            )
        ]
    )
    resp = post_otlp(seeded, "traces", request.SerializeToString(), content_type="application/x-protobuf")
    if resp.status_code == 200:
        partial = ExportTraceServiceResponse.FromString(resp.content).partial_success
        rejected, message = partial.rejected_spans, partial.error_message
    else:
        rejected, message = 0, error_message(resp)
    check_bad_span_outcome(seeded, resp.status_code, rejected, message)


# --- body size limit ----------------------------------------------------------------------------------


@pytest.fixture
def small_limit(osprey_factory) -> OspreyServer:
    server = osprey_factory(env={"OSPREY_SERVER_MAX_BODY_SIZE": "64KiB"})
    seed(server)
    return server


def big_logs_body(body_bytes: int) -> bytes:
    return json.dumps(logs_request("big", [log_record(time.time_ns(), "x" * body_bytes)])).encode()


@pytest.mark.parametrize("port", ["otlp", "http"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-protobuf"])
def test_oversize_body_is_413(small_limit: OspreyServer, port: str, content_type: str) -> None:
    # 72 KiB > 64 KiB: a small overshoot, so the whole request is on the wire
    # before the server answers (no reset races on a half-read body).
    body = big_logs_body(72 * 1024)
    resp = post_otlp(small_limit, "logs", body, port=port, content_type=content_type)
    assert_rejected(resp, 413)
    assert_unharmed(small_limit)


def test_body_under_limit_is_accepted(small_limit: OspreyServer) -> None:
    assert_accepted(post_otlp(small_limit, "logs", big_logs_body(32 * 1024)))
    assert small_limit.count("logs") == BASELINE["logs"] + 1


def test_gzip_bomb_is_refused(small_limit: OspreyServer) -> None:
    """Small on the wire, 2 MiB once inflated: the limit applies after decompression."""
    body = big_logs_body(2 * 1024 * 1024)
    assert len(gzip.compress(body)) < 64 * 1024
    resp = post_otlp(small_limit, "logs", body, gzip=True)
    assert_rejected(resp, (400, 413))
    assert_unharmed(small_limit)


# --- SQL -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE t (x INT)",
        "CREATE TABLE t AS SELECT * FROM logs",
        "CREATE VIEW v AS SELECT * FROM logs",
        "CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO logs (body) VALUES ('injected')",
        "DELETE FROM logs",
        "UPDATE logs SET body = 'x'",
        "DROP TABLE logs",
        "COPY logs TO '{copy_target}'",
        "COPY (SELECT 1) TO '{copy_target}'",
        "SELEC body FROM logs",  # syntax error
    ],
)
def test_sql_write_statements_refused(seeded: OspreyServer, query: str, tmp_path: Path) -> None:
    copy_target = tmp_path / "exfiltrated.csv"
    resp = seeded.sql_response(query.format(copy_target=copy_target))
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"
    assert body["error"]
    assert not copy_target.exists(), "COPY must not write files"
    assert seeded.sql("SELECT count(*) FROM logs WHERE body = 'injected'") == [[0]]
    assert_unharmed(seeded)
