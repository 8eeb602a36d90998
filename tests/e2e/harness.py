"""Test harness for Osprey's end-to-end tests: the server wrapper and helpers.

Fixtures live in conftest.py; this module is plain Python so test modules can
import from it.

The binary is taken from ``$OSPREY_BIN`` (default: ``target/debug/osprey`` in
the repository). ``scripts/test.sh`` builds it before running this suite.

Conventions:
- No sleeps as assertions. The server acknowledges a write only after it is
  durable and visible to queries, so tests assert right after the ack. The
  only polling is for genuinely asynchronous things (server start-up, a
  background sender thread making progress), via ``wait_until``.
- Every HTTP call has a timeout, every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "osprey"

READY_TIMEOUT_S = 60.0  # time allowed for /readyz to answer 200
STOP_TIMEOUT_S = 15.0  # time allowed to exit after SIGTERM
HTTP_TIMEOUT_S = 30.0  # per request

# --- Hermetic client environment -------------------------------------------
# The OpenTelemetry SDK reads OTEL_* variables (endpoints, temporality,
# compression...) and requests/gRPC honour proxy variables. Everything this
# suite talks to is on 127.0.0.1, so drop both kinds from our own process.
for _name in list(os.environ):
    if _name.startswith("OTEL_") or _name.lower() in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "grpc_proxy",
        "no_proxy",
    ):
        del os.environ[_name]


# --- Small generic helpers ---------------------------------------------------


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll ``condition`` until it returns a truthy value; return that value.

    Only for things that are legitimately asynchronous. Exceptions raised by
    the condition count as "not yet" and the last one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = condition()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - reported below
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}; last result: {last!r}")
        time.sleep(interval)


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def rfc3339_to_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp with up to nanosecond precision into Unix ns.

    Python's datetime only keeps microseconds, so the fraction is handled here.
    """
    import calendar

    m = _RFC3339.match(text)
    assert m, f"not an RFC 3339 timestamp with offset: {text!r}"
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    tz = m.group(8)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 1_000_000_000 + int(frac)


def recent_second(ago: int = 3600) -> int:
    """A whole Unix second ``ago`` seconds before now.

    Tests that send events with their own times build them from this, never from a
    calendar date: a fixed date falls out of the retention window as the calendar
    moves on, and the server then (correctly) re-dates the event at arrival.
    """
    return int(time.time()) - ago


def rfc3339(secs: int, frac: str = "") -> str:
    """``secs`` (Unix seconds, UTC) as RFC 3339 with an optional fraction's digits."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{frac}" if frac else "") + "Z"


FIGURES = Path(__file__).resolve().parents[2] / "target" / "reliability-figures.jsonl"


def record_figure(name: str, value: float, unit: str) -> None:
    """Keeps a figure a reliability test measured (target/reliability-figures.jsonl, one
    JSON object a line, newest last), for docs/reliability.md's "last measured"."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with open(FIGURES, "a") as f:
        f.write(json.dumps({"test": test, "figure": name, "value": value, "unit": unit,
                             "at": int(time.time())}) + "\n")


def tenant_headers(tenant: str | None) -> dict[str, str]:
    return {"X-Scope-OrgID": tenant} if tenant else {}


