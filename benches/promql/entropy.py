"""How much information the metrics workload's values carry, against what Osprey's
samples files spend on them (the issue's density target, benches/README.md).

Reads a data directory's samples files (runs layout: storage/docs/format/
parquet-layout.md) and series files, decodes each run's decimal mantissas, and prints:
- the order-0 entropy of each metric's mantissa deltas (a coder that knew every
  metric's delta distribution for free could not do better than this with deltas);
- what per-run frame-of-reference bit packing would take;
- what the varints take before zstd.

Needs pyarrow and zstandard (not in tests/e2e/requirements.txt):
    python3 -m venv /tmp/pa && /tmp/pa/bin/pip install pyarrow zstandard
    /tmp/pa/bin/python benches/promql/entropy.py target/bench-promql/scale-1/load/osprey-metrics
"""

from __future__ import annotations

import collections
import glob
import json
import math
import sys

import pyarrow.parquet as pq
import zstandard


def varint(b: bytes, i: int) -> tuple[int, int]:
    v, shift = 0, 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return v, i


def unzigzag(u: int) -> int:
    return (u >> 1) ^ -(u & 1)


def zigzag(v: int) -> int:
    return v << 1 if v >= 0 else ((-v) << 1) - 1


def varint_len(u: int) -> int:
    n = 1
    while u >= 0x80:
        u >>= 7
        n += 1
    return n


def mantissas(values: bytes, n: int) -> list[int] | None:
    """A run's decimal mantissas (None for the XOR mode)."""
    mode = values[0]
    if mode == 2:
        return None
    i = 2
    exceptions, i = varint(values, i)
    for _ in range(exceptions):
        _, i = varint(values, i)
        i += 8
    out, m, d = [], 0, 0
    for _ in range(n - exceptions):
        x, i = varint(values, i)
        x = unzigzag(x)
        d = d + x if mode == 1 else x
        m += d
        out.append(m)
    return out


def main(data_dir: str) -> None:
    names: dict[int, str] = {}
    for f in glob.glob(f"{data_dir}/series/*/*.series"):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(open(f, "rb").read())
        for s in json.loads(raw)["series"]:
            names[s["id"]] = s["metric"]
    runs: dict[int, list[list[int]]] = collections.defaultdict(list)
    for f in sorted(glob.glob(f"{data_dir}/tables/*/metrics/*/*.parquet")):
        t = pq.read_table(f, columns=["series_id", "samples", "values"])
        for sid, n, vb in zip(*(t.column(c).to_pylist() for c in range(3))):
            ms = mantissas(vb, n)
            if ms is not None:
                runs[sid].append(ms)
    per_metric: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    samples = packed = var = 0
    for sid, parts in runs.items():
        joined = [m for p in parts for m in p]
        per_metric[names.get(sid, "?")].update(b - a for a, b in zip(joined, joined[1:]))
        for ms in parts:
            samples += len(ms)
            deltas = [ms[0]] + [b - a for a, b in zip(ms, ms[1:])]
            body = deltas[1:]
            width = (max(body) - min(body)).bit_length() if body else 0
            packed += varint_len(zigzag(deltas[0])) + 2 + (width * len(body) + 7) // 8
            var += sum(varint_len(zigzag(x)) for x in deltas)
    bits = 0.0
    for c in per_metric.values():
        n = sum(c.values())
        bits += -sum(v * math.log2(v / n) for v in c.values())
    print(f"samples: {samples}")
    print(f"order-0 entropy of each metric's mantissa deltas: {bits / 8 / samples:.3f} B/sample")
    print(f"per-run frame-of-reference bit packing of deltas: {packed / samples:.3f} B/sample")
    print(f"delta varints before zstd: {var / samples:.3f} B/sample")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-promql/scale-1/load/osprey-metrics")
