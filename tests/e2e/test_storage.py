"""Storage through the real binary: partitioned files, compaction, the status page,
and exactly-once across compaction and kill -9."""

from __future__ import annotations

import time

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import OspreyServer

HOUR_NS = 3_600_000_000_000


def send_logs(server: OspreyServer, tag: str, times_ns: list[int]) -> None:
    records = [log_record(t, f"{tag} line {i}", attributes={"tag": tag}) for i, t in enumerate(times_ns)]
    assert_accepted(post_otlp(server, "logs", logs_request("storage-test", records)))


def partitions(server: OspreyServer) -> list[dict]:
    r = server.get("/api/v1/status/storage")
    assert r.status_code == 200, r.text
    return r.json()["data"]["partitions"]


def test_files_are_partitioned_by_hour(osprey: OspreyServer) -> None:
    now = time.time_ns()
    base = now - now % HOUR_NS
    send_logs(osprey, "p", [base - HOUR_NS + 1, base + 1, base + 2])
    osprey.flush()
    parts = [p for p in partitions(osprey) if p["signal"] == "logs"]
    assert [p["rows"] for p in parts] == [1, 2], parts
    assert all(p["files"] == 1 and p["bytes"] > 0 for p in parts)
    assert parts[0]["partition"] < parts[1]["partition"]
    assert osprey.count("logs") == 3


def test_compaction_keeps_every_row_once_across_kill(osprey: OspreyServer) -> None:
    now = time.time_ns()
    for i in range(6):
        send_logs(osprey, f"c{i}", [now + i * 10 + j for j in range(5)])
        osprey.flush()
    before = [p for p in partitions(osprey) if p["signal"] == "logs"]
    assert sum(p["files"] for p in before) == 6
    r = osprey.post("/api/v1/admin/compact")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["merges"] == 1
    after = [p for p in partitions(osprey) if p["signal"] == "logs"]
    assert sum(p["files"] for p in after) == 1
    assert sum(p["rows"] for p in after) == 30
    rows = osprey.sql("SELECT attributes['tag'], count(*) FROM logs GROUP BY 1 ORDER BY 1")
    assert rows == [[f"c{i}", 5] for i in range(6)]
    # More data in the memtable, then a crash.
    send_logs(osprey, "late", [now + 1000])
    osprey.restart(kill=True)
    assert osprey.count("logs") == 31
    assert osprey.count("logs", "attributes['tag'] = 'c3'") == 5


def test_series_index_answers_label_apis_across_restarts(osprey: OspreyServer) -> None:
    from test_remote_write import encode_write_request, post_write

    now_ms = int(time.time() * 1000)
    series = [
        ({"__name__": "idx_up", "job": "api", "instance": "a"}, [(1.0, now_ms)]),
        ({"__name__": "idx_up", "job": "db", "instance": "b"}, [(0.0, now_ms)]),
        ({"__name__": "idx_requests_total", "job": "api", "code": "500"}, [(3.0, now_ms)]),
    ]
    assert post_write(osprey, encode_write_request(series)).status_code == 204

    def check() -> None:
        labels = osprey.get("/api/v1/labels").json()
        assert labels["status"] == "success"
        assert labels["data"] == ["__name__", "code", "instance", "job"]
        jobs = osprey.get("/api/v1/label/job/values").json()["data"]
        assert jobs == ["api", "db"]
        r = osprey.get("/api/v1/series", params={"match[]": ['idx_up{job=~"a.*"}', "idx_requests_total"]})
        assert r.status_code == 200, r.text
        got = sorted(r.json()["data"], key=lambda s: s["__name__"])
        assert got == [
            {"__name__": "idx_requests_total", "job": "api", "code": "500"},
            {"__name__": "idx_up", "job": "api", "instance": "a"},
        ]
        # Regex and negative matchers resolve through the index.
        res = osprey.prom_query('{__name__=~"idx_.*", job!="db"}', at=now_ms / 1000)
        assert sorted(s["metric"]["__name__"] for s in res) == ["idx_requests_total", "idx_up"]
        assert osprey.get("/api/v1/series").status_code == 400

    check()
    osprey.restart(kill=True)  # series only in the WAL
    check()
    osprey.flush()
    osprey.restart(kill=True)  # series in a series file
    check()
