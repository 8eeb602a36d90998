"""The servers of the PromQL benchmark (Osprey, Prometheus 2.42, VictoriaMetrics 1.79),
timed queries against them, and the replay that gives a fresh Osprey the workload over
remote_write without a flush (the "in memory" state; `run.py` step 3)."""

from __future__ import annotations

import json
import os
import queue
import struct
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rules"))
from feed import REMOTE_WRITE_HEADERS, _varint, encode_labels, snappy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from proc_server import HTTP_TIMEOUT_S, Server as ProcServer, free_port, log  # noqa: E402,F401


class Server(ProcServer):
    """A benchmarked server: [`ProcServer`] plus timed queries."""

    def timed(self, path: str, params: dict[str, str]) -> tuple[float, bytes]:
        """Wall-clock ms of one GET, the whole body read; raises on an HTTP error."""
        t = time.perf_counter()
        r = self.http.get(self.url + path, params=params, timeout=HTTP_TIMEOUT_S)
        body = r.content
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{self.name}: HTTP {r.status_code}: {body[:300]!r}")
        return ms, body


def osprey(label: str, binary: Path, data: Path, config: Path, log_path: Path) -> Server:
    http, grpc, otlp = free_port(), free_port(), free_port()
    return Server(label, [str(binary), "serve", "--config", str(config), "--data-dir", str(data),
                          "--http-addr", f"127.0.0.1:{http}", "--otlp-grpc-addr", f"127.0.0.1:{grpc}",
                          "--otlp-http-addr", f"127.0.0.1:{otlp}"],
                  http, "/readyz", log_path, env={**os.environ, "OSPREY_LOG": "warn"})


def prometheus(label: str, binary: str, data: Path, config: Path, log_path: Path) -> Server:
    port = free_port()
    return Server(label, [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
                          f"--web.listen-address=127.0.0.1:{port}", "--query.max-samples=500000000",
                          "--query.timeout=5m", "--log.level=warn"],
                  port, "/-/ready", log_path)


def victoria(label: str, binary: str, data: Path, log_path: Path) -> Server:
    port = free_port()
    return Server(label, [binary, f"-storageDataPath={data}", f"-httpListenAddr=127.0.0.1:{port}",
                          "-retentionPeriod=10y", "-search.disableCache", "-search.latencyOffset=0s",
                          "-search.maxQueryDuration=5m", "-loggerLevel=ERROR"],
                  port, "/health", log_path)


def wait_head_loaded(server: Server, timeout_s: float = 900) -> float:
    """Waits until Osprey's head holds the recent samples of its files (after a restart);
    returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        data = server.get_json("/api/v1/status/storage")["data"]
        if "head_loading" not in data:
            log(f"{server.label}: /api/v1/status/storage has no head_loading (an older build?)")
            return 0.0
        if not data["head_loading"]:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            raise SystemExit(f"{server.label}: head still loading after {timeout_s:.0f} s")
        time.sleep(0.5)


# --- the replay: every raw sample of Prometheus' head, into a fresh Osprey --------------------------


class _SeriesData:
    __slots__ = ("head", "ts", "vals", "i")

    def __init__(self, labels: dict[str, str], points: list[list[Any]]) -> None:
        self.head = encode_labels(labels)  # TimeSeries' labels; its length prefix is added per step
        self.ts = array("q", (round(float(t) * 1000) for t, _ in points))
        self.vals = array("d", (float(v) for _, v in points))
        self.i = 0


def fetch_raw(prom: Server, end_ms: int, span_s: int) -> list[_SeriesData]:
    """Every sample of the last `span_s` before `end_ms` (inclusive), one instance at a time
    (a range selector in an instant query returns raw samples, exactly)."""
    instances = prom.get_json("/api/v1/label/instance/values")["data"]
    out: list[_SeriesData] = []
    for inst in instances:
        sel = '{instance=%s}[%ds]' % (json.dumps(inst), span_s)
        body = prom.get_json("/api/v1/query", query=sel, time=f"{end_ms / 1000:.3f}")
        for r in body["data"]["result"]:
            out.append(_SeriesData(r["metric"], r["values"]))
    return out


def replay(series: list[_SeriesData], url: str, shards: int = 4) -> tuple[int, float]:
    """Writes `series` to `url` over remote_write 1.0 as osprey-load does: one sample per
    series per request, time step by time step, the series split over `shards`
    connections that each send in order. Returns (samples, seconds)."""
    times = sorted({t for s in series for t in s.ts})
    per = -(-len(series) // shards)
    parts = [series[i : i + per] for i in range(0, len(series), per)]
    queues: list[queue.Queue[bytes | None]] = [queue.Queue(maxsize=16) for _ in parts]
    errors: list[BaseException] = []

    def sender(q: queue.Queue[bytes | None]) -> None:
        http = requests.Session()
        try:
            while (body := q.get()) is not None:
                for _ in range(600):
                    r = http.post(url + "/api/v1/write", data=body, headers=REMOTE_WRITE_HEADERS,
                                  timeout=HTTP_TIMEOUT_S)
                    if r.status_code not in (429, 503):
                        break
                    time.sleep(0.1)
                if not 200 <= r.status_code < 300:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
        except BaseException as e:  # noqa: BLE001 — reported by the main thread
            errors.append(e)
            while q.get() is not None:  # keep draining so the producer never blocks
                pass

    threads = [threading.Thread(target=sender, args=(q,), daemon=True) for q in queues]
    for th in threads:
        th.start()
    pack = struct.Struct("<d").pack
    samples, t0 = 0, time.monotonic()
    for ts in times:
        ts_b = b"\x10" + _varint(ts)
        inner = 9 + len(ts_b)
        sample = b"\x12" + _varint(inner) + b"\x09"
        extra = len(sample) + 8 + len(ts_b)
        for part, q in zip(parts, queues):
            buf = []
            for s in part:
                i = s.i
                if i < len(s.ts) and s.ts[i] == ts:
                    buf += (b"\x0a", _varint(len(s.head) + extra), s.head, sample, pack(s.vals[i]), ts_b)
                    s.i = i + 1
                    samples += 1
            if buf:
                q.put(snappy(b"".join(buf)))
        if errors:
            break
    for q in queues:
        q.put(None)
    for th in threads:
        th.join()
    if errors:
        raise SystemExit(f"replay failed: {errors[0]!r}")
    return samples, time.monotonic() - t0
