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

from harness import OspreyServer, wait_until

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
        assert time.monotonic() - started >= 0.8
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
        assert ninth.recv(100).startswith(b"HTTP/1.1 200")
        ninth.close()
    finally:
        for s in hold:
            s.close()
    wait_until(lambda: server.get("/healthz").status_code == 200, timeout=10, message="served again")
