"""Live tail (/api/v1/logs/tail): server-sent events of new records that match the query,
only the caller's tenant, from every ingest path."""

from __future__ import annotations

import json
import queue
import threading
import time

import requests

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import OspreyServer, tenant_headers


def open_tail(server: OspreyServer, params: dict, tenant: str | None = None) -> tuple[requests.Response, queue.Queue]:
    resp = requests.get(server.http("/api/v1/logs/tail"), params=params, headers=tenant_headers(tenant),
                        stream=True, timeout=(5, 30))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    events: queue.Queue = queue.Queue()

    def read() -> None:
        event = None
        try:
            # chunk_size=1: an event is yielded as soon as its line ends.
            for raw in resp.iter_lines(chunk_size=1, decode_unicode=True):
                if raw.startswith("event:"):
                    event = raw.split(":", 1)[1].strip()
                elif raw.startswith("data:"):
                    events.put((event, json.loads(raw.split(":", 1)[1])))
        except Exception:  # noqa: BLE001 - the stream is closed under the reader at the end
            pass

    threading.Thread(target=read, daemon=True).start()
    return resp, events


def collect(events: queue.Queue, n: int, timeout: float = 15.0) -> list[tuple[str, dict]]:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        try:
            got.append(events.get(timeout=0.2))
        except queue.Empty:
            pass
    return got


def test_tail_streams_matching_records_of_the_tenant(osprey: OspreyServer) -> None:
    resp, events = open_tail(osprey, {"query": "severity>=error OR checkout"})
    other_resp, other_events = open_tail(osprey, {"query": ""}, tenant="acme")
    time.sleep(0.3)  # the subscriptions are taken when the response starts
    now = time.time_ns()
    records = [
        log_record(now, "checkout started"),
        log_record(now + 1, "payment failed", severity_number=17, severity_text="ERROR"),
        log_record(now + 2, "all good"),
    ]
    assert_accepted(post_otlp(osprey, "logs", logs_request("shop", records)))
    r = osprey.post("/api/v1/logs", params={"service": "lines"},
                    data=b'{"level":"fatal","msg":"disk gone"}\nnothing to see\n')
    assert r.status_code == 200, r.text
    r = osprey.post("/api/v1/logs", params={"service": "acme-svc"}, data=b"checkout in acme\n",
                    headers={"X-Scope-OrgID": "acme"})
    assert r.status_code == 200, r.text

    got = collect(events, 3)
    assert sorted(d["body"] for e, d in got if e == "log") == ["checkout started", "disk gone", "payment failed"]
    hit = [d for _, d in got if d["body"] == "payment failed"][0]
    assert (hit["service"], hit["severity"]) == ("shop", "ERROR")
    # Nothing else arrives: not the non-matching records, not the other tenant's.
    assert collect(events, 1, timeout=1.0) == []
    other = collect(other_events, 1)
    assert [d["body"] for _, d in other] == ["checkout in acme"]
    # The streams stay open; stopping the server (teardown) must not wait for them.


def test_tail_rejects_a_bad_query(osprey: OspreyServer) -> None:
    r = osprey.get("/api/v1/logs/tail", params={"query": "(oops"})
    assert r.status_code == 400
    assert "missing ')'" in r.json()["error"]
