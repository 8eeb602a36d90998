"""Hand-written OTLP/JSON requests for all three signals, plain and gzip'd.

The bodies are written out literally (not via builders) so that the wire
format under test is visible: hex ids, int64 values as strings, enums as
integers, and unknown fields that a receiver must ignore.
"""

from __future__ import annotations

import math
import time

import pytest

from builders import assert_accepted, post_otlp
from harness import OspreyServer, rfc3339_to_ns

# (listener, gzip): the OTLP/HTTP port and the main HTTP port both accept OTLP.
VARIANTS = [
    pytest.param("otlp", False, id="otlp-port-plain"),
    pytest.param("otlp", True, id="otlp-port-gzip"),
    pytest.param("http", False, id="main-port-plain"),
    pytest.param("http", True, id="main-port-gzip"),
]

TRACE_ID = "5b8efff798038103d269b633813fc60c"
ROOT_SPAN = "eee19b7ec3c1b174"
CHILD_SPAN = "eee19b7ec3c1b173"


def base_ns() -> int:
    """Ten seconds ago, with a non-zero sub-microsecond part to catch rounding."""
    return time.time_ns() - 10_000_000_000


def resource(service: str, *extra: dict) -> dict:
    return {"attributes": [{"key": "service.name", "value": {"stringValue": service}}, *extra]}


@pytest.mark.parametrize(("port", "gzip"), VARIANTS)
def test_traces_json(osprey: OspreyServer, port: str, gzip: bool) -> None:
    t0 = base_ns()
    body = {
        "resourceSpans": [
            {
                "resource": resource("json-svc", {"key": "host.name", "value": {"stringValue": "h1"}}),
                "scopeSpans": [
                    {
                        "scope": {"name": "json-scope", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": ROOT_SPAN,
                                "name": "root-op",
                                "kind": 2,  # SERVER
                                "startTimeUnixNano": str(t0),
                                "endTimeUnixNano": str(t0 + 1_234_567),
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "503"}},
                                    # Above 2^53: only survives if int64 strings are parsed as integers.
                                    {"key": "big", "value": {"intValue": "9007199254740993"}},
                                    {"key": "ok", "value": {"boolValue": False}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                    {"key": "note", "value": {"stringValue": "héllo wörld ✓"}},
                                ],
                                "status": {"code": 2, "message": "upstream down"},
                                "someFutureField": {"nested": [1, 2, 3]},  # unknown: ignored
                            },
                            {
                                "traceId": TRACE_ID,
                                "spanId": CHILD_SPAN,
                                "parentSpanId": ROOT_SPAN,
                                "name": "child-op",
                                "kind": 3,  # CLIENT
                                "startTimeUnixNano": str(t0 + 1000),
                                "endTimeUnixNano": str(t0 + 2000),
                                "events": [
                                    {
                                        "timeUnixNano": str(t0 + 1500),
                                        "name": "cache.miss",
                                        "attributes": [{"key": "cache.key", "value": {"stringValue": "user:1"}}],
                                    }
                                ],
                                "status": {},
                            },
                        ],
                    }
                ],
                "unknownResourceLevelField": "ignored",
            }
        ],
        "unknownTopLevelField": True,
    }
    assert_accepted(post_otlp(osprey, "traces", body, port=port, gzip=gzip))

    rows = osprey.sql_dicts(
        "SELECT name, service, kind, trace_id, span_id, parent_span_id, status_code, status_message,"
        " start_time, end_time, duration_ns, scope, events FROM spans ORDER BY start_time"
    )
    assert len(rows) == 2
    root, child = rows
    assert (root["name"], root["service"], root["kind"]) == ("root-op", "json-svc", "SPAN_KIND_SERVER")
    assert (root["trace_id"], root["span_id"], root["parent_span_id"]) == (TRACE_ID, ROOT_SPAN, "")
    assert (root["status_code"], root["status_message"]) == ("STATUS_CODE_ERROR", "upstream down")
    assert rfc3339_to_ns(root["start_time"]) == t0
    assert rfc3339_to_ns(root["end_time"]) == t0 + 1_234_567
    assert root["duration_ns"] == 1_234_567
    assert root["scope"] == "json-scope"

    assert (child["name"], child["kind"], child["parent_span_id"]) == ("child-op", "SPAN_KIND_CLIENT", ROOT_SPAN)
    assert child["status_code"] == "STATUS_CODE_UNSET"
    assert child["duration_ns"] == 1000
    assert "cache.miss" in child["events"]

    [attrs] = osprey.sql_dicts(
        "SELECT attributes['http.status_code'] AS status, attributes['big'] AS big, attributes['ok'] AS ok,"
        " attributes['ratio'] AS ratio, attributes['note'] AS note, resource['host.name'] AS host"
        " FROM spans WHERE name = 'root-op'"
    )
    assert attrs == {
        "status": "503",
        "big": "9007199254740993",
        "ok": "false",
        "ratio": "0.5",
        "note": "héllo wörld ✓",
        "host": "h1",
    }

    r = osprey.get(f"/api/traces/{TRACE_ID}")
    assert r.status_code == 200, r.text
    [jtrace] = r.json()["data"]
    spans = {s["spanID"]: s for s in jtrace["spans"]}
    assert sorted(spans) == sorted([ROOT_SPAN, CHILD_SPAN])
    assert spans[CHILD_SPAN]["references"] == [{"refType": "CHILD_OF", "traceID": TRACE_ID, "spanID": ROOT_SPAN}]
    assert {"key": "error", "type": "bool", "value": True} in spans[ROOT_SPAN]["tags"]
    assert spans[ROOT_SPAN]["startTime"] == t0 // 1000


