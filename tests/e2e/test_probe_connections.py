"""Slow clients cannot hold connections (issue 13): on all three listeners a client
that sends its headers (or HTTP/2 preface) too slowly, or nothing at all, is
disconnected after `server.header_read_timeout`; a body still arriving after
`server.body_read_timeout` gets 408 and nothing of it is stored; at most
`server.max_connections` connections are open per listener, and the others wait.

The server runs with short limits (1 s / 2 s / 8 connections) so the test is quick;
the defaults (10 s / 60 s / 4096) are checked by the config's unit test."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from harness import OspreyServer, record_figure, wait_until

CONFIG = """
[server]
header_read_timeout = "1s"
body_read_timeout = "2s"
max_connections = 8
"""

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture
def server(osprey_factory) -> OspreyServer:
    return osprey_factory(config=CONFIG)


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    return s


def closed_by_server(s: socket.socket, within: float) -> bool:
    """True when the server closes `s` within `within` seconds (EOF or reset)."""
    s.settimeout(within)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def dribble(s: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Sends `data` a byte at a time, until done, stopped or disconnected."""
    for b in data:
        if stop.is_set():
            return
        try:
            s.sendall(bytes([b]))
        except OSError:
            return
        time.sleep(every)


def ports(server: OspreyServer) -> dict[str, int]:
    return {"http": server.http_port, "otlp_http": server.otlp_http_port, "grpc": server.otlp_grpc_port}


@pytest.mark.parametrize("listener", ["http", "otlp_http", "grpc"])
def test_slow_first_bytes_and_silent_clients_are_disconnected(server: OspreyServer, listener: str) -> None:
    port = ports(server)[listener]
    hello = H2_PREFACE if listener == "grpc" else b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n"
    stop = threading.Event()
    slow = [connect(port) for _ in range(4)]
    threads = [threading.Thread(target=dribble, args=(s, hello, 0.25, stop), daemon=True) for s in slow]
    for t in threads:
        t.start()
    silent = [connect(port) for _ in range(2)]
    try:
        started = time.monotonic()
        for s in slow + silent:
            assert closed_by_server(s, within=6), f"{listener}: connection still open"
        # Not before the timeout: the first bytes had a whole second.
        closed_after = time.monotonic() - started
        assert closed_after >= 0.8
        record_figure(f"slow and silent {listener} clients all closed after", round(closed_after, 2), "s")
    finally:
        stop.set()
        for s in slow + silent:
            s.close()
    assert server.get("/healthz").status_code == 200


@pytest.mark.parametrize("listener", ["http", "otlp_http"])
def test_slow_headers_after_the_first_bytes_are_cut(server: OspreyServer, listener: str) -> None:
    """Past the first bytes, hyper's own header deadline applies to the request head."""
    port = ports(server)[listener]
    s = connect(port)
    stop = threading.Event()
    s.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: localhost\r\n")
    t = threading.Thread(target=dribble, args=(s, b"X-Slow: " + b"a" * 200 + b"\r\n\r\n", 0.2, stop), daemon=True)
    t.start()
    try:
        assert closed_by_server(s, within=6)
    finally:
        stop.set()
        s.close()


