"""Pytest fixtures for Osprey's end-to-end tests.

Every test gets its own freshly started ``osprey serve`` process with a
temporary data directory (fixture ``osprey``), or builds servers with
non-default settings through ``osprey_factory``. See harness.py for the
server wrapper and the conventions the tests follow.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import OspreyServer, osprey_binary


# --- Fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def osprey_bin() -> Path:
    path = osprey_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"osprey binary not found at {path}; build it (cargo build) or set OSPREY_BIN")
    return path


@pytest.fixture
def osprey_factory(osprey_bin: Path, tmp_path: Path, request: pytest.FixtureRequest):
    """Build and start servers: ``osprey_factory(env={...}, data_dir_via_env=False)``.

    Servers still running at the end of the test are stopped with SIGTERM and
    must exit 0 within 15 s (a failure there fails the test).
    """
    servers: list[OspreyServer] = []
    request.node._osprey_servers = servers  # for the failure report hook below

    def make(
        env: dict[str, str] | None = None,
        data_dir_via_env: bool = False,
        start: bool = True,
        config: str | None = None,
    ) -> OspreyServer:
        """``config``: TOML text, written to a file and passed as ``--config``."""
        idx = len(servers)
        data_dir = tmp_path / f"data{idx}"
        data_dir.mkdir()
        server = OspreyServer(
            osprey_bin,
            data_dir,
            tmp_path,
            name=f"osprey{idx}",
            env=env,
            data_dir_via_env=data_dir_via_env,
            args=[],
        )
        if config is not None:
            path = tmp_path / f"osprey{idx}.toml"
            path.write_text(config)
            server.extra_args += ["--config", str(path)]
        servers.append(server)
        if start:
            server.start()
        return server

    yield make

    errors = []
    for server in servers:
        if server.running:
            try:
                server.stop()
            except BaseException as exc:  # noqa: BLE001 - pytest.fail raises a BaseException; keep stopping the others
                errors.append(f"{server.name}: {exc}")
        elif server.proc is not None:
            rc = server.proc.poll()
            errors.append(f"{server.name} died unexpectedly with status {rc}:\n{server.log_tail()}")
    if errors:
        pytest.fail("server shutdown problems:\n" + "\n".join(errors))


@pytest.fixture
def osprey(osprey_factory) -> OspreyServer:
    """A running server with default settings and an empty data dir."""
    return osprey_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server's stderr to the report of any failing test phase."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in getattr(item, "_osprey_servers", []):
            report.sections.append((f"{server.name} stderr (tail)", server.log_tail()))
