"""remote_write 2.0 (io.prometheus.write.v2.Request) and the out-of-order window.

The 2.0 messages are built and serialized by the protobuf library itself, from a
descriptor with the spec's field numbers (symbols = 4, timeseries = 5, ...), so the
server is tested against a real protobuf encoding.
"""

from __future__ import annotations

import time

import pytest
import requests

from harness import HTTP_TIMEOUT_S, OspreyServer
from protos import REMOTE_WRITE_V1, REMOTE_WRITE_V2, message_classes
from test_remote_write import encode_write_request, post_write, snappy

V2_CT = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def v2_classes():
    return message_classes("io.prometheus.write.v2", REMOTE_WRITE_V2)["Request"]


class V2Builder:
    def __init__(self) -> None:
        self.req = v2_classes()()
        self.req.symbols.append("")
        self.index = {"": 0}

    def ref(self, s: str) -> int:
        if s not in self.index:
            self.index[s] = len(self.req.symbols)
            self.req.symbols.append(s)
        return self.index[s]

    def series(self, labels: dict[str, str], samples: list[tuple[float, int]]):
        ts = self.req.timeseries.add()
        for name in sorted(labels):
            ts.labels_refs.extend([self.ref(name), self.ref(labels[name])])
        for v, t in samples:
            ts.samples.add(value=v, timestamp=t)
        return ts

    def body(self) -> bytes:
        return snappy(self.req.SerializeToString())


def post_v2(server: OspreyServer, body: bytes, content_type: str = V2_CT) -> requests.Response:
    return requests.post(
        server.http("/api/v1/write"),
        data=body,
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": content_type,
            "X-Prometheus-Remote-Write-Version": "2.0.0",
            "User-Agent": "osprey-e2e/remote-write-2",
        },
        timeout=HTTP_TIMEOUT_S,
    )


def values(server: OspreyServer, query: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in server.prom_query(query)}


