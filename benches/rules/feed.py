"""The live feed of the rule benchmark: continues the metrics workload on both servers,
one sample per series per 15 s step, as remote_write 1.0 (the same bytes to each).
`run.py` says why (its step 2)."""

from __future__ import annotations

import math
import random
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import cramjam
import requests

INTERVAL_S = 15
STEP_MS = 15_000
HTTP_TIMEOUT_S = 60

# --- remote_write encoding ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def encode_labels(labels: dict[str, str]) -> bytes:
    """A TimeSeries' labels (field 1), sorted by name as remote_write requires."""
    return b"".join(
        _len_field(1, _len_field(1, k.encode()) + _len_field(2, labels[k].encode())) for k in sorted(labels)
    )


def encode_sample(value: float, ts_ms: int) -> bytes:
    """A TimeSeries' one sample (field 2)."""
    return _len_field(2, b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(ts_ms))


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "osprey-rules-bench",
}


# --- the feed ----------------------------------------------------------------------------------------

COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def decimals(v: float) -> int:
    """Decimal places of the shortest repr (62345.67: 2, 1e-05: 5, 1000000000.0: 0)."""
    if not math.isfinite(v):
        return 0
    return max(0, -Decimal(repr(v)).normalize().as_tuple().exponent)


class FedSeries:
    __slots__ = ("labels", "jitter_key", "counter", "value", "rate", "spread", "mid", "quantum")

    def __init__(self, labels: dict[str, str], v_then: float, v_last: float, span_s: float) -> None:
        name = labels["__name__"]
        self.labels = encode_labels(labels)
        self.counter = name.endswith(COUNTER_SUFFIXES) or name.startswith("node_vmstat_")
        base = name
        for suffix in ("_bucket", "_count", "_sum"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        rest = tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", "le")))
        self.jitter_key = (base, rest) if base != name else (name, tuple(sorted(labels.items())))
        self.value = v_last
        self.rate = max(0.0, (v_last - v_then) / span_s) if self.counter else 0.0
        self.spread = abs(v_last - v_then) / 2
        self.mid = (v_last + v_then) / 2
        d = max(decimals(v_last), decimals(v_then))
        self.quantum = 10.0 ** -min(d, 6) if d else 1.0

    def quantize(self, v: float) -> float:
        if self.quantum >= 1:
            return float(round(v))
        return round(v, round(-math.log10(self.quantum)))

    def advance(self, rng: random.Random, jitter: dict[tuple, float]) -> float:
        if self.counter:
            j = jitter.get(self.jitter_key)
            if j is None:
                j = jitter[self.jitter_key] = rng.uniform(0.7, 1.3)
            self.value = self.quantize(self.value + self.rate * INTERVAL_S * j)
        elif self.spread > 0:
            v = self.value + rng.uniform(-1.0, 1.0) * self.spread
            self.value = self.quantize(max(0.0, v * 0.9 + self.mid * 0.1))
        return self.value


class Feed:
    """Continues the metrics workload on both servers, one sample per series per step."""

    def __init__(self, urls: list[str], series: list[FedSeries], last_ts: int, seed: int, requests_per_step: int = 4):
        self.urls = urls
        self.series = series
        self.last_ts = last_ts
        self.rng = random.Random(seed)
        self.per_request = max(1, math.ceil(len(series) / requests_per_step))
        self.sessions = [requests.Session() for _ in urls]
        self.pool = ThreadPoolExecutor(max_workers=len(urls))
        self.error: BaseException | None = None
        self.steps = 0
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def bodies(self, ts: int) -> list[bytes]:
        jitter: dict[tuple, float] = {}
        out = []
        for i in range(0, len(self.series), self.per_request):
            buf = bytearray()
            for s in self.series[i : i + self.per_request]:
                v = s.advance(self.rng, jitter)
                ts_bytes = s.labels + encode_sample(v, ts)
                buf += _len_field(1, ts_bytes)
            out.append(snappy(bytes(buf)))
        return out

    def _send(self, idx: int, bodies: list[bytes]) -> None:
        url = self.urls[idx] + "/api/v1/write"
        for body in bodies:
            for attempt in range(100):
                r = self.sessions[idx].post(url, data=body, headers=REMOTE_WRITE_HEADERS, timeout=HTTP_TIMEOUT_S)
                if 200 <= r.status_code < 300:
                    break
                if r.status_code in (429, 503):
                    time.sleep(0.1)
                    continue
                raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
            else:
                raise RuntimeError(f"{url}: still refused after 100 attempts")

    def push_step(self, ts: int) -> None:
        bodies = self.bodies(ts)
        for f in [self.pool.submit(self._send, i, bodies) for i in range(len(self.urls))]:
            f.result()
        self.last_ts = ts
        self.steps += 1

    def backfill(self) -> int:
        n = 0
        now_ms = int(time.time() * 1000)
        while self.last_ts + STEP_MS <= now_ms:
            self.push_step(self.last_ts + STEP_MS)
            n += 1
        return n

    def _live(self) -> None:
        try:
            while not self.stop_event.is_set():
                ts = self.last_ts + STEP_MS
                wait = ts / 1000 - time.time()
                if wait > 0 and self.stop_event.wait(wait):
                    return
                self.push_step(ts)
        except BaseException as e:  # reported by check()
            self.error = e

    def start_live(self) -> None:
        self.thread = threading.Thread(target=self._live, name="feed", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread:
            self.thread.join(timeout=30)
        self.pool.shutdown(wait=False)

    def check(self) -> None:
        if self.error:
            raise SystemExit(f"the live feed failed: {self.error!r}")


def sleep_checking(seconds: float, feed: Feed) -> None:
    deadline = time.monotonic() + seconds
    while True:
        feed.check()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(1.0, left))
