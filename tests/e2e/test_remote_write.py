"""Prometheus remote_write 1.0 ingest.

The WriteRequest is encoded by hand with a minimal protobuf writer (the
message is tiny), then snappy-compressed in the raw block format, as
Prometheus does. ``test_encoder_matches_protobuf`` checks the hand encoder
against the protobuf library itself, so a bug there cannot masquerade as a
server bug; it needs no server.

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }  // ms
"""

from __future__ import annotations

import struct
import time

import cramjam
import pytest
import requests

from harness import HTTP_TIMEOUT_S, OspreyServer, rfc3339_to_ns, tenant_headers
from protos import REMOTE_WRITE_V1, message_classes

# --- minimal protobuf writer ------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # negative int64 -> two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(payload)) + payload


def encode_write_request(series: list[tuple[dict[str, str], list[tuple[float, int]]]]) -> bytes:
    """series: [(labels incl. __name__, [(value, timestamp_ms), ...]), ...]"""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):  # remote write requires labels sorted by name
            ts += _bytes_field(1, _bytes_field(1, name.encode()) + _bytes_field(2, labels[name].encode()))
        for value, timestamp_ms in samples:
            sample = _tag(1, 1) + struct.pack("<d", value) + _tag(2, 0) + _varint(timestamp_ms)
            ts += _bytes_field(2, sample)
        out += _bytes_field(1, bytes(ts))
    return bytes(out)


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


# --- helpers ------------------------------------------------------------------------------------------


def post_write(
    server: OspreyServer, body: bytes, tenant: str | None = None, compress: bool = True
) -> requests.Response:
    return requests.post(
        server.http("/api/v1/write"),
        data=snappy(body) if compress else body,
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "User-Agent": "osprey-e2e/remote-write",
            **tenant_headers(tenant),
        },
        timeout=HTTP_TIMEOUT_S,
    )


def sample_series(now_ms: int) -> list[tuple[dict[str, str], list[tuple[float, int]]]]:
    return [
        (
            {"__name__": "rw_temp_celsius", "job": "rw", "instance": "host-1", "room": "a"},
            [(20.5, now_ms - 30_000), (21.0, now_ms - 20_000)],
        ),
        (
            {"__name__": "rw_temp_celsius", "job": "rw", "instance": "host-1", "room": "b"},
            [(18.25, now_ms - 20_000)],
        ),
        (
            {"__name__": "rw_requests_total", "job": "rw", "instance": "host-2", "code": "200"},
            [(1234.0, now_ms - 10_000)],
        ),
    ]


# --- tests --------------------------------------------------------------------------------------------


def test_encoder_matches_protobuf() -> None:
    """The hand encoder produces exactly what the protobuf library produces."""
    WriteRequest = message_classes("prometheus", REMOTE_WRITE_V1)["WriteRequest"]

    series = sample_series(1_700_000_000_123) + [({"__name__": "neg", "a": "ü"}, [(-1.5, -5)])]
    expected = WriteRequest()
    for labels, samples in series:
        ts = expected.timeseries.add()
        for name in sorted(labels):
            ts.labels.add(name=name, value=labels[name])
        for value, timestamp in samples:
            ts.samples.add(value=value, timestamp=timestamp)
    assert encode_write_request(series) == expected.SerializeToString()
    # And the snappy raw block round-trips.
    assert bytes(cramjam.snappy.decompress_raw(snappy(b"abc" * 100))) == b"abc" * 100


def test_remote_write_ingest(osprey: OspreyServer) -> None:
    now_ms = int(time.time() * 1000)
    resp = post_write(osprey, encode_write_request(sample_series(now_ms)))
    assert resp.status_code == 204, resp.text

    # --- Prometheus API: latest sample within the lookback window ---------------------------------
    now_s = now_ms / 1000
    result = osprey.prom_query('rw_temp_celsius{job="rw"}', at=now_s)
    by_room = {s["metric"]["room"]: s for s in result}
    assert sorted(by_room) == ["a", "b"]
    assert by_room["a"]["metric"] == {"__name__": "rw_temp_celsius", "job": "rw", "instance": "host-1", "room": "a"}
    assert float(by_room["a"]["value"][1]) == 21.0
    assert float(by_room["b"]["value"][1]) == 18.25
    assert by_room["a"]["value"][0] == pytest.approx(now_s, abs=0.001)

    # Evaluated between room a's two samples: a has its first value, b nothing yet.
    result = osprey.prom_query("rw_temp_celsius", at=now_s - 25)
    assert [(s["metric"]["room"], float(s["value"][1])) for s in result] == [("a", 20.5)]

    [series] = osprey.prom_query('rw_requests_total{code="200"}', at=now_s)
    assert series["metric"] == {"__name__": "rw_requests_total", "job": "rw", "instance": "host-2", "code": "200"}
    assert float(series["value"][1]) == 1234.0

    # --- SQL: every sample stored once, millisecond timestamps exact -----------------------------
    rows = osprey.sql_dicts(
        "SELECT labels['room'] AS room, labels['job'] AS job, labels['instance'] AS instance, value, timestamp"
        " FROM metrics WHERE metric = 'rw_temp_celsius' ORDER BY timestamp, room"
    )
    assert [(r["room"], r["job"], r["instance"], r["value"]) for r in rows] == [
        ("a", "rw", "host-1", 20.5),
        ("a", "rw", "host-1", 21.0),
        ("b", "rw", "host-1", 18.25),
    ]
    assert [rfc3339_to_ns(r["timestamp"]) for r in rows] == [
        (now_ms - 30_000) * 1_000_000,
        (now_ms - 20_000) * 1_000_000,
        (now_ms - 20_000) * 1_000_000,
    ]
    assert osprey.count("metrics") == 4


def test_remote_write_tenant(osprey: OspreyServer) -> None:
    now_ms = int(time.time() * 1000)
    body = encode_write_request([({"__name__": "rw_tenant_probe", "job": "t"}, [(7.0, now_ms)])])
    assert post_write(osprey, body, tenant="team-a").status_code == 204
    assert osprey.count("metrics", tenant="team-a") == 1
    assert osprey.count("metrics") == 0
    assert len(osprey.prom_query("rw_tenant_probe", at=now_ms / 1000, tenant="team-a")) == 1
    assert osprey.prom_query("rw_tenant_probe", at=now_ms / 1000) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda good: good, id="uncompressed-protobuf"),
        pytest.param(lambda good: bytes(cramjam.snappy.compress(good)), id="snappy-framed-format"),
        pytest.param(lambda good: snappy(good)[:-3], id="truncated-snappy"),
        pytest.param(lambda good: snappy(b"\x0a\x05abc"), id="snappy-of-garbage-protobuf"),
    ],
)
def test_remote_write_bad_body_is_400(osprey: OspreyServer, body) -> None:
    now_ms = int(time.time() * 1000)
    good = encode_write_request(sample_series(now_ms))
    assert post_write(osprey, good).status_code == 204
    assert osprey.count("metrics") == 4

    resp = post_write(osprey, body(good), compress=False)
    assert resp.status_code == 400, resp.text
    assert osprey.count("metrics") == 4  # earlier data untouched, nothing partial added
    assert requests.get(osprey.http("/healthz"), timeout=HTTP_TIMEOUT_S).status_code == 200