def free_ports(n: int) -> list[int]:
    """Ask the kernel for ``n`` distinct free TCP ports on 127.0.0.1.

    All sockets are held open until every port is chosen so the ports differ.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def osprey_binary() -> Path:
    raw = os.environ.get("OSPREY_BIN")
    path = Path(raw) if raw else DEFAULT_BIN
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    return path


# --- The server under test ---------------------------------------------------


class OspreyServer:
    """One ``osprey serve`` process (restartable on the same data dir).

    Each start picks fresh ports, so clients must ask for URLs after a
    restart (``http()``, ``otlp_http()``, ``grpc_endpoint``) instead of
    caching them.
    """

    def __init__(
        self,
        binary: Path,
        data_dir: Path,
        work_dir: Path,
        name: str,
        env: dict[str, str] | None = None,
        data_dir_via_env: bool = False,
        args: list[str] | None = None,
    ) -> None:
        self.binary = binary
        self.extra_args = list(args or [])
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.name = name
        self.extra_env = dict(env or {})
        self.data_dir_via_env = data_dir_via_env
        self.proc: subprocess.Popen | None = None
        self.http_port = 0
        self.otlp_grpc_port = 0
        self.otlp_http_port = 0
        self.starts = 0
        # With `[tls]`: "https", and the CA file requests verifies the server with.
        self.scheme = "http"
        self.verify: str | bool = True
        # With `client_ca_file`: (certificate, key) the harness's requests present.
        self.client_cert: tuple[str, str] | None = None
        self.stdout_path = work_dir / f"{name}.stdout.log"
        self.stderr_path = work_dir / f"{name}.stderr.log"

    # URLs ------------------------------------------------------------------

    def http(self, path: str = "") -> str:
        """URL on the main HTTP port (query APIs, admin, OTLP/HTTP too)."""
        return f"{self.scheme}://127.0.0.1:{self.http_port}{path}"

    def otlp_http(self, path: str = "") -> str:
        """URL on the dedicated OTLP/HTTP port."""
        return f"{self.scheme}://127.0.0.1:{self.otlp_http_port}{path}"

    @property
    def grpc_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.otlp_grpc_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # Lifecycle -------------------------------------------------------------

    def start(self, keep_ports: bool = False) -> None:
        """Start the server; ``keep_ports`` reuses the previous run's ports (clients that
        keep an address, like the capture clients, reconnect to the same one)."""
        assert self.proc is None, "server already started"
        if not (keep_ports and getattr(self, "http_port", None)):
            self.http_port, self.otlp_grpc_port, self.otlp_http_port = free_ports(3)
        args = [str(self.binary), "serve", *self.extra_args]
        env = {
            k: v
            for k, v in os.environ.items()
            # Do not leak a developer's own Osprey settings into the test.
            if not (k.startswith("OSPREY_") and k != "OSPREY_BIN")
        }
        env.setdefault("RUST_BACKTRACE", "1")
        # The test command's second pass runs servers committing through bucket
        # snapshots on their data directory (`[cluster] manifest = "bucket"`).
        if os.environ.get("OSPREY_TEST_MANIFEST"):
            env["OSPREY_CLUSTER_MANIFEST"] = os.environ["OSPREY_TEST_MANIFEST"]
        env.update(self.extra_env)
        if self.data_dir_via_env:
            env["OSPREY_SERVER_DATA_DIR"] = str(self.data_dir)
        else:
            args += ["--data-dir", str(self.data_dir)]
        args += [
            "--http-addr",
            f"127.0.0.1:{self.http_port}",
            "--otlp-grpc-addr",
            f"127.0.0.1:{self.otlp_grpc_port}",
            "--otlp-http-addr",
            f"127.0.0.1:{self.otlp_http_port}",
        ]
        self.starts += 1
        # Output goes to files, never pipes: a full pipe would block the server.
        banner = f"\n===== start #{self.starts}: {' '.join(args)}\n".encode()
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            out.write(banner)
            err.write(banner)
            out.flush()
            err.flush()
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.work_dir,  # keep any stray relative paths out of the repo
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error: Any = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                pytest.fail(
                    f"osprey exited with status {rc} before becoming ready.\n--- stderr (tail) ---\n{self.log_tail()}"
                )
            try:
                r = requests.get(self.http("/readyz"), timeout=2, verify=self.verify, cert=self.client_cert)
                if r.status_code == 200:
                    return
                last_error = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as exc:
                last_error = exc
            time.sleep(0.05)
        self.kill()
        pytest.fail(
            f"osprey not ready within {READY_TIMEOUT_S}s (last: {last_error!r}).\n"
            f"--- stderr (tail) ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Graceful stop: SIGTERM, then assert exit status 0 within 15 s."""
        assert self.proc is not None, "server not running"
        proc = self.proc
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.proc = None
            pytest.fail(
                f"osprey did not exit within {STOP_TIMEOUT_S}s of SIGTERM.\n--- stderr (tail) ---\n{self.log_tail()}"
            )
        self.proc = None
        assert rc == 0, (
            f"osprey exited with status {rc} after SIGTERM (want 0).\n--- stderr (tail) ---\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """Crash: SIGKILL, no chance to clean up."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self, kill: bool = True) -> None:
        """Restart on the same data dir; ``kill=True`` simulates a crash."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no stderr captured)"
        return "\n".join(text.splitlines()[-lines:])

    # HTTP helpers ----------------------------------------------------------

    def get(self, path: str, tenant: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**tenant_headers(tenant), **kwargs.pop("headers", {})}
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.client_cert)
        return requests.get(self.http(path), headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs)

    def post(self, path: str, tenant: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**tenant_headers(tenant), **kwargs.pop("headers", {})}
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.client_cert)
        return requests.post(self.http(path), headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs)

    def sql_response(self, query: str, tenant: str | None = None) -> requests.Response:
        return self.post("/api/v1/sql", tenant=tenant, json={"query": query})

    def sql(self, query: str, tenant: str | None = None) -> list[list[Any]]:
        """Run a query that must succeed; return its rows."""
        r = self.sql_response(query, tenant)
        assert r.status_code == 200, f"SQL failed ({r.status_code}): {query}\n{r.text[:2000]}"
        body = r.json()
        assert isinstance(body.get("columns"), list), body
        assert isinstance(body.get("rows"), list), body
        assert not body.get("truncated"), f"result cut at query.max_result_rows: {query}"
        return body["rows"]

    def sql_dicts(self, query: str, tenant: str | None = None) -> list[dict[str, Any]]:
        """Run a query; return rows as dicts keyed by column name."""
        r = self.sql_response(query, tenant)
        assert r.status_code == 200, f"SQL failed ({r.status_code}): {query}\n{r.text[:2000]}"
        body = r.json()
        names = [c["name"] for c in body["columns"]]
        return [dict(zip(names, row)) for row in body["rows"]]

    def count(self, table: str, where: str = "", tenant: str | None = None) -> int:
        query = f"SELECT count(*) AS n FROM {table}" + (f" WHERE {where}" if where else "")
        rows = self.sql(query, tenant)
        assert len(rows) == 1, rows
        return int(rows[0][0])

    def flush(self) -> None:
        r = self.post("/api/v1/admin/flush")
        assert r.status_code == 200, f"flush failed ({r.status_code}): {r.text[:500]}"

    def prom_query(self, query: str, at: float | None = None, tenant: str | None = None) -> list[dict[str, Any]]:
        """Prometheus instant query that must succeed; returns data.result."""
        params = {"query": query, "time": f"{time.time() if at is None else at:.3f}"}
        r = self.get("/api/v1/query", tenant=tenant, params=params)
        assert r.status_code == 200, f"query {query!r} failed ({r.status_code}): {r.text[:1000]}"
        body = r.json()
        assert body["status"] == "success", body
        assert body["data"]["resultType"] == "vector", body
        return body["data"]["result"]
