"""The brute-force LogQL reference of the Loki API tests (``test_loki_api.py``): each
pipeline stage, parser, filter and range function written from Loki's documented
semantics, over the test's entries, built from the pieces a query names (``Q``), not by
parsing LogQL.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

S = 10**9


def sanitize(k: str) -> str:
    out = re.sub(r"[^a-zA-Z0-9_]", "_", k)
    return "_" + out if out[:1].isdigit() else out


@dataclass
class Entry:
    ts: int
    stream: dict[str, str]
    line: str
    meta: dict[str, str] = field(default_factory=dict)


# --- The reference: pipeline stages over one line -------------------------------------

# The stream of the entry being run (parsers rename a label that collides with it).
BASE: dict[str, Labels] = {"stream": {}}


def base() -> Labels:
    return BASE["stream"]



Labels = dict[str, str]
Stage = Callable[[str, Labels], "tuple[str, Labels] | None"]


def with_error(l: Labels, kind: str) -> Labels:
    """The first error sticks; its details are Osprey's own words (Loki's are its
    parser's), so the reference and the answers both say "*"."""
    if l.get("__error__"):
        return l
    return {**l, "__error__": kind, "__error_details__": "*"}


def contains(*needles: str) -> Stage:
    return lambda line, l: (line, l) if any(n in line for n in needles) else None


def not_contains(needle: str) -> Stage:
    return lambda line, l: None if needle in line else (line, l)


def matches(rx: str) -> Stage:
    r = re.compile(rx)
    return lambda line, l: (line, l) if r.search(line) else None


def extract(base: Labels, found: dict[str, str], l: Labels) -> Labels:
    out = dict(l)
    for k, v in found.items():
        k = sanitize(k)
        out[k + "_extracted" if k in base else k] = v
    return out


