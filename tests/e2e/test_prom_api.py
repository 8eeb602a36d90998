"""Prometheus HTTP API shapes beyond the compliance suite: metadata endpoints with
match[] and limit, range-query parameters and their errors, form POST, and the query
limits answering with Prometheus' error shape."""

from __future__ import annotations

import time

from harness import OspreyServer
from test_remote_write import encode_write_request, post_write


def seed(server: OspreyServer, now_ms: int) -> None:
    series = []
    for job, inst in (("api", "a:1"), ("api", "a:2"), ("web", "w:1")):
        series.append(({"__name__": "up", "job": job, "instance": inst}, [(1.0, now_ms - 120_000 + i * 15_000) for i in range(9)]))
    series.append(({"__name__": "other_metric", "zone": "z1"}, [(float(i), now_ms - 120_000 + i * 15_000) for i in range(9)]))
    assert post_write(server, encode_write_request(series)).status_code == 204


def ok(resp) -> object:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]


def bad(resp, status: int, error_type: str, needle: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert (body["status"], body["errorType"]) == ("error", error_type), body
    assert needle in body["error"], body


def test_metadata_endpoints_with_match_and_limit(osprey: OspreyServer) -> None:
    seed(osprey, int(time.time() * 1000))
    assert ok(osprey.get("/api/v1/labels")) == ["__name__", "instance", "job", "zone"]
    assert ok(osprey.get("/api/v1/labels", params={"match[]": "up"})) == ["__name__", "instance", "job"]
    assert ok(osprey.post("/api/v1/labels", data={"match[]": "other_metric"})) == ["__name__", "zone"]
    assert ok(osprey.get("/api/v1/label/job/values")) == ["api", "web"]
    assert ok(osprey.get("/api/v1/label/instance/values", params={"match[]": 'up{job="api"}'})) == ["a:1", "a:2"]
    assert ok(osprey.get("/api/v1/label/__name__/values", params={"limit": "1"})) == ["other_metric"]
    series = ok(osprey.get("/api/v1/series", params=[("match[]", "up"), ("match[]", "other_metric"), ("limit", "2")]))
    assert series == [
        {"__name__": "other_metric", "zone": "z1"},
        {"__name__": "up", "instance": "a:1", "job": "api"},
    ]
    bad(osprey.get("/api/v1/labels", params={"limit": "abc"}), 400, "bad_data", '"limit"')
    bad(osprey.get("/api/v1/series", params={"match[]": "rate(up[5m])"}), 400, "bad_data", "not a series selector")


def test_range_query_shape_and_errors(osprey: OspreyServer) -> None:
    now = time.time()
    seed(osprey, int(now * 1000))
    start, end = int(now) - 60, int(now)
    data = ok(osprey.get("/api/v1/query_range", params={"query": "sum by (job) (up)", "start": start, "end": end, "step": "15s"}))
    assert data["resultType"] == "matrix"
    by_job = {r["metric"]["job"]: r["values"] for r in data["result"]}
    assert sorted(by_job) == ["api", "web"]
    assert [t for t, _ in by_job["api"]] == list(range(start, end + 1, 15))
    assert {v for _, v in by_job["api"]} == {"2"}
    # Form POST, a scalar result becomes one series without labels.
    data = ok(osprey.post("/api/v1/query_range", data={"query": "1 + 1", "start": start, "end": end, "step": "30"}))
    assert data["result"] == [{"metric": {}, "values": [[t, "2"] for t in range(start, end + 1, 30)]}]

    q = {"query": "up", "start": start, "end": end}
    bad(osprey.get("/api/v1/query_range", params=q), 400, "bad_data", '"step"')
    bad(osprey.get("/api/v1/query_range", params={**q, "step": "0"}), 400, "bad_data", "zero or negative")
    bad(osprey.get("/api/v1/query_range", params={**q, "start": end, "end": start, "step": "15"}), 400, "bad_data", "end timestamp must not be before start")
    bad(osprey.get("/api/v1/query_range", params={**q, "start": 0, "step": "1"}), 400, "bad_data", "exceeded maximum resolution of 11000 points")
    bad(osprey.get("/api/v1/query_range", params={**q, "start": "yesterday", "step": "15"}), 400, "bad_data", '"start"')
    bad(osprey.get("/api/v1/query_range", params={**q, "query": "up[5m]", "step": "15"}), 400, "bad_data", "range vector")
    bad(osprey.get("/api/v1/query", params={"query": "sum(up"}), 400, "bad_data", "query")
    bad(osprey.get("/api/v1/query", params={"query": "sort_by_label(up, \"job\")"}), 400, "bad_data", "sort_by_label")
    bad(osprey.get("/api/v1/query", params={"query": 'up + on(job) up{job="api"}'}), 422, "execution", "many-to-many matching not allowed")


def test_query_limits_give_prometheus_errors(osprey_factory) -> None:
    server = osprey_factory(env={"OSPREY_QUERY_MAX_SAMPLES": "4", "OSPREY_QUERY_MAX_SERIES": "2"})
    now = time.time()
    seed(server, int(now * 1000))
    bad(server.get("/api/v1/query", params={"query": "count_over_time(other_metric[5m])", "time": now}), 422, "execution", "too many samples")
    bad(server.get("/api/v1/query", params={"query": "up", "time": now}), 422, "execution", "query.max_series")
    # Within the limits (two raw samples in the lookback window) the same server answers.
    data = ok(server.get("/api/v1/query", params={"query": "other_metric", "time": now - 100}))
    assert [r["value"][1] for r in data["result"]] == ["1"]


def test_otlp_histogram_exemplars(osprey: OspreyServer) -> None:
    """OTLP histogram exemplars land on the bucket their value falls in, with trace_id,
    span_id and filtered attributes as labels (Prometheus' OTLP translation)."""
    from builders import TEMPORALITY_CUMULATIVE, assert_accepted, metrics_request, post_otlp

    now_ns = time.time_ns()
    point = {
        "timeUnixNano": str(now_ns),
        "count": "3",
        "sum": 1.7,
        "bucketCounts": ["1", "1", "1"],
        "explicitBounds": [0.1, 1.0],
        "attributes": [{"key": "route", "value": {"stringValue": "/pay"}}],
        "exemplars": [
            {
                "timeUnixNano": str(now_ns - 5_000_000),
                "asDouble": 0.4,
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "filteredAttributes": [{"key": "user.tier", "value": {"stringValue": "gold"}}],
            },
            {"timeUnixNano": str(now_ns - 1_000_000), "asDouble": 1.2, "traceId": "5bf92f3577b34da6a3ce929d0e0e4736"},
        ],
    }
    hist = {"name": "rpc.latency", "unit": "s", "histogram": {"aggregationTemporality": TEMPORALITY_CUMULATIVE, "dataPoints": [point]}}
    assert_accepted(post_otlp(osprey, "metrics", metrics_request("checkout", [hist])))
    r = osprey.get("/api/v1/query_exemplars", params={"query": "rpc_latency_seconds_bucket", "start": now_ns / 1e9 - 60, "end": now_ns / 1e9 + 1})
    data = ok(r)
    by_le = {g["seriesLabels"]["le"]: g["exemplars"] for g in data}
    assert set(by_le) == {"1", "+Inf"}
    assert by_le["1"] == [
        {
            "labels": {"user_tier": "gold", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
            "value": "0.4",
            "timestamp": (now_ns - 5_000_000) // 1_000_000 / 1000,
        }
    ]
    assert by_le["+Inf"][0]["labels"] == {"trace_id": "5bf92f3577b34da6a3ce929d0e0e4736"}
    assert data[0]["seriesLabels"]["job"] == "checkout" and data[0]["seriesLabels"]["route"] == "/pay"

    # Exemplars survive a crash (replayed from the WAL), and a flush that deletes the
    # WAL segments and then a restart (the ring saved by the flush).
    def exemplars() -> list:
        r = osprey.get("/api/v1/query_exemplars", params={"query": "rpc_latency_seconds_bucket", "start": now_ns / 1e9 - 60, "end": now_ns / 1e9 + 1})
        return sorted(ok(r), key=lambda g: g["seriesLabels"]["le"])
    before = exemplars()
    osprey.restart(kill=True)
    assert exemplars() == before
    assert osprey.post("/api/v1/admin/flush").status_code == 200
    osprey.restart(kill=True)
    assert exemplars() == before
