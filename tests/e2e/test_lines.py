"""POST /api/v1/logs: stdout event streams as NDJSON, logfmt and plain text lines, with
severity and timestamp detection, multi-line stack traces of each language joined to
their event, and nothing lost on bad bytes, huge lines or odd timestamps."""

from __future__ import annotations

import gzip
import json
import time
from datetime import datetime, timezone

from harness import OspreyServer, recent_second, rfc3339, rfc3339_to_ns


def post_lines(server: OspreyServer, body: bytes, service: str | None = None, **headers: str):
    params = {"service": service} if service else None
    return server.post("/api/v1/logs", params=params, data=body, headers=headers)


def iso(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 10**9, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def rows_of(server: OspreyServer, service: str) -> list[dict]:
    return server.sql_dicts(
        "SELECT timestamp, severity_text, severity_number, body, trace_id, span_id, attributes "
        f"FROM logs WHERE service = '{service}' ORDER BY timestamp, body"
    )


def test_json_logfmt_and_plain_lines(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 60 * 10**9
    t0 -= t0 % 1000
    lines = [
        json.dumps({"ts": iso(t0), "level": "error", "msg": "payment failed", "order": {"id": 17},
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}),
        json.dumps({"@timestamp": iso(t0 + 1000), "severity": "WARNING", "message": "slow", "service": "other-svc"}),
        json.dumps({"time": int((t0 + 2000) // 10**6), "msg": "epoch millis"}),
        f'time={iso(t0 + 3000)} level=info msg="user logged in" user=alice',
        f"{iso(t0 + 4000)} DEBUG cache warm",
        f"[{iso(t0 + 5000)}] [WARN] disk at 91%",
        'E1122 10:00:00.000000 1 main.go:10] glog style error',
        "no severity and no time here",
    ]
    r = post_lines(osprey, ("\n".join(lines) + "\n").encode(), service="app", **{"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 8, "invalid_utf8": 0, "truncated": 0, "retimed": 0}

    rows = rows_of(osprey, "app")
    by_body = {row["body"]: row for row in rows}
    assert set(by_body) == {
        "payment failed", "epoch millis", "user logged in", f"{iso(t0 + 4000)} DEBUG cache warm",
        f"[{iso(t0 + 5000)}] [WARN] disk at 91%", "E1122 10:00:00.000000 1 main.go:10] glog style error",
        "no severity and no time here",
    }
    p = by_body["payment failed"]
    assert rfc3339_to_ns(p["timestamp"]) == t0
    assert (p["severity_text"], p["severity_number"]) == ("ERROR", 17)
    assert (p["trace_id"], p["span_id"]) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert p["attributes"] == {"order.id": "17"}
    assert rfc3339_to_ns(by_body["epoch millis"]["timestamp"]) == (t0 + 2000) // 10**6 * 10**6
    u = by_body["user logged in"]
    assert (u["severity_text"], u["attributes"]) == ("INFO", {"user": "alice"})
    assert rfc3339_to_ns(u["timestamp"]) == t0 + 3000
    d = by_body[f"{iso(t0 + 4000)} DEBUG cache warm"]
    assert (d["severity_text"], rfc3339_to_ns(d["timestamp"])) == ("DEBUG", t0 + 4000)
    w = by_body[f"[{iso(t0 + 5000)}] [WARN] disk at 91%"]
    assert (w["severity_text"], rfc3339_to_ns(w["timestamp"])) == ("WARN", t0 + 5000)
    assert by_body["E1122 10:00:00.000000 1 main.go:10] glog style error"]["severity_text"] == "ERROR"
    assert by_body["no severity and no time here"]["severity_text"] == ""

    # The event's own service wins over ?service=.
    other = rows_of(osprey, "other-svc")
    assert [(o["body"], o["severity_text"]) for o in other] == [("slow", "WARN")]

    # Searchable at once, by the detected fields.
    r = osprey.get("/api/v1/logs/search", params={"query": "service:app severity>=warn"})
    assert sorted(x["body"] for x in r.json()["data"]["result"]) == sorted(
        ["payment failed", f"[{iso(t0 + 5000)}] [WARN] disk at 91%", "E1122 10:00:00.000000 1 main.go:10] glog style error"]
    )


def test_access_logs_and_syslog(osprey: OspreyServer) -> None:
    # An hour ago, whole seconds: within the retention.
    t = (time.time_ns() - 3600 * 10**9) // 10**9 * 10**9
    dt = datetime.fromtimestamp(t // 10**9, tz=timezone.utc)
    clf = dt.strftime("%d/%b/%Y:%H:%M:%S +0000")
    local = datetime.fromtimestamp(t // 10**9 - 7 * 3600, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S -0700")
    syslog_time = dt.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1) if dt.day < 10 else dt.strftime("%b %d %H:%M:%S")
    text = (
        f'127.0.0.1 - frank [{local}] "GET /apache_pb.gif HTTP/1.0" 200 2326\n'
        f'10.0.0.2 - - [{clf}] "POST /api/cart HTTP/1.1" 502 157 "-" "curl/8.0"\n'
        f"{syslog_time} web1 sshd[4242]: error: PAM: Authentication failure for root\n"
    )
    r = post_lines(osprey, text.encode(), service="web", **{"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "invalid_utf8": 0, "truncated": 0, "retimed": 0}
    rows = rows_of(osprey, "web")
    assert len(rows) == 3
    for row in rows:
        assert rfc3339_to_ns(row["timestamp"]) == t, row["body"]
    syslog = [row for row in rows if "sshd" in row["body"]][0]
    assert syslog["severity_text"] == "ERROR"
    assert all(row["severity_text"] == "" for row in rows if "HTTP/1" in row["body"])


STACKS = {
    "java": (
        f"{rfc3339(recent_second())} ERROR request failed\n"
        "java.lang.IllegalStateException: boom\n"
        "\tat com.shop.Cart.add(Cart.java:42)\n"
        "Caused by: java.io.IOException: disk\n"
        "\t... 3 more"
    ),
    "python": (
        "ERROR:root:request failed\n"
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n'
        "    main()\n"
        "ValueError: bad value"
    ),
    "go": (
        "panic: runtime error: index out of range [3] with length 1\n"
        "\n"
        "goroutine 1 [running]:\n"
        "main.main()\n"
        "\t/tmp/x.go:5 +0x1d\n"
        "exit status 2"
    ),
    "rust": (
        "thread 'main' panicked at src/main.rs:2:5:\n"
        "explicit panic\n"
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
    ),
    "node": (
        "Error: boom\n"
        "    at Object.<anonymous> (/srv/x.js:1:7)\n"
        "    at node:internal/main/run_main_module:28:49"
    ),
}


def test_stack_traces_are_joined_to_their_event(osprey: OspreyServer) -> None:
    for lang, stack in STACKS.items():
        body = f"before {lang}\n{stack}\nafter {lang}\n"
        r = post_lines(osprey, body.encode(), service=f"stack-{lang}")
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 3, (lang, r.json())
        bodies = {row["body"] for row in rows_of(osprey, f"stack-{lang}")}
        assert bodies == {f"before {lang}", stack, f"after {lang}"}, lang


def test_bad_bytes_huge_lines_odd_times_gzip_and_bad_requests(osprey: OspreyServer) -> None:
    huge = "x" * (64 * 1024 + 100)
    body = b"bad \xff\xfe bytes\n" + huge.encode() + b"\n1999-01-01T00:00:00Z INFO ancient\n"
    r = post_lines(osprey, gzip.compress(body), service="odd", **{"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "invalid_utf8": 1, "truncated": 1, "retimed": 1}
    rows = rows_of(osprey, "odd")
    bodies = [row["body"] for row in rows]
    assert "bad \ufffd\ufffd bytes" in bodies
    cut = [b for b in bodies if b.startswith("xxx")][0]
    assert cut.endswith("…[truncated 100 bytes]") and len(cut.encode()) == 64 * 1024 + len("…[truncated 100 bytes]".encode())
    ancient = [row for row in rows if "ancient" in row["body"]][0]
    assert ancient["attributes"]["osprey.original_time"] == "1999-01-01T00:00:00Z"
    assert abs(rfc3339_to_ns(ancient["timestamp"]) - time.time_ns()) < 600 * 10**9
    # Found by a search over all time.
    r = osprey.get("/api/v1/logs/search", params={"query": "ancient"})
    assert r.json()["data"]["stats"]["matched"] == 1

    r = post_lines(osprey, b"x\n", **{"Content-Type": "image/png"})
    assert r.status_code == 415
    assert "ndjson" in r.text
    r = post_lines(osprey, b"not gzip", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = post_lines(osprey, b"x\n", **{"X-Scope-OrgID": "../bad"})
    assert r.status_code == 400
    # Nothing above changed what was accepted.
    assert osprey.count("logs", "service = 'odd'") == 3


PATTERN_TEMPLATES = {
    "api": [
        ("user {w} logged in from {ip}", "user <*> logged in from <*>"),
        ("GET /api/items/{n} took {n}ms", "GET <*> took <*>"),
        ("connection reset by peer", "connection reset by peer"),
    ],
    "worker": [
        ("job {n} finished in {n}s", "job <*> finished in <*>"),
        ("retrying job {n} after error: timeout", "retrying job <*> after error: timeout"),
    ],
}


def test_patterns_recover_the_templates_with_exact_counts(osprey: OspreyServer) -> None:
    import random

    rng = random.Random(5)
    words = ["alice", "bob", "carol", "dave"]
    want: dict[tuple[str, str], int] = {}
    stamps: dict[tuple[str, str], list[int]] = {}
    base = time.time_ns() - 600 * 10**9
    for batch in range(2):
        for svc, templates in PATTERN_TEMPLATES.items():
            lines = []
            for i in range(150):
                tpl, pattern = rng.choice(templates)
                line = tpl.replace("{w}", rng.choice(words)).replace("{ip}", f"10.0.0.{rng.randint(1, 250)}")
                while "{n}" in line:
                    line = line.replace("{n}", str(rng.randint(1, 9999)), 1)
                ts = base + batch * 10**9 + i * 1000
                lines.append(f"{iso(ts)} INFO {line}")
                want[(svc, f"<*> INFO {pattern}")] = want.get((svc, f"<*> INFO {pattern}"), 0) + 1
                stamps.setdefault((svc, f"<*> INFO {pattern}"), []).append(ts)
            r = post_lines(osprey, ("\n".join(lines) + "\n").encode(), service=svc)
            assert r.status_code == 200, r.text
        if batch == 0:
            osprey.flush()  # half in files, half in memory

    r = osprey.get("/api/v1/logs/patterns", params={"query": ""})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    got = {(p["service"], p["pattern"]): p["count"] for p in data["patterns"]}
    assert got == want
    assert data["matched"] == sum(want.values())
    for p in data["patterns"]:
        assert sum(p["counts"]) == p["count"]
        assert len(p["example"].split()) == len(p["pattern"].split())
        # Counts over time, bucket by bucket.
        step = data["step_ms"] * 1_000_000
        ref = [0] * len(p["counts"])
        for ts in stamps[(p["service"], p["pattern"])]:
            ref[(ts - data["start_ns"]) // step] += 1
        assert p["counts"] == ref, p["pattern"]

    # A time range: only the second batch's lines.
    lo, hi = base + 10**9, base + 2 * 10**9
    r = osprey.get("/api/v1/logs/patterns", params={"query": "", "start": f"{lo // 10**9}.{lo % 10**9:09d}", "end": f"{hi // 10**9}.{hi % 10**9:09d}"})
    assert r.status_code == 200, r.text
    ranged = {(p["service"], p["pattern"]): p["count"] for p in r.json()["data"]["patterns"]}
    want_ranged = {k: sum(lo <= t <= hi for t in v) for k, v in stamps.items()}
    assert ranged == {k: v for k, v in want_ranged.items() if v}
    counts = [p["count"] for p in data["patterns"]]
    assert counts == sorted(counts, reverse=True)

    # Patterns of the records a query matches.
    r = osprey.get("/api/v1/logs/patterns", params={"query": "service:worker job", "limit": "1"})
    data = r.json()["data"]
    worker = {k: v for k, v in want.items() if k[0] == "worker"}
    assert data["matched"] == sum(worker.values())
    assert [(p["service"], p["pattern"], p["count"]) for p in data["patterns"]] == [
        max(((k[0], k[1], v) for k, v in worker.items()), key=lambda x: x[2])
    ]
    r = osprey.get("/api/v1/logs/patterns", params={"limit": "0"})
    assert r.status_code == 400
