"""Lines in the formats programs print, through `POST /api/v1/logs`, checked against a
brute-force reference over the generator's own truth: JSON (nested keys, numeric
and named levels, epoch and RFC 3339 times), logfmt, nginx access and error logs,
Apache's error log, syslog (RFC 3164 with and without a priority, RFC 5424), plain
text with severities in the usual places and bracket styles, and stack traces of
Java, Python (chained), Go, Rust and Node that must each become one event. Every
search, histogram and facet below must agree exactly with the reference, in memory
and from files."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone

from harness import OspreyServer, rfc3339_to_ns
from test_logsearch import matches, tokens

SEC = 1_000_000_000
# OTLP severity numbers by level name, and level numbers (fulltext::level_of).
SEV = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
LEVEL = {0: 0, 1: 1, 5: 2, 9: 3, 13: 4, 17: 5, 21: 6}
LEVEL_NAME = ["unset", "trace", "debug", "info", "warn", "error", "fatal"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WORDS = ["disk", "cache", "order", "payment", "timeout", "upstream", "retry", "socket", "quota", "shard"]


def utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // SEC, timezone.utc)


def iso(ns: int, digits: int = 3) -> str:
    frac = f"{ns % SEC:09d}"[:digits]
    return utc(ns).strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + "Z"


def event(text: str, ts: int, sev: str | None, body: str | None = None, attrs: dict | None = None) -> dict:
    """A generated event: the text sent, and what Osprey must make of it."""
    return {"text": text, "ts": ts, "sev": SEV[sev] if sev else 0, "body": body if body is not None else text, "attrs": attrs or {}}


def json_line(rng: random.Random, ts: int, n: int) -> dict:
    level = rng.choice(["debug", "info", "warn", "error"])
    msg = f"{rng.choice(WORDS)} {rng.choice(WORDS)} event {n}"
    fields: dict = {"msg": msg, "user": {"id": f"u{n % 7}", "plan": rng.choice(["free", "pro"])}, "n": n % 5}
    kind = n % 3
    if kind == 0:
        fields.update({"level": level, "ts": iso(ts, 6)})
    elif kind == 1:  # pino: numeric level, epoch milliseconds
        ts = ts // 1_000_000 * 1_000_000
        fields.update({"level": {"debug": 20, "info": 30, "warn": 40, "error": 50}[level], "time": ts // 1_000_000})
    else:  # ECS
        fields.update({"log": {"level": level}, "@timestamp": iso(ts, 3)})
        ts = ts // 1_000_000 * 1_000_000
        fields["message"] = fields.pop("msg")
    if kind == 0:
        ts = ts // 1000 * 1000
    attrs = {"user.id": f"u{n % 7}", "user.plan": fields["user"]["plan"], "n": str(n % 5)}
    if kind == 2:
        attrs["log.level"] = level
    return event(json.dumps(fields), ts, level, msg, attrs)


def logfmt_line(rng: random.Random, ts: int, n: int) -> dict:
    level = rng.choice(["info", "warn", "error"])
    ts = ts // 1000 * 1000
    msg = f"{rng.choice(WORDS)} took {n % 97}ms"
    text = f'time={iso(ts, 6)} level={level} msg="{msg}" shard={n % 4} region=eu-{n % 2}'
    return event(text, ts, level, msg, {"shard": str(n % 4), "region": f"eu-{n % 2}"})


def nginx_access(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // SEC * SEC
    status = rng.choice([200, 200, 301, 404, 502])
    t = utc(ts).strftime("%d/%b/%Y:%H:%M:%S +0000")
    text = f'10.0.{n % 9}.{n % 250} - - [{t}] "GET /api/items/{n % 40} HTTP/1.1" {status} {n * 7 % 5000} "-" "curl/8.5.0"'
    return event(text, ts, None)


def nginx_error(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // SEC * SEC
    level = rng.choice(["warn", "error"])
    t = utc(ts).strftime("%Y/%m/%d %H:%M:%S")
    text = f'{t} [{level}] 31#31: *{n} upstream timed out while reading response header, client: 10.0.0.{n % 250}'
    return event(text, ts, level)


def apache_error(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // 1000 * 1000
    level = rng.choice(["warn", "error"])
    t = utc(ts).strftime("%a %b %d %H:%M:%S") + f".{ts % SEC // 1000:06d} " + utc(ts).strftime("%Y")
    text = f"[{t}] [proxy:{level}] [pid {1000 + n % 50}:tid {n}] [client 10.0.0.{n % 250}:5000] AH01102: quota exceeded on shard {n % 4}"
    return event(text, ts, level)


def apache_access(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // SEC * SEC
    t = utc(ts).strftime("%d/%b/%Y:%H:%M:%S +0000")
    text = f'192.168.{n % 4}.{n % 200} - frank [{t}] "GET /index.html HTTP/1.0" 200 {n * 3} "http://ref.example/" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
    return event(text, ts, None)


def syslog_line(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // SEC * SEC
    d = utc(ts)
    stamp = f"{MONTHS[d.month - 1]} {d.day:2d} {d:%H:%M:%S}"
    kind = n % 3
    if kind == 0:  # RFC 3164 with a priority: auth.err (4*8+3)
        return event(f"<35>{stamp} host-{n % 3} sshd[{n}]: authentication failure for order {n}", ts, "error")
    if kind == 1:  # no priority: the severity word in the message
        return event(f"{stamp} host-{n % 3} cron[{n}]: WARNING: socket backlog {n}", ts, "warn")
    # RFC 5424: user.notice (8+5)
    return event(f"<13>1 {iso(ts, 0)} host-{n % 3} app {n} ID47 - payment settled {n}", ts, "info")


def plain_line(rng: random.Random, ts: int, n: int) -> dict:
    ts = ts // 1_000_000 * 1_000_000
    word = rng.choice(WORDS)
    style = n % 7
    t = iso(ts, 3)
    if style == 0:
        return event(f"{t} ERROR {word} failed for order {n}", ts, "error")
    if style == 1:
        return event(f"{t} [WARN] {word} slow", ts, "warn")
    if style == 2:
        return event(f"[{t}] [info] {word} ready", ts, "info")
    if style == 3:
        return event(f"{t} E {word} broke", ts, "error")
    if style == 4:
        return event(f"{t} <D> {word} state dumped", ts, "debug")
    if style == 5:
        s = ts // SEC * SEC
        return event(f"{s // SEC} FATAL {word} out of memory", s, "fatal")
    return event(f"{ts // 1_000_000} trace {word} tick {n}", ts, "trace")


def stack(rng: random.Random, ts: int, n: int) -> dict:
    """Java and Python traces follow the log line that reports them; Go, Rust and Node
    print theirs bare, so the server's receive time is their time (`ts` None)."""
    ts = ts // 1_000_000 * 1_000_000
    t = iso(ts, 3)
    lang = (n // 7) % 5
    if lang == 0:
        lines = [
            f"{t} ERROR request {n} failed",
            "java.lang.IllegalStateException: order state",
            "\tat com.shop.Orders.pay(Orders.java:41)",
            "\tat com.shop.Api.handle(Api.java:12)",
            "Caused by: java.io.IOException: socket closed",
            "\tat com.shop.Net.read(Net.java:7)",
            "\t... 2 more",
        ]
        return event("\n".join(lines), ts, "error")
    if lang == 1:
        lines = [
            f"{t} ERROR worker {n} crashed",
            "Traceback (most recent call last):",
            '  File "worker.py", line 3, in run',
            "    cache[key]",
            "KeyError: 'item'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            '  File "worker.py", line 5, in run',
            "    raise ValueError('quota')",
            "ValueError: quota",
        ]
        return event("\n".join(lines), ts, "error")
    if lang == 2:
        lines = [
            f"panic: runtime error: invalid memory address or nil pointer dereference in shard {n}",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47e7b6]",
            "",
            "goroutine 1 [running]:",
            "main.(*Shard).Get(0xc000010000, {0x4b2d40, 0x5})",
            "\t/app/shard.go:12 +0x16",
            "main.main()",
            "\t/app/main.go:20 +0x2a",
        ]
        sev = "fatal"
    elif lang == 3:
        lines = [
            "thread 'main' panicked at src/main.rs:2:5:",
            f"quota exceeded on thread {n}",
            "stack backtrace:",
            "   0: rust_begin_unwind",
            "note: Some details are omitted",
        ]
        sev = None
    else:
        lines = [
            "/app/server.js:12",
            "    throw new TypeError('cannot read payment');",
            "    ^",
            "",
            f"TypeError: cannot read payment of undefined in handler {n}",
            "    at Object.handle (/app/server.js:12:11)",
            "    at node:internal/main/run_main_module:28:49",
            "",
            "Node.js v20.10.0",
        ]
        sev = None
    e = event("\n".join(lines), 0, sev)
    e["ts"], e["bare"] = None, True
    return e


