"""Ingest holes found by probing (issue 13): each test sends the probe's request and
checks the exact answer, and that nothing acknowledged is lost.

- Records dated outside the accepted window (before the retention, more than a day
  ahead, or 2^64-1 ns) were acknowledged and then deleted by retention: logs and spans
  are now stored at arrival time with `osprey.original_time`, metric points refused in
  `partial_success`.
- Wrong status codes: gRPC decode failures and oversized messages are INVALID_ARGUMENT
  (not the retried INTERNAL / OUT_OF_RANGE); requests that can never fit are 413, not
  429; remote_write refuses absurd label sets; GET on an OTLP path says POST.
- Memory: requests with pathologically many records are refused before they cost memory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import grpc
import pytest
import requests
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from builders import gauge_metric, log_record, logs_request, metrics_request, number_point, post_otlp, span, traces_request
from harness import HTTP_TIMEOUT_S, OspreyServer, recent_second, record_figure, rfc3339_to_ns
from protos import REMOTE_WRITE_V1, message_classes
from test_remote_write import post_write

RW = message_classes("prometheus", REMOTE_WRITE_V1)
U64_MAX = 2**64 - 1
ORIGINAL = "osprey.original_time"
SERVICES = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}


# --- helpers ----------------------------------------------------------------------------------


def grpc_export(server: OspreyServer, signal: str, body: bytes, compression=None) -> bytes:
    """One raw OTLP/gRPC Export call: the bytes go out as they are."""
    target = server.grpc_endpoint.removeprefix("http://")
    options = [("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(SERVICES[signal], request_serializer=None, response_deserializer=None)
        return call(body, timeout=HTTP_TIMEOUT_S, compression=compression)


def grpc_error(server: OspreyServer, signal: str, body: bytes, compression=None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        grpc_export(server, signal, body, compression)
    return info.value


def pb_logs(service: str, records: list[LogRecord]) -> ExportLogsServiceRequest:
    res = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=res, scope_logs=[ScopeLogs(log_records=records)])]
    )


def pb_record(time_ns: int, body: str) -> LogRecord:
    return LogRecord(time_unix_nano=time_ns, body=AnyValue(string_value=body))


def assert_alive(server: OspreyServer) -> None:
    assert requests.get(server.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
    t = time.time_ns()
    r = post_otlp(server, "logs", logs_request("alive", [log_record(t, "still here")]))
    assert r.status_code == 200, r.text


def log_rows(server: OspreyServer, service: str) -> dict[str, dict]:
    rows = server.sql_dicts(f"SELECT body, timestamp, attributes FROM logs WHERE service = '{service}'")
    return {r["body"]: r for r in rows}


# --- 1. acknowledged records that were then lost -----------------------------------------------


def test_otlp_logs_dated_1970_or_2554_are_stored_at_arrival_time(osprey: OspreyServer) -> None:
    """time_unix_nano=1 and 2^64-1 over HTTP/JSON, HTTP/protobuf and gRPC: stored now with
    their own time in osprey.original_time, and the answer says so (0 rejected)."""
    on_time = recent_second(60) * 10**9
    before = time.time_ns()
    # HTTP/JSON
    r = post_otlp(osprey, "logs", logs_request("clock-json", [log_record(1, "json 1970"), log_record(U64_MAX, "json 2554"), log_record(on_time, "json on time")]))
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert int(partial.get("rejectedLogRecords", 0)) == 0, partial
    assert "2 records dated before the retention" in partial["errorMessage"] and ORIGINAL in partial["errorMessage"], partial
    # HTTP/protobuf
    body = pb_logs("clock-pb", [pb_record(1, "pb 1970"), pb_record(U64_MAX, "pb 2554")]).SerializeToString()
    r = post_otlp(osprey, "logs", body, content_type="application/x-protobuf")
    assert r.status_code == 200, r.text
    resp = ExportLogsServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_log_records == 0
    assert "2 records dated" in resp.partial_success.error_message
    # gRPC
    body = pb_logs("clock-grpc", [pb_record(1, "grpc 1970"), pb_record(U64_MAX, "grpc 2554")]).SerializeToString()
    resp = ExportLogsServiceResponse.FromString(grpc_export(osprey, "logs", body))
    assert resp.partial_success.rejected_log_records == 0
    assert "2 records dated" in resp.partial_success.error_message
    after = time.time_ns()

    for service, prefix in (("clock-json", "json"), ("clock-pb", "pb"), ("clock-grpc", "grpc")):
        rows = log_rows(osprey, service)
        for body, original in ((f"{prefix} 1970", "1970-01-01T00:00:00.000000001Z"), (f"{prefix} 2554", "2554-07-21T23:34:33.709551615Z")):
            row = rows[body]
            assert before <= rfc3339_to_ns(row["timestamp"]) <= after, row
            assert row["attributes"][ORIGINAL] == original, row
    assert rfc3339_to_ns(log_rows(osprey, "clock-json")["json on time"]["timestamp"]) == on_time
    assert ORIGINAL not in log_rows(osprey, "clock-json")["json on time"]["attributes"]
    # Unset (0) still means "observed time, else arrival": no re-dating note.
    r = post_otlp(osprey, "logs", logs_request("clock-unset", [log_record(0, "unset", observed_ns=on_time)]))
    assert r.status_code == 200 and not r.json().get("partialSuccess"), r.text
    row = log_rows(osprey, "clock-unset")["unset"]
    assert rfc3339_to_ns(row["timestamp"]) == on_time and ORIGINAL not in row["attributes"]
    # A retention run keeps them: they are dated now.
    osprey.flush()
    assert osprey.count("logs", "service LIKE 'clock-%'") == 8


def test_otlp_span_dated_1970_moves_to_arrival_with_its_duration(osprey: OspreyServer) -> None:
    start_1970 = 1_000_000  # 1 ms after the epoch
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4736"
    before = time.time_ns()
    r = post_otlp(osprey, "traces", traces_request("span-1970", [span(trace_id, "00f067aa0ba902b7", "ancient", start_1970, start_1970 + 2_500_000)]))
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert int(partial.get("rejectedSpans", 0)) == 0 and "1 records dated" in partial["errorMessage"], partial
    # gRPC: a span at 2^64-1.
    req = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="span-max"))]),
                scope_spans=[
                    ScopeSpans(
                        spans=[Span(trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex("00f067aa0ba902b8"), name="far", start_time_unix_nano=U64_MAX, end_time_unix_nano=U64_MAX)]
                    )
                ],
            )
        ]
    )
    resp = ExportTraceServiceResponse.FromString(grpc_export(osprey, "traces", req.SerializeToString()))
    assert resp.partial_success.rejected_spans == 0 and "1 records dated" in resp.partial_success.error_message
    after = time.time_ns()
    rows = osprey.sql_dicts("SELECT name, start_time, end_time, duration_ns, attributes FROM spans WHERE service LIKE 'span-%' ORDER BY name")
    assert [r["name"] for r in rows] == ["ancient", "far"]
    ancient, far = rows
    assert before <= rfc3339_to_ns(ancient["start_time"]) <= after, ancient
    assert ancient["duration_ns"] == 2_500_000
    assert rfc3339_to_ns(ancient["end_time"]) - rfc3339_to_ns(ancient["start_time"]) == 2_500_000
    assert ancient["attributes"][ORIGINAL] == "1970-01-01T00:00:00.001Z"
    assert before <= rfc3339_to_ns(far["start_time"]) <= after and far["duration_ns"] == 0, far
    assert far["attributes"][ORIGINAL] == "2554-07-21T23:34:33.709551615Z"


def test_otlp_metric_points_outside_the_window_are_rejected(osprey: OspreyServer) -> None:
    """A point at 1 ns, 2^64-1 or 3 days ahead is refused in partial_success (re-dating a
    sample would corrupt its series); the point on time is stored."""
    on_time = recent_second(60) * 10**9
    points = [number_point(1, 1.0), number_point(U64_MAX, 2.0), number_point(time.time_ns() + 3 * 86_400 * 10**9, 3.0), number_point(on_time, 4.0)]
    r = post_otlp(osprey, "metrics", metrics_request("window", [gauge_metric("probe.window", points)]))
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 3, partial
    msg = partial["errorMessage"]
    assert "outside the accepted time window" in msg and "1970-01-01T00:00:00.000000001Z is before the retention of 15d" in msg, msg
    assert "ahead of the server's clock" in msg, msg
    # gRPC, the same answer.
    req = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                scope_metrics=[
                    ScopeMetrics(metrics=[Metric(name="probe_grpc_window", gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=1, as_double=1.0), NumberDataPoint(time_unix_nano=on_time, as_double=5.0)]))])
                ]
            )
        ]
    )
    resp = ExportMetricsServiceResponse.FromString(grpc_export(osprey, "metrics", req.SerializeToString()))
    assert resp.partial_success.rejected_data_points == 1
    assert "outside the accepted time window" in resp.partial_success.error_message
    rows = osprey.sql_dicts("SELECT metric, timestamp, value FROM metrics WHERE metric LIKE 'probe%window' ORDER BY metric")
    assert [(r["metric"], rfc3339_to_ns(r["timestamp"]), r["value"]) for r in rows] == [
        ("probe_grpc_window", on_time, 5.0),
        ("probe_window", on_time, 4.0),
    ]


# --- 2. wrong status codes and messages ----------------------------------------------------------


def test_content_type_and_encoding_messages_name_what_is_accepted(osprey: OspreyServer) -> None:
    r = osprey.post("/api/v1/logs", data=b"x\n", headers={"Content-Type": "image/png"})
    assert r.status_code == 415
    assert r.json()["error"] == (
        'unsupported content type "image/png"; expected lines as application/x-ndjson, application/jsonl, '
        "application/json, text/plain, application/octet-stream or application/x-www-form-urlencoded"
    )
    r = osprey.post("/api/v1/write", data=b"\x1f\x8b", headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert r.status_code == 415
    assert r.json()["error"] == 'unsupported content encoding "gzip"; expected snappy (remote_write bodies are snappy-compressed)'


def test_readme_lines_example_works_with_real_curl(osprey: OspreyServer) -> None:
    """The README's example, run as typed (curl's default form content type)."""
    assert shutil.which("curl"), "curl is needed"
    readme = (__import__("pathlib").Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("printf '%s\\n' '{\"level\":\"error\"")
    command = readme[start : readme.index("```", start)].strip()
    assert "localhost:9800/api/v1/logs?service=shop" in command, command
    command = command.replace("localhost:9800", osprey.http("").removeprefix("http://").rstrip("/"))
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == {"accepted": 2, "invalid_utf8": 0, "truncated": 0, "retimed": 0}, out
    rows = osprey.sql_dicts("SELECT body, severity_text FROM logs WHERE service = 'shop' ORDER BY body")
    assert [(r["body"], r["severity_text"]) for r in rows] == [("ok", "INFO"), ("payment failed", "ERROR")]


def test_get_on_write_paths_is_405_naming_post(osprey: OspreyServer) -> None:
    urls = [osprey.otlp_http(p) for p in ("/v1/logs", "/v1/traces", "/v1/metrics")]
    urls += [osprey.http(p) for p in ("/v1/logs", "/v1/traces", "/v1/metrics", "/api/v1/logs", "/api/v1/write", "/loki/api/v1/push")]
    for url in urls:
        r = requests.get(url, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 405, url
        assert r.headers["Allow"] == "POST", (url, r.headers)
        path = url.split("/", 3)[3]
        assert r.json()["error"] == f"method GET is not allowed on /{path}: it takes POST", r.text


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _nested(depth: int) -> bytes:
    """A request (any of the three: resource → attributes is field 1 → 1 → 1 in each)
    whose attribute value nests arrays `depth` deep."""
    value = b""
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value → ArrayValue.values
    kv = _field(1, b"k") + _field(2, value)
    return _field(1, _field(1, _field(1, kv)))


def _bad_messages(signal: str) -> dict[str, bytes]:
    good = {
        "logs": pb_logs("bad", [pb_record(time.time_ns(), "x" * 40)]),
        "traces": ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="n" * 40)])])]),
        "metrics": ExportMetricsServiceRequest(resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=[Metric(name="m" * 40, gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=time.time_ns(), as_double=1.0)]))])])]),
    }[signal].SerializeToString()
    return {
        "garbage": b"this is not protobuf \xff\xfe\xfd",
        "truncated": good[: len(good) // 2],
        "nested 5000 deep": _nested(5000),
        "invalid UTF-8": _field(1, _field(1, _field(1, _field(1, b"\xff\xfe")))),
    }


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
def test_grpc_undecodable_messages_are_invalid_argument(osprey: OspreyServer, signal: str) -> None:
    """Garbage, truncated, 5,000-deep and invalid UTF-8 messages: INVALID_ARGUMENT (not
    INTERNAL, which OTLP exporters retry)."""
    request = {"traces": "ExportTraceServiceRequest", "logs": "ExportLogsServiceRequest", "metrics": "ExportMetricsServiceRequest"}[signal]
    for what, body in _bad_messages(signal).items():
        err = grpc_error(osprey, signal, body)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (what, err.code(), err.details())
        assert err.details().startswith(f"malformed protobuf {request}: "), (what, err.details())
    assert osprey.count("logs") + osprey.count("spans") + osprey.count("metrics") == 0
    assert_alive(osprey)


def test_grpc_message_over_the_limit_is_invalid_argument(osprey: OspreyServer) -> None:
    """17 MiB, plain or gzip'd: INVALID_ARGUMENT naming the limit (OUT_OF_RANGE and
    RESOURCE_EXHAUSTED were retried forever)."""
    big = _field(1, b"\x00" * (17 << 20))
    err = grpc_error(osprey, "logs", big)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    assert "exceeds the limit of 16777216 bytes (gRPC message; server.max_body_size)" in err.details(), err.details()
    err = grpc_error(osprey, "traces", big, compression=grpc.Compression.Gzip)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err
    assert "exceeds the limit of 16777216 bytes after gzip decompression" in err.details(), err.details()
    assert_alive(osprey)


def _write(server: OspreyServer, labels: list[tuple[str, str]]) -> requests.Response:
    Label = RW["Label"]
    req = RW["WriteRequest"]()
    ts = req.timeseries.add()
    ts.labels.extend([Label(name=n, value=v) for n, v in labels])
    ts.samples.add(value=1.0, timestamp=recent_second(60) * 1000)
    return post_write(server, req.SerializeToString())


def test_remote_write_absurd_label_sets_are_400(osprey: OspreyServer) -> None:
    name = ("__name__", "probe_labels")
    cases = [
        ([name] + [(f"l{i}", "v") for i in range(50_000)], "time series 0: 50001 labels; at most 128 are accepted per series"),
        ([name, ("big", "v" * (1 << 20))], 'time series 0: the value of label "big" has 1048576 bytes; at most 16384 are accepted'),
        ([name, ("n" * (64 << 10), "v")], "has 65536 bytes; at most 1024 are accepted"),
        ([name, ("a", "1"), ("a", "2")], 'time series 0: duplicate label name "a"'),
    ]
    for labels, message in cases:
        r = _write(osprey, labels)
        assert r.status_code == 400, (message, r.status_code, r.text[:300])
        assert message in r.json()["error"], r.json()["error"][:500]
    assert osprey.count("metrics") == 0
    r = _write(osprey, [name, ("a", "1")])
    assert r.status_code == 204, r.text
    assert osprey.count("metrics", "metric = 'probe_labels'") == 1


def test_lines_request_that_can_never_fit_is_413(osprey_factory) -> None:
    """5,000,000 short lines (10 MB) got 429 forever: 413 naming the limit. And a batch
    larger than storage.memtable_limit, however empty the memtables: 413, not 429."""
    server = osprey_factory()
    body = b"x\n" * 5_000_000
    r = server.post("/api/v1/logs", params={"service": "x"}, data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "the request holds 5000000 lines; at most 200000 are accepted in one request: send smaller batches"
    assert "Retry-After" not in r.headers
    assert server.count("logs", "service = 'x'") == 0
    assert_alive(server)

    small = osprey_factory(config='[storage]\nmemtable_limit = "4MiB"\nflush_size = "1MiB"\n')
    r = small.post("/api/v1/logs", params={"service": "y"}, data=b"y\n" * 150_000, headers={"Content-Type": "text/plain"})
    assert r.status_code == 413, r.text
    msg = r.json()["error"]
    assert msg.startswith("the request's 150000 records take ") and "more than storage.memtable_limit (4194304 bytes)" in msg, msg
    assert small.count("logs", "service = 'y'") == 0
    r = small.post("/api/v1/logs", params={"service": "y"}, data=b"y\n" * 1000, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and small.count("logs", "service = 'y'") == 1000


# --- 3. memory ----------------------------------------------------------------------------------


def _peak_rss(server: OspreyServer) -> int:
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_two_million_empty_log_records_are_refused_before_they_cost_memory(osprey: OspreyServer) -> None:
    records = b"\x12\x00" * 2_000_000  # ScopeLogs.log_records: an empty LogRecord each
    body = _field(1, _field(2, records))  # ExportLogsServiceRequest.resource_logs → scope_logs
    assert len(body) < 4_100_000
    before = _peak_rss(osprey)
    r = post_otlp(osprey, "logs", body, content_type="application/x-protobuf")
    assert r.status_code == 413, r.text[:300]
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(r.content)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == "the request holds 2000000 log records; at most 200000 are accepted in one request: send smaller batches"
    err = grpc_error(osprey, "logs", body)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "2000000 log records" in err.details()
    # The same as OTLP/JSON: refused by what its objects would decode to.
    doc = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + b"{}," * 1_999_999 + b"{}]}]}]}"
    r = post_otlp(osprey, "logs", doc)
    assert r.status_code == 413 and "bytes of memory decoded; at most 268435456" in r.json()["message"], r.text[:300]
    record_figure("peak RSS growth refusing 2M-record OTLP requests", (_peak_rss(osprey) - before) >> 20, "MiB")
    assert _peak_rss(osprey) - before < 256 << 20, (before, _peak_rss(osprey))
    assert osprey.count("logs") == 0
    assert_alive(osprey)


def test_remote_write_and_loki_pushes_that_decode_to_gigabytes_are_refused_first(osprey: OspreyServer) -> None:
    """remote_write (1.0 and 2.0) and Loki push (protobuf and JSON) are counted on the
    wire before they are decoded, as OTLP is: millions of empty series or entries in a
    few MB of snappy would otherwise decode to gigabytes. A snappy stream that claims
    more than the body cap is refused before it is inflated."""
    import cramjam

    from test_remote_write import snappy

    before = _peak_rss(osprey)
    empty_series = b"\x0a\x00" * 3_000_000  # WriteRequest.timeseries: empty TimeSeries
    r = post_write(osprey, empty_series)
    assert r.status_code == 413 and "bytes of memory decoded" in r.text, r.text[:300]
    v2 = requests.post(osprey.http("/api/v1/write"), data=snappy(b"\x2a\x00" * 3_000_000), timeout=HTTP_TIMEOUT_S,
                       headers={"Content-Encoding": "snappy",
                                "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"})
    assert v2.status_code == 413 and "bytes of memory decoded" in v2.text, v2.text[:300]
    entries = b"\x12\x00" * 300_000  # StreamAdapter.entries: empty EntryAdapter
    loki_pb = _field(1, entries)
    r = requests.post(osprey.http("/loki/api/v1/push"), data=snappy(loki_pb), timeout=HTTP_TIMEOUT_S,
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 413 and "300000 entries" in r.text, r.text[:300]
    doc = '{"streams":[{"stream":{"job":"x"},"values":[' + ",".join(['["1",""]'] * 300_000) + "]}]}"
    r = requests.post(osprey.http("/loki/api/v1/push"), data=doc, timeout=HTTP_TIMEOUT_S,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "entries" in r.text, r.text[:300]
    # A snappy block whose header claims 64 MiB (the cap is 16 MiB) is not inflated.
    bomb = bytes(cramjam.snappy.compress_raw(b"\x00" * (64 << 20)))
    assert len(bomb) < 4 << 20
    r = post_write(osprey, bomb, compress=False)
    assert r.status_code == 413, r.text[:300]
    r = requests.post(osprey.http("/loki/api/v1/push"), data=bomb, timeout=HTTP_TIMEOUT_S,
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 413, r.text[:300]
    record_figure("peak RSS growth refusing remote_write/Loki bodies that decode to GBs",
                  (_peak_rss(osprey) - before) >> 20, "MiB")
    assert _peak_rss(osprey) - before < 256 << 20, (before, _peak_rss(osprey))
    assert osprey.count("metrics") == 0 and osprey.count("logs") == 0
    assert_alive(osprey)
