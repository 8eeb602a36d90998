"""Loki push (/loki/api/v1/push): the snappy-compressed logproto.PushRequest that Promtail,
Alloy and Fluent Bit send (encoded here field by field from Loki's push.proto), and the
JSON form, gzip included; 204 on success, 400/415 with reasons."""

from __future__ import annotations

import gzip
import json
import time

from harness import OspreyServer, recent_second, rfc3339, rfc3339_to_ns
from test_remote_write import _bytes_field, _tag, _varint, snappy

# A line carrying its own time (an hour ago: inside retention whatever the date).
DISK_LINE = f"{rfc3339(recent_second())} ERROR disk failure"


def encode_push(streams: list[tuple[str, list[tuple[int, str | bytes, dict[str, str]]]]]) -> bytes:
    """streams: [(labels "{a=\\"b\\"}", [(unix ns, line, structured metadata)])]"""
    out = bytearray()
    for labels, entries in streams:
        s = bytearray(_bytes_field(1, labels.encode()))
        for ts, line, meta in entries:
            stamp = _tag(1, 0) + _varint(ts // 10**9) + _tag(2, 0) + _varint(ts % 10**9)
            raw = line if isinstance(line, bytes) else line.encode()
            e = bytearray(_bytes_field(1, stamp) + _bytes_field(2, raw))
            for k, v in meta.items():
                e += _bytes_field(3, _bytes_field(1, k.encode()) + _bytes_field(2, v.encode()))
            s += _bytes_field(2, bytes(e))
        out += _bytes_field(1, bytes(s))
    return bytes(out)


def test_protobuf_push(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 60 * 10**9
    body = encode_push([
        ('{service_name="cart", env="prod", level="warn"}', [
            (t0, "cart is slow", {}),
            (t0 + 1, 'msg="with metadata"', {"user_id": "u-1", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}),
        ]),
        ('{job="varlogs", filename="/var/log/syslog"}', [
            (t0 + 2, DISK_LINE, {}),
        ]),
    ])
    r = osprey.post("/loki/api/v1/push", data=snappy(body),
                    headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    assert r.status_code == 204, r.text
    rows = osprey.sql_dicts(
        "SELECT service, timestamp, severity_text, body, attributes, resource FROM logs ORDER BY timestamp"
    )
    assert [(x["service"], x["body"]) for x in rows] == [
        ("cart", "cart is slow"),
        ("cart", 'msg="with metadata"'),
        ("varlogs", DISK_LINE),
    ]
    assert [rfc3339_to_ns(x["timestamp"]) for x in rows] == [t0, t0 + 1, t0 + 2]
    # The stream's level label wins; otherwise the line's own severity.
    assert [x["severity_text"] for x in rows] == ["WARN", "WARN", "ERROR"]
    assert rows[1]["attributes"] == {"user_id": "u-1", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert rows[0]["resource"] == {"env": "prod", "level": "warn", "service_name": "cart"}
    r = osprey.get("/api/v1/logs/search", params={"query": "service:varlogs disk"})
    assert r.json()["data"]["stats"]["matched"] == 1
    # Stream labels are searchable like attributes, in memory and from the index.
    for _ in ("memtable", "files"):
        r = osprey.get("/api/v1/logs/search", params={"query": "env:prod"})
        assert r.json()["data"]["stats"]["matched"] == 2, r.text
        r = osprey.get("/api/v1/logs/search", params={"query": 'filename:"/var/log/syslog" OR user_id:u-1'})
        assert r.json()["data"]["stats"]["matched"] == 2, r.text
        # And they are facets, as labels are in Loki.
        r = osprey.get("/api/v1/logs/fields", params={"query": ""})
        fields = {f["field"]: {v["value"]: v["count"] for v in f["values"]} for f in r.json()["data"]["fields"]}
        assert fields["resource.env"] == {"prod": 2}, fields
        assert fields["resource.job"] == {"varlogs": 1}, fields
        osprey.flush()


def test_bad_bytes_and_long_lines_are_repaired_not_refused(osprey: OspreyServer) -> None:
    """A line that is not UTF-8 (Promtail reads files byte for byte) is stored with
    U+FFFD in place of the bad bytes, and a line over 64 KiB is cut with a marker; the
    rest of the push is stored, and both are counted."""
    t0 = time.time_ns() - 60 * 10**9
    body = encode_push([
        ('{service_name="raw"}', [
            (t0, b"latin-1 caf\xe9 order", {}),
            (t0 + 1, "x" * (64 * 1024 + 5), {}),
            (t0 + 2, "fine", {}),
        ]),
    ])
    r = osprey.post("/loki/api/v1/push", data=snappy(body),
                    headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
    assert r.status_code == 204, r.text
    rows = osprey.sql("SELECT body FROM logs WHERE service = 'raw' ORDER BY timestamp")
    assert rows[0] == ["latin-1 caf\ufffd order"]
    assert rows[1][0].startswith("x" * 1000) and rows[1][0].endswith("…[truncated 5 bytes]")
    assert rows[2] == ["fine"]
    metrics = osprey.get("/metrics").text
    assert 'osprey_ingest_repaired_lines_total{reason="invalid_utf8"} 1' in metrics, metrics
    assert 'osprey_ingest_repaired_lines_total{reason="truncated"} 1' in metrics


def test_json_push_with_gzip(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 60 * 10**9
    doc = {"streams": [{"stream": {"app": "web", "level": "error"},
                        "values": [[str(t0), "GET /x 500"], [str(t0 + 5), "with meta", {"route": "/x"}]]}]}
    r = osprey.post("/loki/api/v1/push", data=gzip.compress(json.dumps(doc).encode()),
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    rows = osprey.sql_dicts("SELECT service, severity_text, body, attributes FROM logs ORDER BY timestamp")
    assert rows == [
        {"service": "web", "severity_text": "ERROR", "body": "GET /x 500", "attributes": {}},
        {"service": "web", "severity_text": "ERROR", "body": "with meta", "attributes": {"route": "/x"}},
    ]


def test_entries_outside_retention_or_far_ahead_are_kept_at_arrival_time(osprey: OspreyServer) -> None:
    """An entry older than the retention or more than a day ahead is stored at arrival
    time with its own time in osprey.original_time (findable, never dropped)."""
    day = 86_400 * 10**9
    now = time.time_ns()
    old, ahead = now - 400 * day, now + 3 * day
    doc = {"streams": [{"stream": {"app": "clock"}, "values": [[str(old), "from long ago"], [str(ahead), "from the future"], [str(now - 10**9), "on time"]]}]}
    before = time.time_ns()
    r = osprey.post("/loki/api/v1/push", json=doc)
    assert r.status_code == 204, r.text
    after = time.time_ns()
    rows = {x["body"]: x for x in osprey.sql_dicts("SELECT body, timestamp, attributes FROM logs WHERE service = 'clock'")}
    assert len(rows) == 3
    for body in ("from long ago", "from the future"):
        assert before <= rfc3339_to_ns(rows[body]["timestamp"]) <= after, rows[body]
        assert "osprey.original_time" in rows[body]["attributes"], rows[body]
    assert rfc3339_to_ns(rows["on time"]["timestamp"]) == now - 10**9
    assert "osprey.original_time" not in rows["on time"]["attributes"]
    r = osprey.get("/api/v1/logs/search", params={"query": "future OR ago", "start": "0"})
    assert r.json()["data"]["stats"]["matched"] == 2


def test_bad_pushes_are_refused_with_reasons(osprey: OspreyServer) -> None:
    cases = [
        (b"not snappy", {"Content-Type": "application/x-protobuf"}, 400, "snappy"),
        (snappy(b"\xff\xff\xff"), {"Content-Type": "application/x-protobuf"}, 400, "PushRequest"),
        (snappy(encode_push([("job=x", [(1, "l", {})])])), {"Content-Type": "application/x-protobuf"}, 400, "labels"),
        (b'{"streams":[{"values":[["soon","x"]]}]}', {"Content-Type": "application/json"}, 400, "nanoseconds"),
        (b"{}", {"Content-Type": "application/json"}, 400, "streams"),
        (b"x", {"Content-Type": "text/csv"}, 415, "Loki push"),
    ]
    for body, headers, status, reason in cases:
        r = osprey.post("/loki/api/v1/push", data=body, headers=headers)
        assert r.status_code == status, (reason, r.text)
        assert reason in r.text, r.text
    assert osprey.count("logs") == 0
