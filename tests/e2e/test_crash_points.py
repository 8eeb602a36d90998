"""A crash proven to land in each phase: the server aborts at a named fault point.

The random kills of test_crash.py probably land inside flushes and compactions but
cannot show it. Debug builds have fault points (storage/src/faults.rs) armed with
the ``FAILPOINTS`` environment variable: ``flush.after_files=return`` aborts the
process right after a flush wrote its files and before its manifest lists them,
which leaves the disk exactly as a kill -9 at that moment would. Each test arms one
point, drives the phase while writers of all three signals run, checks that the
process died of SIGABRT at that point, restarts without it and checks what a kill -9
must leave: every acknowledged record once, nothing never sent, no data file the
manifest does not list; for rules no sample twice; for notifications the page
count (delivery is at least once, as Alertmanager's: a crash between the receiver's
answer and the saved notification log pages again, with the same group key and
alerts, which receivers such as PagerDuty deduplicate).

Retention is crashed at its point in ``storage/src/tests/faults.rs`` (an e2e run
would wait minutes for a partition to expire).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from builders import gauge_metric, log_record, logs_request, metrics_request, number_point, post_otlp, span, traces_request
from harness import OspreyServer, record_figure, wait_until
from test_notifier import Receiver

ENV = {
    # No flush or compaction but the ones a test asks for.
    "OSPREY_STORAGE_FLUSH_SIZE": "256MiB",
    "OSPREY_STORAGE_FLUSH_INTERVAL": "1h",
    "OSPREY_STORAGE_MAINTENANCE_INTERVAL": "1h",
}
TRACE_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"


def log_seq(batch: int, i: int) -> str:
    return f"cp{batch:05d}-{i}"


def span_id(batch: int) -> str:
    return f"7{batch:015x}"


class Writers:
    """Threads sending batches (3 logs, 1 span, 1 metric point, each its own request)
    until the server dies; records per signal the batches acknowledged."""

    def __init__(self, server: OspreyServer, threads: int = 3) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.next = 0
        self.attempted: set[int] = set()
        self.acked: dict[str, set[int]] = {"logs": set(), "traces": set(), "metrics": set()}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def take(self) -> int:
        with self.lock:
            self.next += 1
            self.attempted.add(self.next)
            return self.next

    def requests_for(self, b: int) -> dict[str, dict[str, Any]]:
        t = time.time_ns()
        logs = [log_record(t + i, f"crash point {log_seq(b, i)}", attributes={"seq": log_seq(b, i)}) for i in range(3)]
        metric = gauge_metric("crashpt.probe", [number_point(t, float(b), {"batch": str(b)})])
        return {
            "logs": logs_request("crashpt", logs),
            "traces": traces_request("crashpt", [span(TRACE_ID, span_id(b), f"op-{b}", t, t + 1000)]),
            "metrics": metrics_request("crashpt", [metric]),
        }

    def run(self) -> None:
        while not self.stop.is_set():
            b = self.take()
            for signal_name, body in self.requests_for(b).items():
                try:
                    r = post_otlp(self.server, signal_name, body)
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code == 200:
                    with self.lock:
                        self.acked[signal_name].add(b)

    def wait_for(self, batches: int) -> None:
        wait_until(lambda: len(self.acked["metrics"]) >= batches, timeout=30, message=f"{batches} batches acknowledged")

    def __enter__(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def arm(server: OspreyServer, point: str, action: str = "return") -> None:
    server.extra_env["FAILPOINTS"] = f"{point}={action}"
    server.start()


def await_abort(server: OspreyServer, point: str, timeout: float = 30) -> None:
    """The process dies of SIGABRT at ``point`` within ``timeout``; then disarm."""
    assert server.proc is not None
    try:
        rc = server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not reach {point} within {timeout}s\n{server.log_tail()}")
    server.proc = None
    server.extra_env.pop("FAILPOINTS", None)
    assert rc == -signal.SIGABRT, f"exit status {rc}, want SIGABRT\n{server.log_tail()}"
    assert f"fault point {point} reached" in server.log_tail(), server.log_tail()


def post_in_background(server: OspreyServer, path: str) -> None:
    """A request the crash interrupts: its answer, if any, does not matter."""

    def call() -> None:
        try:
            requests.post(server.http(path), timeout=30)
        except requests.RequestException:
            pass

    threading.Thread(target=call, daemon=True).start()


def data_files_on_disk(server: OspreyServer) -> int:
    return sum(1 for _ in (server.data_dir / "tables").rglob("*.parquet"))


def files_listed(server: OspreyServer) -> int:
    status = server.get("/api/v1/status/storage").json()["data"]
    return sum(p["files"] for p in status["partitions"])


def assert_each_acknowledged_once(server: OspreyServer, w: Writers) -> None:
    stored = {
        "logs": Counter(row[0] for row in server.sql("SELECT attributes['seq'] FROM logs WHERE service = 'crashpt'")),
        "traces": Counter(int(row[0][1:], 16) for row in server.sql(f"SELECT span_id FROM spans WHERE trace_id = '{TRACE_ID}'")),
        "metrics": Counter(
            int(row[0]) for row in server.sql("SELECT labels['batch'] FROM metrics WHERE metric = 'crashpt_probe'")
        ),
    }
    logs_by_batch = Counter(int(seq[2:7]) for seq in stored["logs"].elements())
    for name, counts in stored.items():
        doubled = [k for k, n in counts.items() if n > 1]
        assert not doubled, f"{name}: stored twice: {doubled[:10]}"
    assert all(n == 3 for n in logs_by_batch.values()), "a log request was stored in part"
    for name in ("logs", "traces", "metrics"):
        batches = set(logs_by_batch) if name == "logs" else set(stored[name])
        lost = w.acked[name] - batches
        assert not lost, f"{name}: acknowledged, lost: {sorted(lost)[:10]}"
        assert batches <= w.attempted, f"{name}: never sent: {sorted(batches - w.attempted)[:10]}"


STORAGE_POINTS = {
    # A group of appends written to the WAL, its fsync not yet done: the 41st group.
    "wal.fsync": ("40*off->return", None),
    "flush.after_files": ("return", "/api/v1/admin/flush"),
    "flush.after_manifest": ("return", "/api/v1/admin/flush"),
    "compact.after_merge": ("return", "/api/v1/admin/compact?full=true"),
    "compact.after_manifest": ("return", "/api/v1/admin/compact?full=true"),
}


@pytest.mark.parametrize("point", list(STORAGE_POINTS))
def test_a_crash_at_each_storage_point_loses_and_doubles_nothing(osprey_factory, point: str) -> None:
    action, trigger = STORAGE_POINTS[point]
    server = osprey_factory(env=ENV, start=False)
    arm(server, point, action)
    with Writers(server) as w:
        if trigger:
            w.wait_for(20)
        if trigger and trigger.startswith("/api/v1/admin/compact"):
            # Two files per partition and signal to merge.
            for _ in range(2):
                assert server.post("/api/v1/admin/flush").status_code == 200
                w.wait_for(len(w.acked["metrics"]) + 10)
        if trigger:
            post_in_background(server, trigger)
        await_abort(server, point)
    server.start()
    assert data_files_on_disk(server) == files_listed(server), "a data file the manifest does not list"
    assert_each_acknowledged_once(server, w)
    # The storage goes on: a flush and a full compaction, and still once each.
    assert server.post("/api/v1/admin/flush").status_code == 200
    assert server.post("/api/v1/admin/compact?full=true").status_code == 200
    assert_each_acknowledged_once(server, w)
    record_figure(f"crash at {point}: acknowledged batches, none lost or doubled", len(w.acked["metrics"]), "batches")


def test_an_fsync_error_refuses_writes_until_a_restart_and_loses_nothing(osprey_factory) -> None:
    """The fatal path: after an fsync error the page cache cannot be trusted, so
    storage refuses every write (503) and /readyz says so, queries go on, and a
    restart brings back every acknowledged record."""
    server = osprey_factory(env=ENV, start=False)
    arm(server, "wal.fsync", "20*off->return(error)")
    with Writers(server) as w:
        wait_until(lambda: server.get("/readyz").status_code == 503, timeout=30, message="readyz 503")
    ready = server.get("/readyz")
    assert "storage failed" in ready.text, ready.text
    r = post_otlp(server, "logs", logs_request("crashpt", [log_record(time.time_ns(), "after the failure")]))
    assert r.status_code == 503, (r.status_code, r.text)
    assert "writes are refused until the server restarts" in r.text, r.text
    assert server.sql_response("SELECT count(*) FROM logs").status_code == 200
    assert server.get("/api/v1/query", params={"query": "count(crashpt_probe)"}).status_code == 200
    server.kill()
    server.extra_env.pop("FAILPOINTS")
    server.start()
    assert_each_acknowledged_once(server, w)
    assert len(w.acked["metrics"]) >= 3


RULES = """\
groups:
  - name: crashpt
    interval: 1s
    rules:
      - record: crashpt:one
        expr: vector(1)
