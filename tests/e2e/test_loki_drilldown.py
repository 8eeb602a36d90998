"""Grafana Logs Drilldown's Loki endpoints (`detected_labels`, `detected_fields`,
`detected_field/{name}/values`, `patterns`, `drilldown-limits`) over the corpus of
`test_loki_api.py` (the same server fixture and reference data), each answer checked
against what the corpus holds."""

from __future__ import annotations

import json
import math
import shlex

from test_loki_api import S, loaded  # noqa: F401 (a fixture)


def humanize_bytes(n: int) -> str:
    """go-humanize's Bytes (SI) without its space, as Loki writes detected byte values."""
    if n < 10:
        return f"{n}B"
    sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    e = int(math.floor(math.log(n, 1000)))
    val = math.floor(n / 1000 ** e * 10 + 0.5) / 10
    return (f"{val:.1f}" if val < 10 else f"{val:.0f}") + sizes[e]


def test_detected_labels_fields_and_values_follow_the_corpus(loaded) -> None:
    server, entries, end = loaded
    # The corpus only: the tail test adds lines after `end` to the same server.
    rng = {"start": str(end - 700 * S), "end": str(end)}

    r = server.get("/loki/api/v1/detected_labels", params={"query": '{env="prod"}', **rng})
    assert r.status_code == 200, r.text
    want: dict[str, set[str]] = {}
    for e in entries:
        if e.stream.get("env") == "prod":
            for k, v in e.stream.items():
                want.setdefault(k, set()).add(v)
    got = {x["label"]: x["cardinality"] for x in r.json()["detectedLabels"]}
    assert got == {k: len(v) for k, v in want.items()}, got

    # Web lines are logfmt with structured metadata: each field, its type and cardinality.
    web = [e for e in entries if e.stream["service_name"] == "web"]
    values: dict[str, set[str]] = {}
    for e in web:
        for tok in shlex.split(e.line):
            k, _, v = tok.partition("=")
            values.setdefault(k, set()).add(v)
    meta: dict[str, set[str]] = {}
    for e in web:
        for k, v in e.meta.items():
            meta.setdefault(k, set()).add(v)
    r = server.get("/loki/api/v1/detected_fields", params={"query": '{service_name="web"}', **rng})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limit"] == 1000
    fields = {f["label"]: f for f in body["fields"]}
    assert set(fields) == set(values) | set(meta), fields
    for k, vs in values.items():
        assert fields[k]["parsers"] == ["logfmt"] and fields[k]["cardinality"] == len(vs), fields[k]
    for k, vs in meta.items():
        assert fields[k]["parsers"] is None and fields[k]["cardinality"] == len(vs), fields[k]
    assert {k: fields[k]["type"] for k in ("status", "duration", "bytes", "path", "level")} == {
        "status": "int", "duration": "duration", "bytes": "bytes", "path": "string", "level": "string"}

    r = server.get("/loki/api/v1/detected_field/bytes/values", params={"query": '{service_name="web"}', **rng})
    assert sorted(r.json()["values"]) == sorted({humanize_bytes(int(v[:-2]) * 1000) for v in values["bytes"]})
    r = server.get("/loki/api/v1/detected_field/status/values", params={"query": '{service_name="web"}', **rng})
    assert sorted(r.json()["values"]) == sorted(values["status"])

    # JSON fields carry their path; `line_limit` samples the newest lines only.
    r = server.get("/loki/api/v1/detected_fields", params={"query": '{service_name="api"} |= "GET"', "line_limit": "5", **rng})
    fields = {f["label"]: f for f in r.json()["fields"]}
    assert fields["req_path"]["jsonPath"] == ["req", "path"] and fields["req_path"]["parsers"] == ["json"]
    newest = sorted((e for e in entries if e.stream["service_name"] == "api" and "GET" in e.line), key=lambda e: -e.ts)[:5]
    assert fields["req_id"]["cardinality"] == len({json.loads(e.line)["req"]["id"] for e in newest})
    # Nothing found is `{}`; a metric query is refused.
    assert server.get("/loki/api/v1/detected_fields", params={"query": '{service_name="nope"}', **rng}).json() == {}
    r = server.get("/loki/api/v1/detected_fields", params={"query": 'count_over_time({env="prod"}[1m])', **rng})
    assert r.status_code == 400 and "log queries" in r.text


def test_patterns_count_the_lines_their_filter_selects(loaded) -> None:
    server, entries, end = loaded
    start = end - 700 * S
    r = server.get("/loki/api/v1/patterns", params={"query": '{service_name="api"}', "start": str(start), "end": str(end + S), "step": "60s"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data, r.json()
    for p in data:
        assert "<_>" in p["pattern"] and "<*>" not in p["pattern"]
        assert all(ts % 60 == 0 for ts, _ in p["samples"])
        total = sum(c for _, c in p["samples"])
        assert total >= 30
        # Every line of the template fits its pattern filter.
        q = f'sum(count_over_time({{service_name="api"}} |> {json.dumps(p["pattern"])} [1h]))'
        r = server.get("/loki/api/v1/query", params={"query": q, "time": str(end + S)})
        [sample] = r.json()["data"]["result"]
        assert int(sample["value"][1]) >= total, (p["pattern"], sample, total)
    r = server.get("/loki/api/v1/patterns", params={"query": '{service_name="api"} |= "x"'})
    assert r.status_code == 400
    limits = server.get("/loki/api/v1/drilldown-limits").json()
    assert limits["pattern_ingester_enabled"] is True and limits["limits"]["volume_enabled"] is True