def test_v2_write_with_written_headers(osprey: OspreyServer) -> None:
    now = int(time.time() * 1000)
    b = V2Builder()
    ts = b.series({"__name__": "rw2_requests_total", "job": "api", "code": "200"}, [(10.0, now - 2000), (12.0, now - 1000)])
    ts.exemplars.add(labels_refs=[b.ref("trace_id"), b.ref("abc123")], value=0.25, timestamp=now - 1000)
    ts.metadata.type = 1
    ts.metadata.help_ref = b.ref("Requests served.")
    b.series({"__name__": "rw2_temp", "room": "a", "empty": ""}, [(21.5, now - 1000)])
    resp = post_v2(osprey, b.body())
    assert resp.status_code == 204, resp.text
    assert resp.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert resp.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    assert resp.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "1"
    r = osprey.get("/api/v1/query_exemplars", params={"query": 'sum(rate(rw2_requests_total{job="api"}[5m]))', "start": (now - 60_000) / 1000, "end": now / 1000})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        {
            "seriesLabels": {"__name__": "rw2_requests_total", "code": "200", "job": "api"},
            "exemplars": [{"labels": {"trace_id": "abc123"}, "value": "0.25", "timestamp": (now - 1000) / 1000}],
        }
    ]
    # Outside the time range, or another selector: none.
    r = osprey.get("/api/v1/query_exemplars", params={"query": "rw2_requests_total", "start": (now + 1000) / 1000, "end": (now + 2000) / 1000})
    assert r.json()["data"] == []
    r = osprey.get("/api/v1/query_exemplars", params={"query": "rw2_temp"})
    assert r.json()["data"] == []
    assert values(osprey, "rw2_requests_total") == {
        (("__name__", "rw2_requests_total"), ("code", "200"), ("job", "api")): 12.0
    }
    # The series' metadata is kept for /api/v1/metadata.
    r = osprey.get("/api/v1/metadata", params={"metric": "rw2_requests_total"})
    assert r.json()["data"] == {"rw2_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}]}
    # An empty label value is no label.
    assert values(osprey, "rw2_temp") == {(("__name__", "rw2_temp"), ("room", "a")): 21.5}


def test_v2_histograms_refused_floats_kept(osprey: OspreyServer) -> None:
    now = int(time.time() * 1000)
    b = V2Builder()
    b.series({"__name__": "rw2_kept", "k": "v"}, [(1.0, now)])
    h = b.series({"__name__": "rw2_native_hist"}, [])
    h.histograms.add(count_int=5, timestamp=now)
    resp = post_v2(osprey, b.body())
    assert resp.status_code == 400
    assert "1 native histogram samples refused" in resp.text
    assert resp.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert values(osprey, "rw2_kept") == {(("__name__", "rw2_kept"), ("k", "v")): 1.0}


def test_v2_bad_requests(osprey: OspreyServer) -> None:
    b = V2Builder()
    ts = b.series({"__name__": "rw2_bad"}, [(1.0, int(time.time() * 1000))])
    ts.labels_refs.extend([99, 0])
    resp = post_v2(osprey, b.body())
    assert resp.status_code == 400 and "labels_refs index 99 is out of range" in resp.text, resp.text
    # A 1.0 body sent as 2.0 decodes to an empty request (1.0's fields are reserved
    # in 2.0): refused with a hint instead of a silent 204.
    resp = post_v2(osprey, snappy(encode_write_request([({"__name__": "x"}, [(1.0, 1)])])))
    assert resp.status_code == 400 and "is it a 1.0 prometheus.WriteRequest" in resp.text, resp.text
    resp = post_v2(osprey, b.body(), content_type="application/x-protobuf;proto=io.prometheus.write.v3.Request")
    assert resp.status_code == 415 and "io.prometheus.write.v2.Request" in resp.text
    resp = post_v2(osprey, b.body(), content_type="application/json")
    assert resp.status_code == 415
    assert values(osprey, "rw2_bad") == {}


@pytest.mark.parametrize("osprey_window", ["10m"])
def test_out_of_order_window_and_duplicates(osprey_factory, osprey_window: str) -> None:
    server = osprey_factory(env={"OSPREY_STORAGE_METRICS_OUT_OF_ORDER_WINDOW": osprey_window})
    now = int(time.time() * 1000)
    labels = {"__name__": "ooo_probe", "job": "w"}
    assert post_write(server, encode_write_request([(labels, [(1.0, now)])])).status_code == 204
    # Five minutes back: inside the window, accepted out of order.
    assert post_write(server, encode_write_request([(labels, [(0.5, now - 300_000)])])).status_code == 204
    # Twenty minutes back: refused with the reason; the request's other sample is stored.
    resp = post_write(
        server,
        encode_write_request([(labels, [(0.1, now - 1_200_000)]), ({"__name__": "ooo_other"}, [(3.0, now)])]),
    )
    assert resp.status_code == 400
    assert "outside the out-of-order window" in resp.text and "1 of 2 samples refused" in resp.text, resp.text
    assert values(server, "ooo_other") == {(("__name__", "ooo_other"),): 3.0}
    count = 'count_over_time(ooo_probe[30m])'
    assert values(server, count) == {(("job", "w"),): 2.0}
    # A retried batch (exact duplicate of the newest sample) is accepted and dropped.
    assert post_write(server, encode_write_request([(labels, [(1.0, now)])])).status_code == 204
    assert values(server, count) == {(("job", "w"),): 2.0}
    # The same timestamp with another value is a conflict.
    resp = post_write(server, encode_write_request([(labels, [(9.0, now)])]))
    assert resp.status_code == 400 and "duplicate sample for timestamp" in resp.text, resp.text
    assert values(server, "ooo_probe") == {(("__name__", "ooo_probe"), ("job", "w")): 1.0}


def test_v1_exemplars_are_queryable(osprey: OspreyServer) -> None:
    """remote_write 1.0 TimeSeries.exemplars (field 3), as Prometheus sends them with
    send_exemplars: true, built with the protobuf library."""
    WriteRequest = message_classes("prometheus", REMOTE_WRITE_V1)["WriteRequest"]

    now = int(time.time() * 1000)
    req = WriteRequest()
    ts = req.timeseries.add()
    for name, value in sorted({"__name__": "rw1_latency_bucket", "le": "0.5", "svc": "a"}.items()):
        ts.labels.add(name=name, value=value)
    ts.samples.add(value=3.0, timestamp=now)
    ex = ts.exemplars.add(value=0.42, timestamp=now - 500)
    ex.labels.add(name="trace_id", value="4bf92f3577b34da6a3ce929d0e0e4736")
    resp = requests.post(
        osprey.http("/api/v1/write"),
        data=snappy(req.SerializeToString()),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert resp.status_code == 204, resp.text
    r = osprey.post("/api/v1/query_exemplars", data={"query": 'histogram_quantile(0.9, rw1_latency_bucket{svc="a"})'})
    assert r.status_code == 200, r.text
    (group,) = r.json()["data"]
    assert group["seriesLabels"] == {"__name__": "rw1_latency_bucket", "le": "0.5", "svc": "a"}
    assert group["exemplars"] == [{"labels": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}, "value": "0.42", "timestamp": (now - 500) / 1000}]


def test_v1_native_histograms_are_refused_not_dropped(osprey: OspreyServer) -> None:
    """A 1.0 sender with native histograms (send_native_histograms) gets a 400 that counts
    them; its float samples are stored."""
    WriteRequest = message_classes("prometheus", REMOTE_WRITE_V1)["WriteRequest"]
    now = int(time.time() * 1000)
    req = WriteRequest()
    ts = req.timeseries.add()
    ts.labels.add(name="__name__", value="rw1_floats")
    ts.samples.add(value=2.0, timestamp=now)
    h = req.timeseries.add()
    h.labels.add(name="__name__", value="rw1_native")
    h.histograms.add(count_int=3, timestamp=now)
    resp = requests.post(
        osprey.http("/api/v1/write"),
        data=snappy(req.SerializeToString()),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert resp.status_code == 400 and "1 native histogram samples refused" in resp.text, resp.text
    assert values(osprey, "rw1_floats") == {(("__name__", "rw1_floats"),): 2.0}
