"""Durability: every acknowledged record survives a crash, exactly once.

A "batch" is three OTLP/HTTP JSON requests (5 logs, 2 spans, 1 metric point),
each tagged with unique ids, so stored rows can be counted per id: missing
ids mean lost data, ids seen twice mean a replay duplicated data.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import requests

from builders import (
    assert_accepted,
    gauge_metric,
    log_record,
    logs_request,
    metrics_request,
    number_point,
    post_otlp,
    span,
    traces_request,
)
from harness import OspreyServer, record_figure, wait_until

LOGS_PER_BATCH = 5
SPANS_PER_BATCH = 2
TRACE_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def log_seq(batch: int, i: int) -> str:
    return f"b{batch:04d}-l{i}"


def span_id(batch: int, i: int) -> str:
    # Leading "5": an all-zero span id would be invalid.
    return f"5{batch:013x}{i:02x}"


def send_batch(server: OspreyServer, batch: int, base_ns: int) -> None:
    """Send one batch; return only once all three requests were acknowledged."""
    t = base_ns + batch * 1_000_000
    logs = [
        log_record(t + i, f"restart log {log_seq(batch, i)}", attributes={"seq": log_seq(batch, i)})
        for i in range(LOGS_PER_BATCH)
    ]
    assert_accepted(post_otlp(server, "logs", logs_request("restart", logs)))
    spans = [span(TRACE_ID, span_id(batch, i), f"op-{batch}-{i}", t, t + 1000) for i in range(SPANS_PER_BATCH)]
    assert_accepted(post_otlp(server, "traces", traces_request("restart", spans)))
    metric = gauge_metric("restart.probe", [number_point(t, float(batch), {"batch": str(batch)})])
    assert_accepted(post_otlp(server, "metrics", metrics_request("restart", [metric])))


def assert_exactly_once(server: OspreyServer, batches: range) -> None:
    """Every record of ``batches`` is stored once; nothing else is stored."""
    logs = Counter(row[0] for row in server.sql("SELECT attributes['seq'] FROM logs"))
    assert logs == Counter({log_seq(b, i): 1 for b in batches for i in range(LOGS_PER_BATCH)})
    spans = Counter(row[0] for row in server.sql("SELECT span_id FROM spans"))
    assert spans == Counter({span_id(b, i): 1 for b in batches for i in range(SPANS_PER_BATCH)})
    points = Counter(row[0] for row in server.sql("SELECT labels['batch'] FROM metrics WHERE metric = 'restart_probe'"))
    assert points == Counter({str(b): 1 for b in batches})
    # The values themselves survived too, not just the ids.
    assert server.sql("SELECT sum(value) FROM metrics WHERE metric = 'restart_probe'") == [[float(sum(batches))]]


def test_kill_without_flush(osprey: OspreyServer) -> None:
    base = time.time_ns() - 60_000_000_000
    batches = range(20)
    for b in batches:
        send_batch(osprey, b, base)
    assert_exactly_once(osprey, batches)

    osprey.restart(kill=True)
    assert_exactly_once(osprey, batches)

    # Crash again right after recovery: replaying twice must not duplicate.
    osprey.restart(kill=True)
    assert_exactly_once(osprey, batches)

    # Flushing what was recovered from the WAL must not duplicate either.
    osprey.flush()
    assert_exactly_once(osprey, batches)
    osprey.restart(kill=True)
    assert_exactly_once(osprey, batches)


def test_kill_after_flush_and_more_data(osprey: OspreyServer) -> None:
    base = time.time_ns() - 60_000_000_000
    for b in range(10):
        send_batch(osprey, b, base)
    osprey.flush()  # batches 0-9 now in Parquet
    assert_exactly_once(osprey, range(10))
    for b in range(10, 20):
        send_batch(osprey, b, base)  # batches 10-19 only in the WAL/memtable
    assert_exactly_once(osprey, range(20))

    osprey.restart(kill=True)
    assert_exactly_once(osprey, range(20))

    # Data written after recovery is durable as well.
    for b in range(20, 25):
        send_batch(osprey, b, base)
    osprey.restart(kill=True)
    assert_exactly_once(osprey, range(25))

    osprey.flush()
    osprey.restart(kill=True)
    assert_exactly_once(osprey, range(25))


def test_graceful_shutdown_keeps_data(osprey: OspreyServer) -> None:
    base = time.time_ns() - 60_000_000_000
    for b in range(10):
        send_batch(osprey, b, base)
    osprey.stop()  # asserts exit status 0 within 15 s of SIGTERM
    osprey.start()
    assert_exactly_once(osprey, range(10))

    osprey.flush()
    for b in range(10, 15):
        send_batch(osprey, b, base)
    osprey.restart(kill=False)
    assert_exactly_once(osprey, range(15))


def test_kill_during_ingest(osprey: OspreyServer) -> None:
    """SIGKILL while two clients are writing: acknowledged logs are all there,
    nothing is duplicated, and nothing that was never sent appears."""
    base = time.time_ns() - 60_000_000_000
    url = osprey.otlp_http("/v1/logs")
    lock = threading.Lock()
    sent: set[str] = set()
    acked: set[str] = set()
    stop = threading.Event()
    problems: list[str] = []  # why a writer stopped before the kill

    def writer(worker: int) -> None:
        session = requests.Session()
        session.trust_env = False
        for n in range(2000):  # bounded; stops much earlier
            if stop.is_set():
                return
            batch = worker * 10_000 + n
            seqs = [log_seq(batch, i) for i in range(LOGS_PER_BATCH)]
            body = logs_request(
                "crash",
                [log_record(base + batch * 1000 + i, "crash test", attributes={"seq": s}) for i, s in enumerate(seqs)],
            )
            with lock:
                sent.update(seqs)
            try:
                resp = session.post(url, json=body, timeout=10)
            except requests.RequestException as exc:
                if not stop.is_set():
                    problems.append(f"writer {worker}: {exc!r}")
                return  # server is gone
            if resp.status_code != 200:
                if not stop.is_set():
                    problems.append(f"writer {worker}: HTTP {resp.status_code} {resp.text[:200]}")
                return
            with lock:
                acked.update(seqs)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(2)]
    for t in threads:
        t.start()
    try:
        # Wait for real progress (or for both writers to give up early).
        wait_until(
            lambda: len(acked) >= 40 * LOGS_PER_BATCH or not any(t.is_alive() for t in threads),
            timeout=60,
            message="40 acknowledged batches",
        )
        assert len(acked) >= 40 * LOGS_PER_BATCH, f"writers stopped early: {problems}"
        # SIGKILL with requests in flight; the writers notice and stop.
        osprey.kill()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)

    started = time.monotonic()
    osprey.start()
    record_figure("start to ready after SIGKILL during ingest", round(time.monotonic() - started, 2), "s")
    stored = Counter(row[0] for row in osprey.sql("SELECT attributes['seq'] FROM logs"))
    record_figure("acknowledged records checked after SIGKILL", len(acked), "records")
    duplicated = {s: n for s, n in stored.items() if n != 1}
    assert not duplicated, f"duplicated after recovery: {sorted(duplicated)[:10]}"
    lost = acked - set(stored)
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:10]}"
    unknown = set(stored) - sent
    assert not unknown, f"records that were never sent: {sorted(unknown)[:10]}"


def test_sigterm_finishes_requests_in_flight_and_stores_them(osprey: OspreyServer) -> None:
    """SIGTERM while a request's body is still arriving: the server stops taking new
    connections, lets the request finish (200), stores it, and exits 0."""
    import socket
    import signal as signals

    lines = b"".join(b"in flight %d\n" % i for i in range(100))
    s = socket.create_connection(("127.0.0.1", osprey.http_port), timeout=10)
    s.sendall(b"POST /api/v1/logs?service=inflight HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
              b"Content-Length: %d\r\n\r\n" % len(lines) + lines[:50])
    time.sleep(0.3)  # the head is read, the request admitted
    assert osprey.proc is not None
    osprey.proc.send_signal(signals.SIGTERM)
    # New connections are refused once the listeners close.
    wait_until(lambda: not _connects(osprey.http_port), timeout=10, message="listener closed")
    s.sendall(lines[50:])
    reply = s.recv(4096)
    s.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert osprey.proc.wait(timeout=15) == 0
    osprey.proc = None
    osprey.start()
    assert osprey.count("logs", "service = 'inflight'") == 100


def _connects(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