KINDS = [json_line, logfmt_line, nginx_access, nginx_error, apache_error, apache_access, syslog_line, plain_line, stack, stack]
SERVICES = ["web", "worker"]


def corpus(t0: int, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ev = KINDS[i % len(KINDS)](rng, t0 + i * 997_000_123, i)
        ev["service"] = SERVICES[i % 2 if i % len(KINDS) != 0 else (i // len(KINDS)) % 2]
        out.append(ev)
    return out


def send(server: OspreyServer, events: list[dict]) -> None:
    """Plain text, a request per service in batches (a stack trace stays in one
    request). Events without a time of their own get the request's receive time: they
    are found by their body and checked to lie within the request's time."""
    bare: list[tuple[dict, int, int]] = []
    for svc in SERVICES:
        mine = [e for e in events if e["service"] == svc]
        for i in range(0, len(mine), 40):
            batch = mine[i : i + 40]
            body = "\n".join(e["text"] for e in batch) + "\n"
            before = time.time_ns()
            r = server.post("/api/v1/logs", params={"service": svc}, data=body.encode(), headers={"Content-Type": "text/plain"})
            after = time.time_ns()
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == len(batch), r.text
            bare += [(e, before, after) for e in batch if e["ts"] is None]
    if not bare:
        return
    r = server.get("/api/v1/logs/search", params={"query": "", "limit": "5000", "start": str(time.time_ns() // SEC - 7200)})
    assert r.status_code == 200, r.text
    by_body = {x["body"]: rfc3339_to_ns(x["timestamp"]) for x in r.json()["data"]["result"]}
    for e, before, after in bare:
        assert e["text"] in by_body, e["text"][:80]
        ts = by_body[e["text"]]
        assert before - SEC <= ts <= after + SEC, (ts, before, after)
        e["ts"] = ts


def has(*words: str):
    return lambda e: matches(e["body"], [tokens(w) for w in words])


QUERIES = [
    ("quota", has("quota")),
    ('"upstream timed out"', has("upstream timed out")),
    ('"socket closed"', has("socket closed")),
    ("KeyError ValueError", has("KeyError", "ValueError")),
    ("SIGSEGV", has("SIGSEGV")),
    ("panicked", has("panicked")),
    ("TypeError", has("TypeError")),
    ("severity>=error", lambda e: LEVEL[e["sev"]] >= 5),
    ("severity:warn", lambda e: LEVEL[e["sev"]] == 4),
    ("level<info", lambda e: 0 < LEVEL[e["sev"]] < 3),
    ("user.plan:pro", lambda e: e["attrs"].get("user.plan") == "pro"),
    ("region:eu-1 severity>=warn", lambda e: e["attrs"].get("region") == "eu-1" and LEVEL[e["sev"]] >= 4),
    ("service:worker payment", lambda e: e["service"] == "worker" and has("payment")(e)),
    ("GET NOT 404", lambda e: has("GET")(e) and not has("404")(e)),
    ("(cache OR disk) AND NOT severity:debug", lambda e: (has("cache")(e) or has("disk")(e)) and LEVEL[e["sev"]] != 2),
    ("sha*", lambda e: any(t.startswith("sha") for t in tokens(e["body"]))),
    ("", lambda e: True),
]


def check(server: OspreyServer, events: list[dict]) -> None:
    t_min = min(e["ts"] for e in events)
    # The last generated time (events with the server's receive time come later).
    t_gen = max(e["ts"] for e in events if not e.get("bare"))
    for q, pred in QUERIES:
        want = sorted((e for e in events if pred(e)), key=lambda e: e["ts"], reverse=True)
        r = server.get("/api/v1/logs/search", params={"query": q, "limit": "1000", "start": str(t_min // SEC - 1)})
        assert r.status_code == 200, (q, r.text)
        data = r.json()["data"]
        assert data["stats"]["matched"] == len(want), q
        got = data["result"]
        assert [rfc3339_to_ns(x["timestamp"]) for x in got] == [e["ts"] for e in want], q
        assert sorted(x["body"] for x in got) == sorted(e["body"] for e in want), q
        for x in got:
            e = next(w for w in want if w["ts"] == rfc3339_to_ns(x["timestamp"]) and w["body"] == x["body"])
            assert x["service"] == e["service"], q
            assert (x["severity"] or "").lower() == (LEVEL_NAME[LEVEL[e["sev"]]] if e["sev"] else ""), (q, x)
            assert {k: v for k, v in x["attributes"].items() if k != "stream"} == e["attrs"], (q, x)

        # The histogram by severity, ten-second buckets over the generated times.
        start, end = t_min, t_gen
        step = 10 * SEC
        r = server.get(
            "/api/v1/logs/histogram",
            params={"query": q, "start": f"{start // SEC}.{start % SEC:09d}", "end": f"{end // SEC}.{end % SEC:09d}", "step": "10", "by": "severity"},
        )
        assert r.status_code == 200, (q, r.text)
        h = r.json()["data"]
        first = start // step * step
        n = (end - first) // step + 1
        counts = [0] * n
        split: list[dict] = [{} for _ in range(n)]
        in_range = [e for e in want if start <= e["ts"] <= end]
        for e in in_range:
            i = (e["ts"] - first) // step
            counts[i] += 1
            name = LEVEL_NAME[LEVEL[e["sev"]]]
            split[i][name] = split[i].get(name, 0) + 1
        assert h["matched"] == len(in_range), q
        assert [b["count"] for b in h["buckets"]] == counts, q
        assert [b["by"] for b in h["buckets"]] == split, q
        # And split by service, bucket by bucket.
        params = {"query": q, "start": f"{start // SEC}.{start % SEC:09d}", "end": f"{end // SEC}.{end % SEC:09d}", "step": "10", "by": "service"}
        r = server.get("/api/v1/logs/histogram", params=params)
        assert r.status_code == 200, (q, r.text)
        by_service: list[dict] = [{} for _ in range(n)]
        for e in in_range:
            i = (e["ts"] - first) // step
            by_service[i][e["service"]] = by_service[i].get(e["service"], 0) + 1
        assert [b["by"] for b in r.json()["data"]["buckets"]] == by_service, q

        # Facets: every field's value counts among the matches.
        r = server.get("/api/v1/logs/fields", params={"query": q, "limit": "50", "start": str(t_min // SEC - 1)})
        assert r.status_code == 200, (q, r.text)
        fields = {f["field"]: f for f in r.json()["data"]["fields"]}
        ref: dict[str, dict[str, int]] = {}
        for e in want:
            pairs = [("service", e["service"]), ("severity", LEVEL_NAME[LEVEL[e["sev"]]])]
            pairs += [(f"attributes.{k}", v) for k, v in e["attrs"].items()]
            for f, v in pairs:
                ref.setdefault(f, {})
                ref[f][v] = ref[f].get(v, 0) + 1
        assert set(fields) == set(ref), (q, set(fields) ^ set(ref))
        for f, counts_by_value in ref.items():
            got_values = {v["value"]: v["count"] for v in fields[f]["values"]}
            assert got_values == counts_by_value, (q, f)


def test_formats_parse_and_search_like_the_reference(osprey: OspreyServer) -> None:
    t0 = (time.time_ns() - 40 * 60 * SEC) // SEC * SEC
    events = corpus(t0, 480, seed=3)
    send(osprey, events[:240])
    osprey.flush()
    send(osprey, events[240:])
    check(osprey, events)
    osprey.flush()
    check(osprey, events)
