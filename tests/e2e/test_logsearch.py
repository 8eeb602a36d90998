"""Log search through the full-text index, checked against a brute-force reference over
the same corpus: the search language (terms, phrases, prefixes, fields, severity
ranges, AND/OR/NOT, parentheses), paging with cursors, while records are in memory, in
flushed files, after compaction, after a kill -9 restart, and with a corrupt index file
(the search falls back to reading the file)."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import OspreyServer, rfc3339_to_ns

SERVICES = ["checkout", "payment", "search-api"]
TEMPLATES = [
    "GET /api/items/{n} 200 in {n}ms",
    "Payment FAILED for order ord-{n}: card declined",
    "payment retried: declined card for user u{n}",
    "slow query on orders_pkey took {n}ms",
    "cache MISS for key item:{n}",
    "ünïcödé ✓ payload {n}",
    "upstream returned 503 Service Unavailable after {n} retries",
    "context deadline exceeded (Client.Timeout) id={n}",
]


def tokens(text: str) -> list[str]:
    """The index's tokens: maximal runs of letters and digits, lowercased."""
    out, cur = [], []
    for ch in text:
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            out.append("".join(cur).lower())
            cur = []
    if cur:
        out.append("".join(cur).lower())
    return out


def clauses(query: str) -> list[list[str]]:
    out, rest = [], query.strip()
    while rest:
        if rest.startswith('"'):
            end = rest.index('"', 1)
            term, rest = rest[1:end], rest[end + 1 :].lstrip()
        else:
            parts = rest.split(None, 1)
            term, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        if tokens(term):
            out.append(tokens(term))
    return out


def matches(body: str, cls: list[list[str]]) -> bool:
    toks = tokens(body)
    return all(any(toks[i : i + len(c)] == c for i in range(len(toks) - len(c) + 1)) for c in cls)


