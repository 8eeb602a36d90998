"""The metrics head (issue 17): recent samples are served from memory, per tenant, and
the same answers come back after a flush and after a restart, once the head has
loaded the last two hours from the files (`/api/v1/status/storage` says when)."""

from __future__ import annotations

import time

from builders import assert_accepted, gauge_metric, metrics_request, number_point, post_otlp
from harness import OspreyServer, wait_until


def status(server: OspreyServer, tenant: str) -> dict:
    r = server.get("/api/v1/status/storage", tenant=tenant)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def range_query(server: OspreyServer, q: str, start: float, end: float, tenant: str) -> list:
    r = server.get("/api/v1/query_range", tenant=tenant,
                   params={"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "60"})
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


def test_head_serves_recent_samples_and_survives_restart(osprey: OspreyServer) -> None:
    now = time.time()
    # Three hours of a gauge per host, a point a minute: the first hour is older than
    # what the head keeps, the rest is in it.
    points = [
        number_point(int((now - 180 * 60 + i * 60) * 1e9), float(i % 13), {"host": h})
        for i in range(180) for h in ("a", "b")
    ]
    assert_accepted(post_otlp(osprey, "metrics", metrics_request("svc", [gauge_metric("load", points)]),
                              tenant="alpha"))
    s = status(osprey, "alpha")
    assert s["head_bytes"] > 0 and not s["head_loading"], s
    assert status(osprey, "beta")["head_bytes"] == 0

    queries = [
        ("sum(load)", now - 30 * 60, now),  # the head alone
        ("max_over_time(load[30m])", now - 170 * 60, now),  # files and head
        ("load", now - 175 * 60, now - 130 * 60),  # files alone
    ]
    before = [range_query(osprey, q, a, b, "alpha") for q, a, b in queries]
    assert all(before), before
    assert sum(len(s["values"]) for s in before[0]) == 31
    # Another tenant sees none of it.
    assert range_query(osprey, "sum(load)", now - 1800, now, "beta") == []

    assert osprey.post("/api/v1/admin/flush", tenant="alpha").status_code == 200
    assert [range_query(osprey, q, a, b, "alpha") for q, a, b in queries] == before

    osprey.restart(kill=False)
    # Until the head has loaded the files, queries read them; after, the head.
    assert [range_query(osprey, q, a, b, "alpha") for q, a, b in queries] == before
    wait_until(lambda: not status(osprey, "alpha")["head_loading"], timeout=30,
               message="the head loads recent samples after a restart")
    assert status(osprey, "alpha")["head_bytes"] > 0
    assert [range_query(osprey, q, a, b, "alpha") for q, a, b in queries] == before


def test_series_and_labels_honour_start_and_end(osprey: OspreyServer) -> None:
    now = time.time()

    def points(minutes_ago: range, **labels: str) -> list:
        return [number_point(int((now - m * 60) * 1e9), 1.0, labels) for m in minutes_ago]

    old = gauge_metric("old_metric", points(range(170, 160, -1), era="old"))
    new = gauge_metric("new_metric", points(range(10, -1, -1), era="new", zone="z1"))
    assert_accepted(post_otlp(osprey, "metrics", metrics_request("svc", [old, new])))

    def names(path: str, **params: str) -> list:
        r = osprey.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def series(start: float | None, end: float | None) -> list[str]:
        params = {"match[]": '{__name__=~"old_metric|new_metric"}'}
        if start is not None:
            params["start"] = f"{start:.3f}"
        if end is not None:
            params["end"] = f"{end:.3f}"
        return sorted(s["__name__"] for s in names("/api/v1/series", **params))

    def check() -> None:
        assert series(None, None) == ["new_metric", "old_metric"]
        assert series(now - 1800, now) == ["new_metric"]
        assert series(now - 175 * 60, now - 150 * 60) == ["old_metric"]
        assert series(now - 175 * 60, None) == ["new_metric", "old_metric"]
        assert series(now - 100 * 60, now - 50 * 60) == []
        recent = {"start": f"{now - 1800:.3f}", "end": f"{now:.3f}"}
        assert "zone" in names("/api/v1/labels", **recent)
        assert "zone" not in names("/api/v1/labels", start=f"{now - 175 * 60:.3f}", end=f"{now - 150 * 60:.3f}")
        assert names("/api/v1/label/era/values", **recent) == ["new"]
        assert names("/api/v1/label/era/values") == ["new", "old"]
        r = osprey.get("/api/v1/series", params={"match[]": "old_metric", "start": "10", "end": "5"})
        assert r.status_code == 400 and "end" in r.json()["error"], r.text

    check()  # memtable and head
    assert osprey.post("/api/v1/admin/flush").status_code == 200
    check()  # files and head
    osprey.restart(kill=False)
    wait_until(lambda: not status(osprey, "default")["head_loading"], timeout=30,
               message="the head loads recent samples after a restart")
    check()
