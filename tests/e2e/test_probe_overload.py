"""Overload is refused before requests are read and decoded (issue 13): requests being
decoded share `server.ingest_inflight_limit` (each takes about 4x its body); past it
HTTP ingest answers 429 with Retry-After and gRPC RESOURCE_EXHAUSTED, at once, and the
request admitted first is unaffected."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import grpc
import pytest
import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.common.v1 import common_pb2
from google.rpc import status_pb2

from harness import OspreyServer, record_figure

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
    refused_after = time.monotonic() - started
    record_figure("429 past the in-flight budget answered after", round(refused_after * 1000, 1), "ms")
    assert refused_after < 2.0
    # OTLP/HTTP on its own port shares the budget.
    r = server.post("/v1/logs", json={"resourceLogs": []})
    assert r.status_code in (200, 429)  # small: may fit the rest of the budget
    # gRPC: refused by the length in the message prefix, before tonic reads the
    # message (~100 KiB: ~400 KiB to decode); an empty one still fits.
    with grpc.insecure_channel(f"127.0.0.1:{server.otlp_grpc_port}") as ch:
        logs_service_pb2_grpc.LogsServiceStub(ch).Export(logs_service_pb2.ExportLogsServiceRequest(), timeout=5)
    record = logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="g" * 100_000))
    req = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=[record])])]
    )
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


def vm_hwm_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def export_request(records: int, tag: str) -> bytes:
    pad = "p" * 180
    req = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(scope_logs=[
        logs_pb2.ScopeLogs(log_records=[
            logs_pb2.LogRecord(time_unix_nano=time.time_ns(), body={"string_value": f"{tag} {i} {pad}"})
            for i in range(records)
        ])
    ])])
    return req.SerializeToString()


def test_memory_stays_bounded_under_overload(osprey_factory) -> None:
    """16 clients send 2 MB OTLP requests as fast as they can for 8 s: the server
    refuses what does not fit (429) and its peak resident set stays under
    `server.memory_limit` (ingest pauses at 3/4 of it; a flush works in the rest)."""
    memory_limit = 320 << 20
    server = osprey_factory(config=f"""
[server]
ingest_inflight_limit = "32MiB"
memory_limit = "{memory_limit >> 20}MiB"
[storage]
memtable_limit = "64MiB"
flush_size = "16MiB"
""")
    assert server.proc is not None
    baseline = vm_hwm_bytes(server.proc.pid)
    body = export_request(10_000, "load")
    assert len(body) > 2_000_000
    statuses: dict[int | str, int] = {}
    refused_by: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + 8

    def client() -> None:
        s = requests.Session()
        while time.monotonic() < stop:
            try:
                r = s.post(server.otlp_http("/v1/logs"), data=body,
                           headers={"Content-Type": "application/x-protobuf"}, timeout=30)
                status: int | str = r.status_code
                if status == 429:
                    assert r.headers.get("Retry-After"), r.headers
                    # OTLP/HTTP errors are a google.rpc.Status in the request's encoding,
                    # whichever layer refuses (admission or storage).
                    assert r.headers["Content-Type"] == "application/x-protobuf", r.headers
                    message = status_pb2.Status.FromString(r.content).message
                    named = re.findall(r"\((server\.\w+|storage\.\w+)", message)
                    with lock:
                        for key in named:
                            refused_by[key] = refused_by.get(key, 0) + 1
            except requests.RequestException as exc:
                # A refusal must reach the client: a reset while it sends is a failure.
                status = type(exc).__name__
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = vm_hwm_bytes(server.proc.pid)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.get(200, 0) > 0, statuses
    grown = peak - baseline
    print(f"statuses {statuses}, baseline {baseline >> 20} MiB, peak {peak >> 20} MiB, "
          f"grown {grown >> 20} MiB, refused by {refused_by}")
    record_figure("peak RSS under 16 clients", peak >> 20, "MiB")
    record_figure("peak RSS growth under 16 clients", grown >> 20, "MiB")
    record_figure("answers 200", statuses.get(200, 0), "requests")
    record_figure("answers 429", statuses.get(429, 0), "requests")
    # The bound is the process's whole resident set, baseline included; the memory
    # bound did refuse (it engages before the memtables fill).
    assert peak < memory_limit, f"peak {peak >> 20} MiB over server.memory_limit: {statuses}"
    assert refused_by.get("server.memory_limit", 0) > 0, refused_by
    # Every acknowledged record is there.
    assert server.count("logs") == statuses.get(200, 0) * 10_000
    # It was an overload (more refused than accepted; the figure records how much) ...
    assert statuses.get(429, 0) > statuses.get(200, 0), statuses
    record_figure("requests offered per request accepted", round(sum(statuses.values()) / statuses[200], 1), "x")
    # ... and it is over at once: the next request is accepted as soon as the memtable
    # has drained to files.
    started = time.monotonic()
    small = export_request(10, "after")
    while (r := requests.post(server.otlp_http("/v1/logs"), data=small, timeout=30,
                              headers={"Content-Type": "application/x-protobuf"})).status_code != 200:
        assert r.status_code == 429 and time.monotonic() - started < 10, (r.status_code, r.text)
        time.sleep(0.05)
    record_figure("time to the first 200 after the overload", round(time.monotonic() - started, 2), "s")
