"""Real peer servers the end-to-end tests compare Osprey with or connect it to.

``PrometheusServer`` runs Debian's ``prometheus`` (2.42, installed by
scripts/test.sh) on a free port with a temp TSDB. Nothing is mocked: the
compliance suite writes the same samples into it over remote_write and
compares query results.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import HTTP_TIMEOUT_S, free_ports

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
NODE_EXPORTER_BIN = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
ALERTMANAGER_BIN = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


class Peer:
    """A peer server process: started, waited for until `ready_url` answers 200, stopped."""

    name = "peer"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    def _run(self, binary: str, args: list[str], ready_url: str, timeout_s: float = 60) -> None:
        if not Path(binary).exists():
            pytest.fail(f"{binary} not installed (scripts/test.sh installs Debian's {self.name})")
        self.proc = subprocess.Popen([binary, *args], stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(ready_url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name} did not become ready in {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PrometheusServer(Peer):
    name = "prometheus"

    def __init__(self, workdir: Path, config: str = "global:\n  evaluation_interval: 1m\n") -> None:
        super().__init__(workdir)
        (self.workdir / "prometheus.yml").write_text(config)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._run(
            PROMETHEUS_BIN,
            [
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            self.url + "/-/ready",
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=HTTP_TIMEOUT_S)


@pytest.fixture
def prometheus(tmp_path: Path):
    server = PrometheusServer(tmp_path / "prometheus")
    server.start()
    yield server
    server.stop()


class Alertmanager(Peer):
    """Debian's prometheus-alertmanager (0.25) on a free port, clustering off."""

    name = "alertmanager"

    def __init__(self, workdir: Path, config: str, external_url: str | None = None) -> None:
        super().__init__(workdir)
        (self.workdir / "alertmanager.yml").write_text(config)
        self.external_url = external_url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._run(
            ALERTMANAGER_BIN,
            [
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
                *([f"--web.external-url={self.external_url}"] if self.external_url else []),
            ],
            self.url + "/-/ready",
        )

    def alerts(self) -> list[dict[str, Any]]:
        r = requests.get(self.url + "/api/v2/alerts", timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
        return r.json()


class NodeExporter(Peer):
    """Debian's prometheus-node-exporter on a free port."""

    name = "node_exporter"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._run(
            NODE_EXPORTER_BIN,
            [f"--web.listen-address={self.address}", "--log.level=warn"],
            f"http://{self.address}/metrics",
            timeout_s=30,
        )


@pytest.fixture
def node_exporter(tmp_path: Path):
    server = NodeExporter(tmp_path / "node_exporter")
    server.start()
    yield server
    server.stop()