@pytest.mark.parametrize(("port", "gzip"), VARIANTS)
def test_logs_json(osprey: OspreyServer, port: str, gzip: bool) -> None:
    t0 = base_ns()
    body = {
        "resourceLogs": [
            {
                "resource": resource("json-svc"),
                "scopeLogs": [
                    {
                        "scope": {"name": "json-logger"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(t0),
                                "observedTimeUnixNano": str(t0 + 7),
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"stringValue": "disk full on /var"},
                                "attributes": [
                                    {"key": "disk.free", "value": {"intValue": "0"}},
                                    {"key": "mount", "value": {"stringValue": "/var"}},
                                ],
                                "traceId": TRACE_ID,
                                "spanId": ROOT_SPAN,
                                "flags": 1,
                                "unknownField": "ignored",
                            },
                            {
                                "timeUnixNano": str(t0 + 1_000_000),
                                "severityNumber": 9,
                                "severityText": "INFO",
                                "body": {"stringValue": "rotated logs"},
                            },
                            {
                                "timeUnixNano": str(t0 + 2_000_000),
                                "severityNumber": 13,
                                "severityText": "WARN",
                                "body": {"stringValue": "ünïcödé ✓ payload"},
                            },
                        ],
                    }
                ],
            }
        ]
    }
    assert_accepted(post_otlp(osprey, "logs", body, port=port, gzip=gzip))

    rows = osprey.sql_dicts(
        "SELECT service, timestamp, observed_timestamp, severity_text, severity_number, body, trace_id,"
        " span_id, scope, attributes['disk.free'] AS disk_free, attributes['mount'] AS mount"
        " FROM logs ORDER BY timestamp"
    )
    assert [(r["severity_text"], r["severity_number"], r["body"]) for r in rows] == [
        ("ERROR", 17, "disk full on /var"),
        ("INFO", 9, "rotated logs"),
        ("WARN", 13, "ünïcödé ✓ payload"),
    ]
    first = rows[0]
    assert first["service"] == "json-svc"
    assert first["scope"] == "json-logger"
    assert rfc3339_to_ns(first["timestamp"]) == t0
    assert rfc3339_to_ns(first["observed_timestamp"]) == t0 + 7
    assert (first["trace_id"], first["span_id"]) == (TRACE_ID, ROOT_SPAN)
    assert (first["disk_free"], first["mount"]) == ("0", "/var")
    assert (rows[1]["trace_id"], rows[1]["span_id"], rows[1]["mount"]) == ("", "", None)
    assert rfc3339_to_ns(rows[2]["timestamp"]) == t0 + 2_000_000

    r = osprey.get("/api/v1/logs/search", params={"query": "ünïcödé"})
    assert r.status_code == 200, r.text
    assert [x["body"] for x in r.json()["data"]["result"]] == ["ünïcödé ✓ payload"]


