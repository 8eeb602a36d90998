"""kill -9 at random moments during ingest, background flushes and compactions:
every acknowledged record survives exactly once, 20+ times in a row.

The server runs with a tiny flush size and a 1 s maintenance interval, so
flushes and compactions are constantly under way when the kill lands; a side
thread also calls the admin flush and compact endpoints. Writers record the
ids of acknowledged requests only; ids whose request was in flight at the kill
may or may not be stored, but never twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import requests

from builders import log_record, logs_request, post_otlp
from harness import OspreyServer, record_figure

ITERATIONS = 20
ENV = {
    "OSPREY_STORAGE_FLUSH_SIZE": "32KiB",
    "OSPREY_STORAGE_MEMTABLE_LIMIT": "256MiB",
    "OSPREY_STORAGE_MAINTENANCE_INTERVAL": "1s",
    "OSPREY_STORAGE_COMPACTION_TARGET_SIZE": "1MiB",
    "OSPREY_QUERY_MAX_RESULT_ROWS": "10000000",
}


class Writers:
    """Concurrent writers sending batches of uniquely numbered log lines."""

    def __init__(self, server: OspreyServer, first_id: int, threads: int = 3, batch: int = 20) -> None:
        self.server = server
        self.next_id = first_id
        self.lock = threading.Lock()
        self.acked: list[int] = []
        self.attempted: list[int] = []
        self.stop = threading.Event()
        self.batch = batch
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def take_ids(self) -> list[int]:
        with self.lock:
            ids = list(range(self.next_id, self.next_id + self.batch))
            self.next_id += self.batch
            self.attempted.extend(ids)
            return ids

    def run(self) -> None:
        now = time.time_ns()
        while not self.stop.is_set():
            ids = self.take_ids()
            records = [log_record(now + i, f"crash-{i:08d}") for i in ids]
            try:
                r = post_otlp(self.server, "logs", logs_request("crash", records))
            except requests.RequestException:
                return  # the server is gone
            if r.status_code == 200:
                with self.lock:
                    self.acked.extend(ids)

    def __enter__(self) -> "Writers":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def admin_poker(server: OspreyServer, stop: threading.Event, poked: list[str]) -> None:
    while not stop.is_set():
        path = random.choice(["/api/v1/admin/flush", "/api/v1/admin/compact"])
        poked.append(path)
        try:
            requests.post(server.http(path), timeout=5)
        except requests.RequestException:
            return
        time.sleep(random.uniform(0.01, 0.1))


def stored_ids(server: OspreyServer) -> Counter:
    rows = server.sql("SELECT body FROM logs")
    return Counter(int(body.removeprefix("crash-")) for (body,) in rows)


def test_kill_minus_nine_loses_and_duplicates_nothing(osprey_factory) -> None:
    rng = random.Random(20261122)
    server = osprey_factory(env=ENV)
    acked: set[int] = set()
    attempted: set[int] = set()
    next_id = 0
    poked: list[str] = []
    for iteration in range(ITERATIONS):
        stop = threading.Event()
        poker = threading.Thread(target=admin_poker, args=(server, stop, poked), daemon=True)
        with Writers(server, next_id) as w:
            poker.start()
            time.sleep(rng.uniform(0.05, 0.6))
            server.kill()
        stop.set()
        poker.join(timeout=10)
        acked.update(w.acked)
        attempted.update(w.attempted)
        next_id = w.next_id
        server.start()
        stored = stored_ids(server)
        dupes = {i: n for i, n in stored.items() if n > 1}
        assert not dupes, f"iteration {iteration}: duplicated ids {sorted(dupes)[:10]}"
        lost = acked - set(stored)
        assert not lost, f"iteration {iteration}: lost {len(lost)} acknowledged ids, e.g. {sorted(lost)[:10]}"
        assert set(stored) <= attempted, f"iteration {iteration}: ids never sent appeared"
    record_figure("kill -9 with writers in flight", ITERATIONS, "kills")
    record_figure("acknowledged ids, none lost or doubled", len(acked), "ids")
    assert len(acked) > ITERATIONS * 20, "the writers barely wrote; the test proved little"
    assert len(poked) >= ITERATIONS, "admin flush/compact were hardly exercised"
    # The data went through files and compactions, not only the WAL.
    status = server.get("/api/v1/status/storage").json()["data"]
    assert sum(p["files"] for p in status["partitions"]) >= 1
