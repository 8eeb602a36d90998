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