def test_slow_and_lying_bodies_get_408_and_store_nothing(server: OspreyServer) -> None:
    for port in (server.http_port, server.otlp_http_port):
        for path in ("/api/v1/logs?service=slow", "/v1/logs"):
            if port == server.otlp_http_port and path.startswith("/api"):
                continue
            s = connect(port)
            # Content-Length promises 1000 bytes; 10 arrive, then nothing.
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 1000\r\n\r\n".encode() + b"first line")
            s.settimeout(8)
            reply = b""
            try:
                while b"\r\n\r\n" not in reply:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            finally:
                s.close()
            assert reply.startswith(b"HTTP/1.1 408"), (port, path, reply[:200])
    # A body that arrives in time is unaffected.
    r = server.post("/api/v1/logs?service=ok", data=b"in time\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert server.count("logs", "service = 'slow'") == 0
    assert server.count("logs", "service = 'ok'") == 1


def test_connections_beyond_the_limit_wait_for_a_free_slot(server: OspreyServer) -> None:
    hold = []
    for _ in range(8):
        s = connect(server.http_port)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # an unfinished request head
        hold.append(s)
    try:
        # The ninth client is accepted by the kernel but not served while all 8 slots
        # are taken; once the held ones time out (1 s), it is.
        ninth = connect(server.http_port)
        ninth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ninth.settimeout(0.4)
        with pytest.raises(socket.timeout):
            ninth.recv(100)
        ninth.settimeout(8)
        waiting = time.monotonic()
        assert ninth.recv(100).startswith(b"HTTP/1.1 200")
        record_figure("client beyond max_connections served after", round(time.monotonic() - waiting + 0.4, 2), "s")
        ninth.close()
    finally:
        for s in hold:
            s.close()
    wait_until(lambda: server.get("/healthz").status_code == 200, timeout=10, message="served again")


def _closed_by_server(s: socket.socket, within: float) -> bool:
    """Whether the server has closed `s`: what it sent before is drained, then EOF (or a
    reset) arrives within `within` seconds; a connection still open times out."""
    s.settimeout(within)
    try:
        while s.recv(1 << 16):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_stalled_tail_readers_are_disconnected(osprey_factory) -> None:
    """Clients that open a live tail (SSE and Loki's WebSocket) and then read nothing
    hold their connections only until a write has waited `server.write_timeout` for
    them; a tail that keeps reading stays open."""
    server = osprey_factory(config='[server]\nwrite_timeout = "2s"\n')

    def open_tail(request: bytes, rcvbuf: int = 4096) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect(("127.0.0.1", server.http_port))
        s.sendall(request)
        return s

    sse = b"GET /api/v1/logs/tail?query= HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    ws = (b"GET /loki/api/v1/tail?query=%7Bservice_name%3D%22s%22%7D HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
          b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    stalled = [open_tail(sse), open_tail(sse), open_tail(ws)]
    reading = open_tail(sse, rcvbuf=1 << 20)
    got = bytearray()
    done = threading.Event()

    def read() -> None:
        reading.settimeout(0.2)
        while not done.is_set():
            try:
                chunk = reading.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                return
            got.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)  # the tails are subscribed
    body = "".join(f"{'x' * 400} {i}\n" for i in range(5000)).encode()
    started = time.monotonic()
    for _ in range(8):
        r = requests.post(server.http("/api/v1/logs?service=s"), data=body, timeout=30,
                          headers={"Content-Type": "text/plain"})
        assert r.status_code == 200, r.text
    time.sleep(2 * 2 + 1)  # two write timeouts, and a margin
    closed = [_closed_by_server(s, within=10) for s in stalled]
    waited = time.monotonic() - started
    assert closed == [True, True, True], closed
    # The reader that kept up is still served.
    requests.post(server.http("/api/v1/logs?service=s"), data=b"after the stall\n", timeout=30,
                  headers={"Content-Type": "text/plain"})
    deadline = time.monotonic() + 10
    while b"after the stall" not in got and reader.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    reader.join(timeout=5)
    assert b"after the stall" in got, "the tail that kept reading was closed or starved"
    for s in [*stalled, reading]:
        s.close()
    record_figure("stalled tail readers disconnected after", round(waited, 1), "s")


def test_slow_large_bodies_do_not_hold_the_ingest_budget(osprey_factory) -> None:
    """Four clients declare 16 MiB bodies (64 MiB of the in-flight budget each, all of
    it before bodies reserved as they arrive) and send 1 KiB: meanwhile other clients'
    requests are taken in. Then the slow ones time out with 408 and store nothing."""
    server = osprey_factory(config="""
[server]
body_read_timeout = "3s"
ingest_inflight_limit = "64MiB"
""")
    slow = []
    for i in range(4):
        s = connect(server.http_port)
        s.sendall(f"POST /api/v1/logs?service=slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                  f"Content-Length: {16 << 20}\r\n\r\n".encode() + b"slow line\n" * 100)
        slow.append(s)
    try:
        time.sleep(0.3)
        started = time.monotonic()
        for i in range(5):
            r = server.post("/api/v1/logs?service=quick", data=b"quick line\n" * 10_000,
                            headers={"Content-Type": "text/plain"})
            assert r.status_code == 200, r.text
        record_figure("requests taken in while 4 slow 16 MiB bodies arrive", 5, "requests")
        assert time.monotonic() - started < 2.5, "the quick requests waited for the slow ones"
        for s in slow:
            s.settimeout(8)
            assert s.recv(100).startswith(b"HTTP/1.1 408")
    finally:
        for s in slow:
            s.close()
    assert server.count("logs", "service = 'quick'") == 50_000
    assert server.count("logs", "service = 'slow'") == 0
