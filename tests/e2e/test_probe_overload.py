"""Overload is refused before requests are read and decoded (issue 13): requests being
decoded share `server.ingest_inflight_limit` (each takes about 4x its body); past it
HTTP ingest answers 429 with Retry-After and gRPC RESOURCE_EXHAUSTED, at once, and the
request admitted first is unaffected."""

from __future__ import annotations

import socket
import time

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2

from harness import OspreyServer

CONFIG = """
[server]
max_body_size = "256KiB"
ingest_inflight_limit = "1MiB"
"""


@pytest.fixture
def server(osprey_factory) -> OspreyServer:
    return osprey_factory(config=CONFIG)


def hold_request(server: OspreyServer, length: int) -> socket.socket:
    """Starts a log-lines request whose body is `length` bytes and sends only part of
    it: the request is admitted and holds its share of the budget."""
    s = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    s.sendall(f"POST /api/v1/logs?service=held HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
              f"Content-Length: {length}\r\n\r\n".encode() + b"held line\n")
    time.sleep(0.3)  # let the server read the head and admit it
    return s


def finish(s: socket.socket, length: int) -> bytes:
    sent = len(b"held line\n")
    s.sendall((b"x" * (length - sent - 1)) + b"\n")
    reply = s.recv(4096)
    s.close()
    return reply


def test_requests_past_the_inflight_budget_are_refused_at_once(server: OspreyServer) -> None:
    held = hold_request(server, 200 * 1024)  # about 800 KiB of the 1 MiB budget
    started = time.monotonic()
    body = b"".join(b"second %d\n" % i for i in range(10000))  # ~110 KiB: ~440 KiB more
    r = server.post("/api/v1/logs?service=second", data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 429, r.text
    assert "ingest_inflight_limit" in r.json()["error"]
    assert r.headers["Retry-After"] == "1"
    assert time.monotonic() - started < 2.0
    # OTLP/HTTP on its own port shares the budget.
    r = server.post("/v1/logs", json={"resourceLogs": []})
    assert r.status_code in (200, 429)  # small: may fit the rest of the budget
    # gRPC: refused before tonic reads the message.
    req = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs()])
    with grpc.insecure_channel(f"127.0.0.1:{server.otlp_grpc_port}") as ch:
        stub = logs_service_pb2_grpc.LogsServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(req, timeout=5)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "ingest_inflight_limit" in err.value.details()

    # The first request is unaffected, and once it is answered the others fit.
    assert finish(held, 200 * 1024).startswith(b"HTTP/1.1 200")
    r = server.post("/api/v1/logs?service=second", data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    with grpc.insecure_channel(f"127.0.0.1:{server.otlp_grpc_port}") as ch:
        logs_service_pb2_grpc.LogsServiceStub(ch).Export(req, timeout=5)
    assert server.count("logs", "service = 'held'") == 2
    assert server.count("logs", "service = 'second'") == 10000
