"""What the Python benchmarks share: a log line, a median of timed runs, a free port,
and a server process on it (start until ready, stop, CPU and memory from /proc, a persistent HTTP session).
`benches/rules/run.py` and `benches/promql/` add what each measures."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK")
HTTP_TIMEOUT_S = 300


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median_ms(f: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """`f` once to warm up, then `runs` times: the median in ms and the last answer."""
    f()
    times, out = [], None
    for _ in range(runs):
        t0 = time.monotonic()
        out = f()
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times), out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on a free port, with a persistent HTTP session."""

    def __init__(self, name: str, argv: list[str], port: int, ready_path: str, log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.ready_path = ready_path
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()

    @property
    def label(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float = 900) -> None:
        log(f"starting {self.name}: {' '.join(self.argv)}")
        self.proc = subprocess.Popen(self.argv, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.http.get(self.url + self.ready_path, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise SystemExit(f"{self.name} not ready after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop in 60 s; killing it")
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        """utime + stime of the process (all its threads), seconds."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status_kib(self, field: str) -> int:
        """A `/proc/PID/status` field in KiB (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_bytes(self) -> int:
        return self.status_kib("VmRSS") * 1024

    def reset_peak_rss(self) -> None:
        """Sets VmHWM to the current RSS (Linux >= 4.0), so it measures from here on."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def get(self, path: str, **params: Any) -> requests.Response:
        r = self.http.get(self.url + path, params=params or None, timeout=HTTP_TIMEOUT_S)
        r.raise_for_status()
        return r

    def get_json(self, path: str, **params: Any) -> Any:
        return self.get(path, **params).json()


def start_osprey(binary: str, work: Path, name: str, config: str, role: str,
                 env: dict[str, str] | None = None) -> Server:
    """`osprey serve --role ROLE` with `config` on free ports, its data under `work/name`;
    returns once it is ready."""
    cfg = work / f"{name}.toml"
    cfg.write_text(config)
    port = free_port()
    argv = [binary, "serve", "--config", str(cfg), "--role", role, "--data-dir", str(work / name),
            "--http-addr", f"127.0.0.1:{port}", "--otlp-grpc-addr", f"127.0.0.1:{free_port()}",
            "--otlp-http-addr", f"127.0.0.1:{free_port()}"]
    s = Server(name, argv, port, "/readyz", work / f"{name}.log", env=env)
    s.start()
    return s