@pytest.mark.parametrize(("port", "gzip"), VARIANTS)
def test_metrics_json(osprey: OspreyServer, port: str, gzip: bool) -> None:
    t0 = base_ns()
    t0 -= t0 % 1_000_000  # whole milliseconds: Prometheus sample timestamps are ms
    body = {
        "resourceMetrics": [
            {
                "resource": resource(
                    "json-svc",
                    {"key": "service.namespace", "value": {"stringValue": "shop"}},
                    {"key": "service.instance.id", "value": {"stringValue": "i-1"}},
                ),
                "scopeMetrics": [
                    {
                        "scope": {"name": "json-meter"},
                        "metrics": [
                            {
                                "name": "jobs.processed",
                                "unit": "{job}",
                                "sum": {
                                    "aggregationTemporality": 2,  # CUMULATIVE
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "attributes": [{"key": "queue.name", "value": {"stringValue": "high"}}],
                                            "startTimeUnixNano": str(t0 - 60_000_000_000),
                                            "timeUnixNano": str(t0),
                                            "asInt": "12",
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "memory.heap",
                                "unit": "By",
                                "gauge": {"dataPoints": [{"timeUnixNano": str(t0), "asDouble": 2048.5}]},
                                "unknownMetricField": 1,
                            },
                            {
                                "name": "rpc.duration",
                                "unit": "ms",
                                "histogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": str(t0 - 60_000_000_000),
                                            "timeUnixNano": str(t0),
                                            "count": "3",
                                            "sum": 120.5,
                                            "bucketCounts": ["1", "2", "0"],
                                            "explicitBounds": [10, 100],
                                        }
                                    ],
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }
    assert_accepted(post_otlp(osprey, "metrics", body, port=port, gzip=gzip))

    counts = {m: n for m, n in osprey.sql("SELECT metric, count(*) FROM metrics GROUP BY metric")}
    counts.pop("target_info", None)
    assert counts == {
        "jobs_processed_total": 1,
        "memory_heap_bytes": 1,
        "rpc_duration_milliseconds_bucket": 3,
        "rpc_duration_milliseconds_sum": 1,
        "rpc_duration_milliseconds_count": 1,
    }

    [row] = osprey.sql_dicts(
        "SELECT labels['job'] AS job, labels['instance'] AS instance, labels['queue_name'] AS queue,"
        " value, timestamp FROM metrics WHERE metric = 'jobs_processed_total'"
    )
    assert (row["job"], row["instance"], row["queue"], row["value"]) == ("shop/json-svc", "i-1", "high", 12.0)
    assert rfc3339_to_ns(row["timestamp"]) == t0

    assert osprey.sql("SELECT value FROM metrics WHERE metric = 'memory_heap_bytes'") == [[2048.5]]
    buckets = {
        float(le): v
        for le, v in osprey.sql(
            "SELECT labels['le'], value FROM metrics WHERE metric = 'rpc_duration_milliseconds_bucket'"
        )
    }
    assert buckets == {10.0: 1.0, 100.0: 3.0, math.inf: 3.0}  # cumulative
    assert osprey.sql("SELECT value FROM metrics WHERE metric = 'rpc_duration_milliseconds_sum'") == [[120.5]]
    assert osprey.sql("SELECT value FROM metrics WHERE metric = 'rpc_duration_milliseconds_count'") == [[3.0]]

    at = t0 / 1e9 + 1
    [series] = osprey.prom_query('jobs_processed_total{job="shop/json-svc"}', at=at)
    assert series["metric"]["__name__"] == "jobs_processed_total"
    assert series["metric"]["instance"] == "i-1"
    assert series["metric"]["queue_name"] == "high"
    assert float(series["value"][1]) == 12.0
    [series] = osprey.prom_query('rpc_duration_milliseconds_bucket{le="+Inf"}', at=at)
    assert float(series["value"][1]) == 3.0
    [series] = osprey.prom_query("memory_heap_bytes", at=at)
    assert float(series["value"][1]) == 2048.5
    # Before the sample: nothing.
    assert osprey.prom_query("memory_heap_bytes", at=t0 / 1e9 - 1) == []