SEVERITIES = [(5, "DEBUG"), (9, "INFO"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL")]
LEVEL = {5: 2, 9: 3, 13: 4, 17: 5, 21: 6}


def corpus(t0: int, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tpl = rng.choice(TEMPLATES)
        sev, sev_text = rng.choice(SEVERITIES)
        ts = t0 + i * 1_000_003
        # A few records share a timestamp: paging must still return each once.
        if i % 50 == 1:
            ts = rows[-1]["ts"]
        rows.append(
            {
                "ts": ts,
                "service": rng.choice(SERVICES),
                "body": tpl.replace("{n}", str(rng.randint(1, 60)), 1).replace("{n}", str(rng.randint(1, 60))),
                "sev": sev,
                "sev_text": sev_text,
                "attrs": {"i": str(i), "http.method": rng.choice(["GET", "POST"]), "order.id": str(rng.randint(1, 20))},
                # 37 traces over two thirds of the records (from i: the rng's draws stay as they were).
                "trace": trace_of(i % 37) if i % 3 else "",
            }
        )
    return rows


def trace_of(n: int) -> str:
    return f"{n + 1:032x}"


def send(server: OspreyServer, rows: list[dict]) -> None:
    for svc in SERVICES:
        recs = [
            log_record(r["ts"], r["body"], severity_number=r["sev"], severity_text=r["sev_text"], attributes=r["attrs"],
                       trace_id=r["trace"] or None)
            for r in rows
            if r["service"] == svc
        ]
        if recs:
            assert_accepted(post_otlp(server, "logs", logs_request(svc, recs)))


def has(*words: str):
    return lambda r: matches(r["body"], [tokens(w) for w in words])


def prefix(p: str):
    return lambda r: any(t.startswith(p) for t in tokens(r["body"]))


# (parameters, reference predicate)
QUERIES: list[tuple[dict, object]] = [
    ({"query": "payment"}, has("payment")),
    ({"query": "PAYMENT declined"}, has("payment", "declined")),
    ({"query": '"card declined"'}, has("card declined")),
    ({"query": '"declined card"'}, has("declined card")),
    ({"query": "orders_pkey"}, has("orders_pkey")),
    ({"query": "ord-17"}, has("ord-17")),
    ({"query": "ünïcödé"}, has("ünïcödé")),
    ({"query": "503 unavailable"}, has("503", "unavailable")),
    ({"query": "item"}, has("item")),
    ({"query": "items", "service": "checkout"}, lambda r: has("items")(r) and r["service"] == "checkout"),
    ({"query": "", "service": "payment"}, lambda r: r["service"] == "payment"),
    ({"query": "declined", "limit": 5}, has("declined")),
    ({"query": "nothing-matches-this"}, has("nothing-matches-this")),
    ({"query": "ms", "window": (0.25, 0.6)}, has("ms")),
    ({"query": "pay*"}, prefix("pay")),
    ({"query": "payment OR cache"}, lambda r: has("payment")(r) or has("cache")(r)),
    ({"query": "NOT payment"}, lambda r: not has("payment")(r)),
    ({"query": "-payment service:checkout"}, lambda r: not has("payment")(r) and r["service"] == "checkout"),
    ({"query": '(payment OR cache) AND NOT "card declined"'},
     lambda r: (has("payment")(r) or has("cache")(r)) and not has("card declined")(r)),
    ({"query": 'NOT "card declined"'}, lambda r: not has("card declined")(r)),
    ({"query": '"card declined" OR "declined card"'}, lambda r: has("card declined")(r) or has("declined card")(r)),
    ({"query": '"card declined" payment'}, lambda r: has("card declined")(r) and has("payment")(r)),
    ({"query": "severity>=warn"}, lambda r: LEVEL[r["sev"]] >= 4),
    ({"query": "level<info"}, lambda r: LEVEL[r["sev"]] < 3),
    ({"query": "severity:error timeout"}, lambda r: LEVEL[r["sev"]] == 5 and has("timeout")(r)),
    ({"query": "http.method:POST"}, lambda r: r["attrs"]["http.method"] == "POST"),
    ({"query": 'order.id:"17" OR service:search-api'},
     lambda r: r["attrs"]["order.id"] == "17" or r["service"] == "search-api"),
    ({"query": "service:checkout severity>=error -cache"},
     lambda r: r["service"] == "checkout" and LEVEL[r["sev"]] >= 5 and not has("cache")(r)),
    # The logs of a trace (trace-id filters, then the rows), alone, with words, in an OR,
    # in any case, and negated (no bound: every row is read).
    ({"query": f"trace_id:{trace_of(5)}"}, lambda r: r["trace"] == trace_of(5)),
    ({"query": f"trace_id:{trace_of(7)} payment"}, lambda r: r["trace"] == trace_of(7) and has("payment")(r)),
    ({"query": f"trace_id:{trace_of(1)} OR trace_id:{trace_of(30)}"}, lambda r: r["trace"] in (trace_of(1), trace_of(30))),
    ({"query": f"trace_id:{trace_of(11).upper()}"}, lambda r: r["trace"] == trace_of(11)),
    ({"query": f"trace_id:{trace_of(99)}"}, lambda r: r["trace"] == trace_of(99)),
    ({"query": f"-trace_id:{trace_of(5)} service:checkout"},
     lambda r: r["trace"] != trace_of(5) and r["service"] == "checkout"),
]


def reference(rows: list[dict], params: dict, pred, window) -> list[dict]:
    t_min, t_max = rows[0]["ts"], rows[-1]["ts"]
    start = end = None
    if window:
        lo, hi = window
        start = t_min + int((t_max - t_min) * lo)
        end = t_min + int((t_max - t_min) * hi)
        # Exact decimal seconds: the API parses them to the nanosecond.
        params["start"] = f"{start // 10**9}.{start % 10**9:09d}"
        params["end"] = f"{end // 10**9}.{end % 10**9:09d}"
    want = [r for r in rows if pred(r) and (start is None or start <= r["ts"]) and (end is None or r["ts"] <= end)]
    want.sort(key=lambda r: r["ts"], reverse=True)
    return want


def key(hit: dict) -> tuple:
    return (hit["body"], hit["service"], hit["attributes"]["i"])


def check_all(server: OspreyServer, rows: list[dict]) -> None:
    for q, pred in QUERIES:
        params = {k: v for k, v in q.items() if k != "window"}
        want = reference(rows, params, pred, q.get("window"))
        limit = int(params.get("limit", 100))
        resp = server.get("/api/v1/logs/search", params=params)
        assert resp.status_code == 200, (q, resp.text)
        data = resp.json()["data"]
        assert data["stats"]["matched"] == len(want), q
        got = [key(x) for x in data["result"]]
        # Newest first; records sharing a timestamp may come in any order.
        assert [rfc3339_to_ns(x["timestamp"]) for x in data["result"]] == [r["ts"] for r in want[:limit]], q
        expected = [(r["body"], r["service"], r["attrs"]["i"]) for r in want]
        assert len(set(got)) == len(got), q
        assert set(got) <= set(expected), q
        if got:
            last = want[len(got) - 1]["ts"]
            assert {e for e, r in zip(expected, want) if r["ts"] > last} <= set(got), q
        assert ("cursor" in data) == (len(want) > limit), q


def check_paging(server: OspreyServer, rows: list[dict], query: str, pred, page: int) -> None:
    """Walking every page returns every match exactly once, newest first."""
    want = reference(rows, {}, pred, None)
    seen: list[dict] = []
    cursor = None
    for _ in range(len(rows)):
        params = {"query": query, "limit": str(page)}
        if cursor:
            params["cursor"] = cursor
        resp = server.get("/api/v1/logs/search", params=params)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        seen.extend(data["result"])
        cursor = data.get("cursor")
        if not cursor:
            break
    assert sorted(key(x) for x in seen) == sorted((r["body"], r["service"], r["attrs"]["i"]) for r in want)
    stamps = [rfc3339_to_ns(x["timestamp"]) for x in seen]
    assert stamps == sorted(stamps, reverse=True)


LEVEL_NAME = {2: "debug", 3: "info", 4: "warn", 5: "error", 6: "fatal"}
STATS_QUERIES = [0, 1, 2, 14, 16, 20, 24]  # indexes into QUERIES


def ns_param(ns: int) -> str:
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def check_stats(server: OspreyServer, rows: list[dict]) -> None:
    """Histograms and field facets agree exactly with the reference."""
    t_min, t_max = rows[0]["ts"], rows[-1]["ts"]
    for qi in STATS_QUERIES:
        q, pred = QUERIES[qi]
        want = [r for r in rows if pred(r)]
        # Explicit range and step, split by severity.
        start, end = t_min + 1000, t_max - 1000
        step_ns = 100_000_000
        params = {"query": q["query"], "start": ns_param(start), "end": ns_param(end), "step": "0.1", "by": "severity"}
        resp = server.get("/api/v1/logs/histogram", params=params)
        assert resp.status_code == 200, resp.text
        h = resp.json()["data"]
        first = start // step_ns * step_ns
        in_range = [r for r in want if start <= r["ts"] <= end]
        assert h["step_ms"] == 100
        assert h["matched"] == len(in_range), q
        n = (end - first) // step_ns + 1
        assert len(h["buckets"]) == n
        ref_counts = [0] * n
        ref_split: list[dict] = [dict() for _ in range(n)]
        for r in in_range:
            i = (r["ts"] - first) // step_ns
            ref_counts[i] += 1
            lvl = LEVEL_NAME[LEVEL[r["sev"]]]
            ref_split[i][lvl] = ref_split[i].get(lvl, 0) + 1
        assert [b["count"] for b in h["buckets"]] == ref_counts, q
        assert [b["by"] for b in h["buckets"]] == ref_split, q
        assert [b["start_ns"] for b in h["buckets"]] == [first + i * step_ns for i in range(n)]
        # Automatic step over all the data, split by service.
        resp = server.get("/api/v1/logs/histogram", params={"query": q["query"], "by": "service"})
        assert resp.status_code == 200, resp.text
        h = resp.json()["data"]
        assert h["matched"] == len(want) == sum(b["count"] for b in h["buckets"]), q
        assert 0 < len(h["buckets"]) <= 121
        per_service: dict[str, int] = {}
        for b in h["buckets"]:
            for k, v in b["by"].items():
                per_service[k] = per_service.get(k, 0) + v
        ref_service: dict[str, int] = {}
        for r in want:
            ref_service[r["service"]] = ref_service.get(r["service"], 0) + 1
        assert per_service == ref_service, q
        # Field facets.
        resp = server.get("/api/v1/logs/fields", params={"query": q["query"], "limit": "3"})
        assert resp.status_code == 200, resp.text
        f = resp.json()["data"]
        assert f["matched"] == len(want)
        ref_fields: dict[str, dict[str, int]] = {}

        def add(field: str, value: str) -> None:
            ref_fields.setdefault(field, {})
            ref_fields[field][value] = ref_fields[field].get(value, 0) + 1

        for r in want:
            add("service", r["service"])
            add("resource.service.name", r["service"])  # the OTLP resource
            add("severity", LEVEL_NAME[LEVEL[r["sev"]]])
            for k, v in r["attrs"].items():
                add(f"attributes.{k}", v)
        got = {x["field"]: x for x in f["fields"]}
        assert set(got) == set(ref_fields), q
        for field, counts in ref_fields.items():
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            assert [(v["value"], v["count"]) for v in got[field]["values"]] == top, (q, field)
            assert got[field]["distinct"] == len(counts)
            assert got[field]["count"] == sum(counts.values())


def fts_files(server: OspreyServer) -> list[Path]:
    return sorted(Path(server.data_dir).rglob("*.parquet.fts"))


def check_sql_traces(server: OspreyServer, rows: list[dict]) -> None:
    """SQL's logs of a trace (files its ids' bloom filters rule out are dropped before
    the scan) against the rows sent: one id, upper case, an IN list with an id no row
    carries, and only such ids."""
    def bodies(*traces: str) -> list[str]:
        return sorted(r["body"] for r in rows if r["trace"] and r["trace"] in traces)

    def got(where: str) -> list[str]:
        return sorted(row[0] for row in server.sql(f"SELECT body FROM logs WHERE {where}"))

    absent = "ab" * 16  # no trace_of(n) of the corpus
    for n in (1, 5, 30):
        assert got(f"trace_id = '{trace_of(n)}'") == bodies(trace_of(n)), n
    assert got(f"trace_id = '{trace_of(7).upper()}'") == bodies(trace_of(7))
    assert got(f"trace_id IN ('{trace_of(2)}', '{absent}', '{trace_of(11)}')") == bodies(trace_of(2), trace_of(11))
    assert got(f"trace_id = '{trace_of(3)}' OR trace_id = '{absent}'") == bodies(trace_of(3))
    assert got(f"trace_id = '{absent}'") == []


def like(pattern: str, body: str, *, ci: bool = False) -> bool:
    """SQL LIKE: `%` any run, `_` any one character, the rest literal, whole body."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, body, re.DOTALL | (re.IGNORECASE if ci else 0)) is not None


def check_sql_body(server: OspreyServer, rows: list[dict]) -> None:
    """SQL filters on `body` (prefiltered by the full-text index, files with no
    candidate dropped, only candidate rows read) against the rows sent: case-sensitive
    and not, inside tokens, `_`, anchored, `=`, OR, with another column, and none."""
    def got(where: str) -> list[str]:
        return sorted(row[0] for row in server.sql(f"SELECT body FROM logs WHERE {where}"))

    def want(pred) -> list[str]:
        return sorted(r["body"] for r in rows if pred(r))

    cases = [
        ("body LIKE '%FAILED for order%'", lambda r: like("%FAILED for order%", r["body"])),
        ("body LIKE '%failed for order%'", lambda r: False),
        ("body ILIKE '%failed FOR order%'", lambda r: like("%failed for order%", r["body"], ci=True)),
        ("body LIKE '%ayment%'", lambda r: "ayment" in r["body"]),
        ("body LIKE 'GET /api/items/1_ 200%'", lambda r: like("GET /api/items/1_ 200%", r["body"])),
        ("body LIKE '%orders_pkey took 4%'", lambda r: like("%orders_pkey took 4%", r["body"])),
        ("body = 'cache MISS for key item:7'", lambda r: r["body"] == "cache MISS for key item:7"),
        ("body LIKE '%Timeout) id=4%' OR body LIKE '%after 3 retries'",
         lambda r: like("%Timeout) id=4%", r["body"]) or like("%after 3 retries", r["body"])),
        ("body LIKE '%ünïcödé ✓ payload 1%'", lambda r: like("%ünïcödé ✓ payload 1%", r["body"])),
        (f"service = '{SERVICES[0]}' AND body LIKE '%declined%'",
         lambda r: r["service"] == SERVICES[0] and "declined" in r["body"]),
        ("body LIKE '%zzqqx%'", lambda r: False),
        # Regexes narrow through the literals every match holds.
        ("body ~ 'FAILED for order ord-1[0-9]:'", lambda r: re.search("FAILED for order ord-1[0-9]:", r["body"])),
        ("body ~* 'payment (failed|retried)'", lambda r: re.search("(?i)payment (failed|retried)", r["body"])),
        ("regexp_like(body, 'Timeout\\) id=(4|5)$')", lambda r: re.search(r"Timeout\) id=(4|5)$", r["body"])),
        ("body ~ 'took [0-9]+ms'", lambda r: re.search("took [0-9]+ms", r["body"])),
    ]
    for where, pred in cases:
        assert got(where) == want(pred), where
    n = server.sql("SELECT count(*) FROM logs WHERE body LIKE '%declined%'")[0][0]
    assert n == len(want(lambda r: "declined" in r["body"])) > 0


def test_search_matches_reference_in_memory_files_compaction_and_restart(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 30 * 60 * 1_000_000_000
    rows = corpus(t0, 900, seed=7)
    send(osprey, rows[:300])
    check_all(osprey, rows[:300])  # memtable only
    check_paging(osprey, rows[:300], "payment OR cache", lambda r: has("payment")(r) or has("cache")(r), 7)
    check_stats(osprey, rows[:300])
    osprey.flush()
    assert len(fts_files(osprey)) >= 1
    send(osprey, rows[300:600])
    osprey.flush()
    send(osprey, rows[600:])
    check_all(osprey, rows)  # two files + memtable
    check_sql_traces(osprey, rows)
    check_sql_body(osprey, rows)
    check_paging(osprey, rows, "severity>=warn", lambda r: LEVEL[r["sev"]] >= 4, 13)
    check_stats(osprey, rows)
    r = osprey.post("/api/v1/admin/compact", params={"full": "true"})
    assert r.status_code == 200, r.text
    check_all(osprey, rows)  # one compacted file (index rebuilt) + memtable
    check_sql_traces(osprey, rows)
    check_sql_body(osprey, rows)
    osprey.restart(kill=True)
    check_all(osprey, rows)  # WAL replay + files
    check_paging(osprey, rows, "", lambda r: True, 50)
    check_stats(osprey, rows)


def test_corrupt_index_falls_back_to_reading_the_file(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 10 * 60 * 1_000_000_000
    rows = corpus(t0, 200, seed=11)
    send(osprey, rows)
    osprey.flush()
    files = fts_files(osprey)
    assert files, "a logs file has a full-text index"
    osprey.stop()
    for f in files:
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))
    osprey.start()
    check_all(osprey, rows)
    metrics = osprey.get("/metrics").text
    assert "osprey_text_index_errors_total 1" in metrics or any(
        line.startswith("osprey_text_index_errors_total") and not line.endswith(" 0")
        for line in metrics.splitlines()
    ), metrics


def test_search_rejects_terms_without_words(osprey: OspreyServer) -> None:
    r = osprey.get("/api/v1/logs/search", params={"query": "error --"})
    assert r.status_code == 400
    assert "has no letters or digits" in r.json()["error"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"unterminated', "unterminated"),
        ("(a OR b", "missing ')'"),
        ("severity>=loud", "unknown severity"),
        ("service>=x", "only severity"),
        ("a OR", "query ends"),
    ],
)
def test_search_rejects_bad_queries(osprey: OspreyServer, query: str, reason: str) -> None:
    r = osprey.get("/api/v1/logs/search", params={"query": query})
    assert r.status_code == 400
    body = r.json()
    assert body["errorType"] == "bad_data"
    assert reason in body["error"]


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/api/v1/logs/histogram", {"step": "fast"}, "step"),
        ("/api/v1/logs/histogram", {"step": "0"}, "step"),
        ("/api/v1/logs/histogram", {"by": "colour"}, "by"),
        ("/api/v1/logs/histogram", {"start": "100", "end": "200", "step": "0.001"}, "too many"),
        ("/api/v1/logs/fields", {"limit": "0"}, "limit"),
        ("/api/v1/logs/fields", {"query": "(a"}, "missing ')'"),
    ],
)
def test_stats_reject_bad_parameters(osprey: OspreyServer, path: str, params: dict, reason: str) -> None:
    send(osprey, corpus(time.time_ns() - 10**9, 3, seed=1))
    r = osprey.get(path, params=params)
    assert r.status_code == 400, r.text
    assert reason in r.json()["error"]


def test_search_rejects_bad_cursor(osprey: OspreyServer) -> None:
    r = osprey.get("/api/v1/logs/search", params={"query": "", "cursor": "nope"})
    assert r.status_code == 400
    assert "cursor" in r.json()["error"]


def test_indexes_without_positions_still_answer_phrases(osprey_factory) -> None:
    """storage.text_index_positions = false (indexes as written before positions were
    kept): phrases are answered from their tokens and checked against the bodies, with
    the same results; a server with positions reads those old indexes too."""
    server = osprey_factory(env={"OSPREY_STORAGE_TEXT_INDEX_POSITIONS": "false"})
    t0 = time.time_ns() - 30 * 60 * 1_000_000_000
    rows = corpus(t0, 600, seed=11)
    send(server, rows)
    server.flush()
    check_all(server, rows)
    # The same data dir under the default (positions on): old indexes still serve.
    server.stop()
    server.extra_env.pop("OSPREY_STORAGE_TEXT_INDEX_POSITIONS")
    server.start()
    check_all(server, rows)
