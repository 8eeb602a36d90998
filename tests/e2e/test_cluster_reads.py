"""Reads through a querier that only ingesters can answer (issue 23, Deliver 4):
exemplars and metric metadata live in the memory of the ingester that received them,
so a querier asks every ingester and merges; its answers equal a single node's fed
the same requests, and an ingester that does not answer is named.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import OspreyServer
from test_cluster import loopback_cluster
from test_remote_write_v2 import V2Builder, post_v2

COUNTER, GAUGE = 1, 2  # io.prometheus.write.v2.Metadata.MetricType


def request(k: int, now_ms: int) -> bytes:
    """Ingester k's share: a counter of its own job with two exemplars, and on the
    second a gauge family the first never sees."""
    b = V2Builder()
    ts = b.series({"__name__": "rpc_total", "job": f"api-{k}"}, [(10.0 + k, now_ms - 3000), (12.0 + k, now_ms - 2000)])
    for i in range(2):
        ts.exemplars.add(labels_refs=[b.ref("trace_id"), b.ref(f"{k}{i}" * 8)], value=0.5 + k + i, timestamp=now_ms - 2500 + i * 500)
    ts.metadata.type = COUNTER
    ts.metadata.help_ref = b.ref("RPCs served.")
    if k == 1:
        g = b.series({"__name__": "queue_depth", "queue": "q"}, [(4.0, now_ms - 2000)])
        g.metadata.type = GAUGE
        g.metadata.help_ref = b.ref("Jobs waiting.")
        g.metadata.unit_ref = b.ref("jobs")
    return b.body()


def answer(server: OspreyServer, path: str, **params: object) -> dict:
    r = server.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_querier_answers_every_ingesters_exemplars_and_metadata(osprey_factory, tmp_path: Path) -> None:
    ingesters, (querier,), internal = loopback_cluster(osprey_factory, tmp_path, 2)
    single = osprey_factory()
    now = int(time.time() * 1000)
    for k, ingester in enumerate(ingesters):
        body = request(k, now)
        for target in (ingester, single):
            r = post_v2(target, body)
            assert r.status_code == 204, r.text

    window = {"start": (now - 60_000) / 1000, "end": now / 1000}
    asks = [
        ("/api/v1/query_exemplars", {"query": "rpc_total", **window}),
        ("/api/v1/query_exemplars", {"query": 'sum(rate(rpc_total{job="api-1"}[5m]))', **window}),
        ("/api/v1/query_exemplars", {"query": "rpc_total", "start": (now - 2200) / 1000, "end": now / 1000}),
        ("/api/v1/metadata", {}),
        ("/api/v1/metadata", {"metric": "queue_depth"}),
        ("/api/v1/metadata", {"limit": "1"}),
    ]
    for path, params in asks:
        want = answer(single, path, **params)
        got = answer(querier, path, **params)
        assert got == want, (path, params)
        assert "warnings" not in got
    everything = answer(querier, "/api/v1/query_exemplars", query="rpc_total", **window)["data"]
    assert [g["seriesLabels"]["job"] for g in everything] == ["api-0", "api-1"]
    assert [len(g["exemplars"]) for g in everything] == [2, 2]
    assert answer(querier, "/api/v1/metadata")["data"] == {
        "queue_depth": [{"type": "gauge", "help": "Jobs waiting.", "unit": "jobs"}],
        "rpc_total": [{"type": "counter", "help": "RPCs served.", "unit": ""}],
    }

    # One ingester down: its exemplars and metadata are missing, and the answer says so.
    ingesters[1].kill()
    partial = answer(querier, "/api/v1/query_exemplars", query="rpc_total", **window)
    assert [g["seriesLabels"]["job"] for g in partial["data"]] == ["api-0"]
    (warning,) = partial["warnings"]
    assert internal[1] in warning and "did not answer" in warning, warning
    meta = answer(querier, "/api/v1/metadata")
    assert set(meta["data"]) == {"rpc_total"} and len(meta["warnings"]) == 1
    strict = querier.get("/api/v1/metadata", params={"partial_response": "false"})
    assert strict.status_code == 503, strict.text


def test_a_querier_tails_the_lines_every_ingester_acknowledges(osprey_factory, tmp_path: Path) -> None:
    """A live tail on a querier (server-sent events, and Loki's WebSocket) merges what
    each ingester acknowledges, for the asking tenant only; an ingester that restarts
    is relayed again."""
    import json
    import urllib.parse

    import websocket  # websocket-client

    from builders import assert_accepted, log_record, logs_request, post_otlp
    from test_tail import collect, open_tail

    ingesters, (querier,), _ = loopback_cluster(osprey_factory, tmp_path, 2)
    _, events = open_tail(querier, {"query": "checkout"})
    _, other = open_tail(querier, {"query": ""}, tenant="acme")
    ws_url = querier.http("/loki/api/v1/tail").replace("http://", "ws://")
    q = urllib.parse.quote('{service_name="shop"} |= "checkout"', safe="")
    ws = websocket.create_connection(f"{ws_url}?query={q}&limit=10", timeout=20)
    try:
        time.sleep(0.5)  # the subscriptions are taken when the responses start

        def send(k: int, tag: str) -> None:
            now = time.time_ns()
            records = [log_record(now, f"checkout {tag} on {k}"), log_record(now + 1, f"browse {tag} on {k}")]
            assert_accepted(post_otlp(ingesters[k], "logs", logs_request("shop", records)))

        send(0, "a")
        send(1, "a")
        got = collect(events, 2)
        assert sorted(d["body"] for e, d in got if e == "log") == ["checkout a on 0", "checkout a on 1"]
        lines: list[str] = []
        while len(lines) < 2:
            frame = json.loads(ws.recv())
            lines += [v[1] for s in frame["streams"] for v in s["values"]]
        assert sorted(lines) == ["checkout a on 0", "checkout a on 1"]
        assert collect(events, 1, timeout=1.0) == []
        assert collect(other, 1, timeout=0.5) == [], "another tenant's tail sees nothing"

        # An ingester restarted: its relay connects again and goes on.
        ingesters[1].restart(kill=True)
        time.sleep(2.5)  # the relay's reconnect
        send(1, "b")
        got = collect(events, 1)
        assert [d["body"] for _, d in got] == ["checkout b on 1"]
    finally:
        ws.close()
