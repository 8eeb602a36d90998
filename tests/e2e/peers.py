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


class PrometheusServer:
    def __init__(self, workdir: Path, config: str = "global:\n  evaluation_interval: 1m\n") -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "prometheus.yml").write_text(config)
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not Path(PROMETHEUS_BIN).exists():
            pytest.fail("prometheus not installed (scripts/test.sh installs Debian's prometheus)")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS_BIN,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail("prometheus did not become ready in 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=HTTP_TIMEOUT_S)


@pytest.fixture
def prometheus(tmp_path: Path):
    server = PrometheusServer(tmp_path / "prometheus")
    server.start()
    yield server
    server.stop()


NODE_EXPORTER_BIN = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


class NodeExporter:
    """Debian's prometheus-node-exporter on a free port."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.log_path = workdir / "node_exporter.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if not Path(NODE_EXPORTER_BIN).exists():
            pytest.fail("prometheus-node-exporter not installed (scripts/test.sh installs it)")
        self.proc = subprocess.Popen(
            [NODE_EXPORTER_BIN, f"--web.listen-address={self.address}", "--log.level=warn"],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"node_exporter exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"http://{self.address}/metrics", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail("node_exporter did not answer in 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def node_exporter(tmp_path: Path):
    server = NodeExporter(tmp_path / "node_exporter")
    server.start()
    yield server
    server.stop()