def json_object(line: str) -> dict[str, Any] | None:
    """The line as a JSON object, or None (`| json` then marks a `JSONParserErr`)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def json_stage() -> Stage:
    def run(line: str, l: Labels) -> tuple[str, Labels]:
        doc = json_object(line)
        if doc is None:
            return line, with_error(l, "JSONParserErr")
        flat: dict[str, str] = {}

        def walk(prefix: str, v: Any) -> None:
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(f"{prefix}_{k}" if prefix else k, x)
            elif isinstance(v, list):
                return
            elif isinstance(v, bool):
                flat[prefix] = "true" if v else "false"
            elif v is None:
                flat[prefix] = ""
            else:
                flat[prefix] = str(v)
        walk("", doc)
        return line, extract(base(), flat, l)
    return run


def json_params_stage(params: dict[str, list[str]]) -> Stage:
    """`| json a="x.y"`: only the named paths (a missing one gives an empty label)."""
    def run(line: str, l: Labels) -> tuple[str, Labels]:
        doc = json_object(line)
        if doc is None:
            return line, with_error(l, "JSONParserErr")
        found = {}
        for label, path in params.items():
            v: Any = doc
            for part in path:
                v = v.get(part) if isinstance(v, dict) else None
            found[label] = "" if v is None or isinstance(v, (dict, list)) else str(v)
        return line, extract(base(), found, l)
    return run


def regexp_stage(rx: str) -> Stage:
    r = re.compile(rx)

    def run(line: str, l: Labels) -> tuple[str, Labels]:
        m = r.search(line)
        found = {k: v for k, v in (m.groupdict() if m else {}).items() if v is not None}
        return line, extract(base(), found, l)
    return run


def logfmt_stage() -> Stage:
    pair = re.compile(r'(\w+)=("([^"]*)"|\S*)')

    def run(line: str, l: Labels) -> tuple[str, Labels]:
        found = {m.group(1): (m.group(3) if m.group(3) is not None else m.group(2)) for m in pair.finditer(line)}
        return line, extract(base(), found, l)
    return run


def pattern_stage(nodes: list[tuple[str, str]]) -> Stage:
    """Loki's pattern parser over ``nodes`` (("lit", text) or ("cap", name), "_" for
    an unnamed capture): a leading literal anchors at the start; each capture takes
    the text up to its literal's first occurrence, or the rest of the line when the
    literal is missing or the pattern ends (which ends the match)."""
    def run(line: str, l: Labels) -> tuple[str, Labels]:
        found: dict[str, str] = {}
        rest, ns = line, list(nodes)
        if ns and ns[0][0] == "lit":
            if not rest.startswith(ns[0][1]):
                return line, l
            rest, ns = rest[len(ns[0][1]):], ns[1:]
        while ns:
            name = ns[0][1]
            lit = ns[1][1] if len(ns) > 1 else None
            if lit is None or lit not in rest:
                if name != "_":
                    found[name] = rest
                break
            at = rest.index(lit)
            if name != "_":
                found[name] = rest[:at]
            rest, ns = rest[at + len(lit):], ns[2:]
        return line, extract(base(), found, l)
    return run


def pattern_test(nodes: list[tuple[str, str]], negate: bool = False) -> Stage:
    """Loki's pattern line filter: the literals in order, each first occurrence after
    the previous and not right at it (past the first); the line ends on the last
    literal, or leaves text for a final capture."""
    def ok(line: str) -> bool:
        off = 0
        for i, (kind, text) in enumerate(nodes):
            if kind != "lit":
                continue
            j = line.find(text, off)
            if j == -1 or (i != 0 and j == off):
                return False
            off = j + len(text)
        return (nodes[-1][0] == "cap") == (off != len(line))
    return lambda line, l: (line, l) if ok(line) != negate else None


def num_filter(name: str, pred: Callable[[float], bool], unit: Callable[[str], float] = float) -> Stage:
    """A numeric label filter, Loki's way: a line with an earlier error passes, one
    without the label is dropped, an unparsable value marks the line and passes."""
    def run(line: str, l: Labels) -> tuple[str, Labels] | None:
        if l.get("__error__"):
            return line, l
        if name not in l:
            return None
        try:
            x = unit(l[name])
        except ValueError:
            return line, with_error(l, "LabelFilterErr")
        return (line, l) if pred(x) else None
    return run


def keep_parsed(renames: dict[str, str]) -> Stage:
    """After a full logfmt parse, what `| logfmt a, b="c"` would have extracted: the
    named keys only, under their labels."""
    def run(line: str, l: Labels) -> tuple[str, Labels]:
        parsed_keys = set(re.findall(r'(\w+)=', line))
        out = {k: v for k, v in l.items() if k not in parsed_keys or k in base()}
        for label, k in renames.items():
            if k in l:
                out[label] = l[k]
        return line, out
    return run


def str_filter(name: str, pred: Callable[[str], bool]) -> Stage:
    return lambda line, l: (line, l) if pred(l.get(name, "")) else None


def no_error() -> Stage:
    return lambda line, l: (line, l) if not l.get("__error__") else None


def drop(*names: str) -> Stage:
    return lambda line, l: (line, {k: v for k, v in l.items() if k not in names})


def keep(*names: str) -> Stage:
    """`| keep`: the named labels, and the error labels (Loki never drops those here)."""
    special = ("__error__", "__error_details__")
    return lambda line, l: (line, {k: v for k, v in l.items() if k in names or k in special})


def duration_s(v: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", v)
    if not m:
        raise ValueError(v)
    return float(m.group(1)) * {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def bytes_n(v: str) -> float:
    m = re.fullmatch(r"([0-9.]+)([KMG]?B)", v)
    if not m:
        raise ValueError(v)
    return float(m.group(1)) * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)]


@dataclass
class Q:
    """A query and its reference: the selector (on stream labels), the stages (which
    may read the current entry's stream through ``base``), and for a metric query the
    range function and aggregation."""
    logql: str
    selector: Callable[[Labels], bool]
    stages: list[Stage]
    metric: Callable[[dict[tuple[tuple[str, str], ...], list[tuple[int, str, Labels]]], float], dict[tuple[tuple[str, str], ...], float]] | None = None
    range_s: int = 60
    offset_s: int = 0


def run_pipeline(q: Q, e: Entry) -> tuple[str, Labels] | None:
    if not q.selector(e.stream):
        return None
    BASE["stream"] = e.stream
    labels: Labels = dict(e.stream)
    for k, v in e.meta.items():
        labels[sanitize(k)] = v
    line = e.line
    for st in q.stages:
        out = st(line, labels)
        if out is None:
            return None
        line, labels = out
    return line, {k: v for k, v in labels.items() if v != ""}


def key(l: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(l.items()))


def ref_log(q: Q, entries: list[Entry], start: int, end: int, limit: int, forward: bool) -> list[tuple[Labels, list[tuple[int, str]]]]:
    kept = []
    for e in entries:
        if not (start <= e.ts < end):
            continue
        out = run_pipeline(q, e)
        if out is not None:
            kept.append((e.ts, out[1], out[0]))
    kept.sort(key=lambda x: x[0], reverse=not forward)
    kept = kept[:limit]
    streams: dict[tuple[tuple[str, str], ...], list[tuple[int, str]]] = defaultdict(list)
    for ts, labels, line in kept:
        streams[key(labels)].append((ts, line))
    return sorted(((dict(k), v) for k, v in streams.items()), key=lambda s: key(s[0]))


def ref_metric(q: Q, entries: list[Entry], steps: list[int]) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    assert q.metric is not None
    processed = []
    for e in entries:
        out = run_pipeline(q, e)
        if out is not None:
            processed.append((e.ts, out[0], out[1]))
    result: dict[tuple[tuple[str, str], ...], dict[int, float]] = defaultdict(dict)
    for t in steps:
        window: dict[tuple[tuple[str, str], ...], list[tuple[int, str, Labels]]] = defaultdict(list)
        for ts, line, labels in processed:
            end = t - q.offset_s * S
            if end - q.range_s * S < ts <= end:
                window[key(labels)].append((ts, line, labels))
        for k, v in q.metric(window, q.range_s).items():
            result[k][t] = v
    return result


# --- Range functions and aggregations of the reference --------------------------------

Window = dict[tuple[tuple[str, str], ...], list[tuple[int, str, Labels]]]


def by(keys: tuple[str, ...], agg: Callable[[list[float]], float], per_series: Callable[[list[tuple[int, str, Labels]], int], float | None]) -> Callable[[Window, int], dict[tuple[tuple[str, str], ...], float]]:
    def run(w: Window, rng: int) -> dict[tuple[tuple[str, str], ...], float]:
        groups: dict[tuple[tuple[str, str], ...], list[float]] = defaultdict(list)
        for k, points in w.items():
            v = per_series(points, rng)
            if v is None:
                continue
            labels = dict(k)
            groups[tuple(sorted((n, labels[n]) for n in keys if labels.get(n)))].append(v)
        return {g: agg(vs) for g, vs in groups.items()}
    return run


def count(points: list[tuple[int, str, Labels]], _rng: int) -> float:
    return float(len(points))


def rate(points: list[tuple[int, str, Labels]], rng: int) -> float:
    return len(points) / rng


def bytes_over(points: list[tuple[int, str, Labels]], _rng: int) -> float:
    return float(sum(len(line.encode()) for _, line, _ in points))


def unwrap(name: str, fn: Callable[[list[float]], float], unit: Callable[[str], float] = float) -> Callable[[list[tuple[int, str, Labels]], int], float | None]:
    def run(points: list[tuple[int, str, Labels]], _rng: int) -> float | None:
        vals = [unit(l[name]) for _, _, l in points if l.get(name)]
        return fn(vals) if vals else None
    return run


def series(fn: Callable[[list[tuple[int, str, Labels]], int], float | None], drop_label: str | None = None) -> Callable[[Window, int], dict[tuple[tuple[str, str], ...], float]]:
    """A range function per series, no aggregation (the series' own labels, less the
    unwrapped label)."""
    def run(w: Window, rng: int) -> dict[tuple[tuple[str, str], ...], float]:
        out: dict[tuple[tuple[str, str], ...], float] = defaultdict(float)
        merged: dict[tuple[tuple[str, str], ...], list[tuple[int, str, Labels]]] = defaultdict(list)
        for k, points in w.items():
            k2 = tuple((a, b) for a, b in k if a != drop_label)
            merged[k2].extend(points)
        for k, points in merged.items():
            v = fn(points, rng)
            if v is not None:
                out[k] = v
        return dict(out)
    return run


def quantile(q: float) -> Callable[[list[float]], float]:
    def run(vals: list[float]) -> float:
        v = sorted(vals)
        rank = q * (len(v) - 1)
        lo = math.floor(rank)
        hi = min(lo + 1, len(v) - 1)
        w = rank - lo
        return v[lo] * (1 - w) + v[hi] * w
    return run


def stream_is(**want: str) -> Callable[[Labels], bool]:
    return lambda l: all(l.get(k, "") == v for k, v in want.items())


def stream_re(name: str, rx: str) -> Callable[[Labels], bool]:
    r = re.compile(f"^(?:{rx})$")
    return lambda l: bool(r.match(l.get(name, "")))


def rename_then_template(dst: str, src: str, tdst: str, tmpl: Callable[[Labels], str]) -> Stage:
    """`label_format dst=src, tdst="…"`: the rename, then the template over the labels
    as they are at the stage's first template."""
    def stage(line: str, l: Labels) -> tuple[str, Labels] | None:
        out = dict(l)
        if src in out:
            out[dst] = out.pop(src)
        out[tdst] = tmpl(dict(out))
        return line, out
    return stage
