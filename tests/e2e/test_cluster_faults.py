"""Faults in a cluster (issue 23): ingesters killed with SIGKILL while clients write to
them and they flush, then restarted on the same directory; an ingester down while
clients go on writing. Every acknowledged row is read back exactly once through the
querier: none lost, none counted twice.
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest
import requests

from builders import assert_accepted, log_record, logs_request, post_otlp, traces_request
from harness import OspreyServer, free_ports, recent_second, wait_until
from test_cluster import assert_no_stale_epoch, config_for, loopback_cluster, spans_of, start_role, warned

# How long a client keeps retrying one request before the test gives up on it.
RETRY_FOR_S = 60
SPANS_PER_REQUEST = 12


def request_body(n: int, t: int) -> dict:
    """Request `n`: four traces of three spans, ids unique to it."""
    spans = [s for k in range(4) for s in spans_of(f"{n * 4 + k + 1:032x}", n * 4 + k, t + n * 1000 + k)]
    return traces_request(f"svc-{n % 3}", spans)


def send_until_acknowledged(ingesters: list[OspreyServer], body: dict, rng: random.Random) -> float:
    """Sends `body` to a random running ingester until one answers 200; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < RETRY_FOR_S:
        target = rng.choice(ingesters)
        if target.proc is None:
            continue
        try:
            if post_otlp(target, "traces", body).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"a request was not acknowledged within {RETRY_FOR_S}s")


def assert_each_span_once(querier: OspreyServer, requests_sent: int) -> None:
    rows = querier.sql("SELECT count(*), count(DISTINCT trace_id || span_id) FROM spans")
    assert rows == [[requests_sent * SPANS_PER_REQUEST] * 2], rows
    assert querier.sql("SELECT trace_id FROM spans GROUP BY trace_id HAVING count(*) <> 3") == []


def test_ingesters_killed_during_ingest_and_flush_lose_and_double_nothing(osprey_factory, tmp_path: Path) -> None:
    """Ten rounds of SIGKILL of a random ingester while a client writes (retrying each
    request unchanged until it is acknowledged) and the others flush; each restarts on
    its own directory. Every span acknowledged is read back once."""
    ingesters, [querier], _ = loopback_cluster(osprey_factory, tmp_path, 3)
    t = recent_second(600) * 1_000_000_000
    rng = random.Random(23)
    sent = [0]
    stop = threading.Event()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                send_until_acknowledged(ingesters, request_body(sent[0], t), rng)
                sent[0] += 1
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failure.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(10):
            time.sleep(rng.uniform(0.2, 0.6))
            victim = rng.choice(ingesters)
            victim.kill()
            for other in ingesters:
                if other is not victim and other.proc is not None:
                    other.post("/api/v1/admin/flush")
            time.sleep(rng.uniform(0.1, 0.4))
            victim.start()
    finally:
        stop.set()
        writer.join(timeout=RETRY_FOR_S + 10)
    assert not failure, failure
    assert sent[0] > 20, f"only {sent[0]} requests acknowledged"
    assert_each_span_once(querier, sent[0])
    # And once more after every ingester flushed what it holds.
    for i in ingesters:
        assert i.post("/api/v1/admin/flush").status_code == 200
    assert_each_span_once(querier, sent[0])
    # Ten new epochs, commits racing: each file committed under its writer's epoch.
    assert_no_stale_epoch(tmp_path / "bucket")


def test_with_one_ingester_down_writes_go_on_and_reads_name_it(osprey_factory, tmp_path: Path) -> None:
    """One of three ingesters killed: at least 99% of requests to the other two are
    acknowledged at the first try within 5 s; reads answer in time with a warning naming
    it; after its restart the answers are whole again."""
    ingesters, [querier], internal = loopback_cluster(osprey_factory, tmp_path, 3)
    t = recent_second(600) * 1_000_000_000
    for n in range(10):
        assert post_otlp(ingesters[n % 3], "traces", request_body(n, t)).status_code == 200
    ingesters[2].kill()
    ok = 0
    for n in range(10, 210):
        started = time.monotonic()
        r = post_otlp(ingesters[n % 2], "traces", request_body(n, t))
        if r.status_code == 200 and time.monotonic() - started < 5:
            ok += 1
        else:
            send_until_acknowledged(ingesters[:2], request_body(n, t), random.Random(n))
    assert ok >= 198, f"{ok} of 200 requests acknowledged at once"
    started = time.monotonic()
    r = querier.sql_response("SELECT count(*) FROM spans")
    assert time.monotonic() - started < 5
    assert warned(r, internal[2]), r.text
    ingesters[2].start()
    assert_each_span_once(querier, 210)


