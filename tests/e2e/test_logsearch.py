"""Log search through the full-text index, checked against a brute-force reference over
the same corpus: while records are in memory, in flushed files, after compaction, after
a kill -9 restart, and with a corrupt index file (the search falls back to reading the
file)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import OspreyServer

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


def corpus(t0: int, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tpl = rng.choice(TEMPLATES)
        rows.append(
            {
                "ts": t0 + i * 1_000_003,  # unique timestamps: the order is total
                "service": rng.choice(SERVICES),
                "body": tpl.replace("{n}", str(rng.randint(1, 60)), 1).replace("{n}", str(rng.randint(1, 60))),
            }
        )
    return rows


def send(server: OspreyServer, rows: list[dict]) -> None:
    for svc in SERVICES:
        recs = [log_record(r["ts"], r["body"], attributes={"i": str(r["ts"])}) for r in rows if r["service"] == svc]
        if recs:
            assert_accepted(post_otlp(server, "logs", logs_request(svc, recs)))


QUERIES: list[dict] = [
    {"query": "payment"},
    {"query": "PAYMENT declined"},
    {"query": '"card declined"'},
    {"query": '"declined card"'},
    {"query": "orders_pkey"},
    {"query": "ord-17"},
    {"query": "ünïcödé"},
    {"query": "503 unavailable"},
    {"query": "item"},
    {"query": "items", "service": "checkout"},
    {"query": "", "service": "payment"},
    {"query": "declined", "limit": 5},
    {"query": "nothing-matches-this"},
    {"query": "ms", "window": (0.25, 0.6)},
]


def check_all(server: OspreyServer, rows: list[dict]) -> None:
    t_min, t_max = rows[0]["ts"], rows[-1]["ts"]
    for q in QUERIES:
        params = {k: v for k, v in q.items() if k != "window"}
        start, end = None, None
        if "window" in q:
            lo, hi = q["window"]
            start = t_min + int((t_max - t_min) * lo)
            end = t_min + int((t_max - t_min) * hi)
            # Exact decimal seconds: the API parses them to the nanosecond.
            params["start"] = f"{start // 10**9}.{start % 10**9:09d}"
            params["end"] = f"{end // 10**9}.{end % 10**9:09d}"
        limit = int(params.get("limit", 100))
        cls = clauses(params["query"])
        want = [
            r
            for r in rows
            if matches(r["body"], cls)
            and ("service" not in params or r["service"] == params["service"])
            and (start is None or start <= r["ts"])
            and (end is None or r["ts"] <= end)
        ]
        want.sort(key=lambda r: r["ts"], reverse=True)
        resp = server.get("/api/v1/logs/search", params=params)
        assert resp.status_code == 200, (q, resp.text)
        data = resp.json()["data"]
        assert data["stats"]["matched"] == len(want), q
        got = [(x["body"], x["service"], x["attributes"]["i"]) for x in data["result"]]
        assert got == [(r["body"], r["service"], str(r["ts"])) for r in want[:limit]], q


def fts_files(server: OspreyServer) -> list[Path]:
    return sorted(Path(server.data_dir).rglob("*.parquet.fts"))


def test_search_matches_reference_in_memory_files_compaction_and_restart(osprey: OspreyServer) -> None:
    t0 = time.time_ns() - 30 * 60 * 1_000_000_000
    rows = corpus(t0, 900, seed=7)
    send(osprey, rows[:300])
    check_all(osprey, rows[:300])  # memtable only
    osprey.flush()
    assert len(fts_files(osprey)) >= 1
    send(osprey, rows[300:600])
    osprey.flush()
    send(osprey, rows[600:])
    check_all(osprey, rows)  # two files + memtable
    r = osprey.post("/api/v1/admin/compact", params={"full": "true"})
    assert r.status_code == 200, r.text
    check_all(osprey, rows)  # one compacted file (index rebuilt) + memtable
    osprey.restart(kill=True)
    check_all(osprey, rows)  # WAL replay + files


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
    assert '"--"' in r.json()["error"]


@pytest.mark.parametrize("query", ['"unterminated'])
def test_search_rejects_bad_phrases(osprey: OspreyServer, query: str) -> None:
    r = osprey.get("/api/v1/logs/search", params={"query": query})
    assert r.status_code == 400
    assert "phrase" in r.json()["error"]