"""


def test_a_crash_after_a_rule_wrote_its_samples_writes_none_twice(osprey_factory, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    server = osprey_factory(env=ENV, config='[rules]\nfiles = ["rules.yml"]\n', start=False)
    arm(server, "rules.after_write", "4*off->return")
    await_abort(server, "rules.after_write")
    server.start()

    def samples() -> list[list[Any]]:
        return server.sql(
            "SELECT CAST(timestamp AS BIGINT), count(*) FROM metrics WHERE metric = 'crashpt:one' GROUP BY 1 ORDER BY 1"
        )

    rows = wait_until(lambda: len(s := samples()) >= 8 and s, timeout=30, message="evaluations after the restart")
    assert all(n == 1 for _, n in rows), f"a timestamp written twice: {rows}"


AM_YML = """\
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: '{hook}/x'}}]
"""
ALERT_RULES = """\
groups:
  - name: page
    interval: 1s
    rules:
      - alert: CrashPoint
        expr: vector(1)
"""


@pytest.mark.parametrize("point,pages", [("notify.after_send", 2), ("notify.after_save", 1)])
def test_a_crash_in_notification_pages_at_least_once(osprey_factory, tmp_path: Path, point: str, pages: int) -> None:
    hook = Receiver()
    (tmp_path / "rules.yml").write_text(ALERT_RULES)
    (tmp_path / "alertmanager.yml").write_text(AM_YML.format(hook=hook.url))
    config = '[rules]\nfiles = ["rules.yml"]\n[alerting]\nalertmanager_config = "alertmanager.yml"\n'
    try:
        server = osprey_factory(env=ENV, config=config, start=False)
        arm(server, point)
        await_abort(server, point)
        assert len(hook.bodies) == 1
        server.start()
        if pages == 2:
            wait_until(lambda: len(hook.bodies) == 2, timeout=20, message="the page sent again")
        time.sleep(6)  # group_wait and two group intervals: no further page
        assert len(hook.bodies) == pages, [b for _, b in hook.bodies]
        first, last = hook.bodies[0][1], hook.bodies[-1][1]
        assert last["groupKey"] == first["groupKey"]
        assert [(a["fingerprint"], a["startsAt"]) for a in last["alerts"]] == [
            (a["fingerprint"], a["startsAt"]) for a in first["alerts"]
        ]
    finally:
        hook.stop()