def test_every_acknowledged_batch_is_read_back_once_from_every_querier(osprey_factory, tmp_path: Path) -> None:
    """1,000 acknowledged batches, each read back from two queriers at once while the
    ingesters flush every second and the compactor merges and deletes: no batch
    missing, none twice, and no read leaves an ingester out."""
    ingesters, queriers, internal = loopback_cluster(osprey_factory, tmp_path, 3, queriers=2, busy=True)
    start_role(osprey_factory, config_for(tmp_path, "compactor-0", internal, f"127.0.0.1:{free_ports(1)[0]}", True), "compactor")
    t = recent_second(600) * 1_000_000_000
    for b in range(1000):
        logs = [log_record(t + b, f"visible vb{b}x batch")]
        assert_accepted(post_otlp(ingesters[b % 3], "logs", logs_request("svc-visible", logs)))
        for q in queriers:
            r = q.get("/api/v1/logs/search", params={"query": f"vb{b}x", "limit": "10"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert not body.get("warnings"), body
            assert body["data"]["stats"]["matched"] == 1, (b, q.name, body["data"]["stats"])
        if b % 250 == 249:
            for q in queriers:
                assert q.sql("SELECT count(*) FROM logs") == [[b + 1]]
    merged = list((tmp_path / "bucket").glob("tables/**/logs/**/compactor-*.parquet"))
    assert merged, "the compactor merged files while the batches were read"


def listed_files(bucket: Path) -> set[str]:
    """The data files the newest manifest snapshot lists."""
    newest = max((bucket / "manifest").glob("*.json"))
    return {f["path"] for f in json.loads(newest.read_text())["files"]}


def test_a_compactor_killed_while_it_merges_loses_and_doubles_nothing(osprey_factory, tmp_path: Path) -> None:
    """Five rounds of SIGKILL of the compactor while the ingesters flush every second and
    it merges what they wrote, each followed by a restart on its own directory: every
    acknowledged line is read back once, and once things settle no data file is left
    that the newest snapshot does not list."""
    ingesters, [querier], internal = loopback_cluster(osprey_factory, tmp_path, 2, busy=True)
    compactor = start_role(osprey_factory, config_for(tmp_path, "compactor-0", internal, f"127.0.0.1:{free_ports(1)[0]}", True), "compactor")
    t = recent_second(600) * 1_000_000_000
    rng = random.Random(5)
    sent = 0
    for _ in range(5):
        deadline = time.monotonic() + rng.uniform(1.0, 2.5)
        while time.monotonic() < deadline:
            logs = [log_record(t + sent * 10 + i, f"merge line {sent} {i}") for i in range(10)]
            assert_accepted(post_otlp(ingesters[sent % 2], "logs", logs_request("svc-merge", logs)))
            sent += 1
        compactor.kill()
        compactor.start()
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[sent * 10, sent * 10]]
    merged = list((tmp_path / "bucket").glob("tables/**/logs/**/compactor-*.parquet"))
    assert merged, "the compactor merged files between its deaths"
    bucket = tmp_path / "bucket"

    def only_listed_files_left() -> bool:
        on_disk = {str(p.relative_to(bucket)) for p in bucket.glob("tables/**/*.parquet")}
        return on_disk <= listed_files(bucket)

    wait_until(only_listed_files_left, timeout=30, message="unlisted data files swept")
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[sent * 10, sent * 10]]


def test_a_retry_reaching_an_owner_back_from_down_is_not_stored_twice(osprey_factory, tmp_path: Path) -> None:
    """An owner down: the receiving ingester stores the owner's part in its place (the
    request is acknowledged). The owner restarts and learns which of its batches the
    other holds; the client then sends the same request again (a retry after an answer
    lost on the way): every span is still counted once."""
    ingesters, [querier], _ = loopback_cluster(osprey_factory, tmp_path, 2)
    t = recent_second(600) * 1_000_000_000
    body = traces_request("svc-retry", [s for k in range(10) for s in spans_of(f"{k + 1:032x}", k, t + k)])
    ingesters[1].kill()
    assert_accepted(post_otlp(ingesters[0], "traces", body))
    ingesters[1].start()
    assert_accepted(post_otlp(ingesters[0], "traces", body))
    assert_accepted(post_otlp(ingesters[1], "traces", body))
    rows = querier.sql("SELECT count(*), count(DISTINCT trace_id || span_id) FROM spans")
    assert rows == [[30, 30]], rows
    # Both parts were stored: the owner's in its place, the receiver's own.
    stored = querier.sql("SELECT count(DISTINCT trace_id) FROM spans")
    assert stored == [[10]], stored


@pytest.mark.parametrize("point", ["compact.after_merge", "compact.after_manifest"])
def test_a_compactor_crashing_at_its_commit_loses_and_doubles_nothing(osprey_factory, tmp_path: Path, point: str) -> None:
    """The compactor aborted where its merge is uploaded but not committed, and where it
    is committed but its inputs are not deleted yet; started again: every line is read
    once, the merge is done, and no data file the newest snapshot does not list is left
    once the grace period is over."""
    from test_crash_points import await_abort

    ingesters, [querier], internal = loopback_cluster(osprey_factory, tmp_path, 2, busy=True)
    bucket = tmp_path / "bucket"
    t = recent_second(600) * 1_000_000_000
    for k in range(8):
        logs = [log_record(t + k * 100 + i, f"commit crash {k} {i}") for i in range(10)]
        assert_accepted(post_otlp(ingesters[k % 2], "logs", logs_request("svc-crash", logs)))
        assert ingesters[k % 2].post("/api/v1/admin/flush").status_code == 200
    assert len(list(bucket.glob("tables/**/logs/**/ing-*.parquet"))) >= 8
    compactor = start_role(
        osprey_factory,
        config_for(tmp_path, "compactor-0", internal, f"127.0.0.1:{free_ports(1)[0]}", True),
        "compactor",
        env={"FAILPOINTS": f"{point}=return"},
    )
    await_abort(compactor, point)
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[80, 80]]
    compactor.start()

    def merged_and_swept() -> bool:
        on_disk = {str(p.relative_to(bucket)) for p in bucket.glob("tables/**/*.parquet")}
        merged = any("/logs/" in p and p.rsplit("/", 1)[-1].startswith("compactor-") for p in on_disk)
        return merged and on_disk <= listed_files(bucket)

    wait_until(merged_and_swept, timeout=30, message="the merge committed and unlisted files swept")
    assert querier.sql("SELECT count(*), count(DISTINCT body) FROM logs") == [[80, 80]]
