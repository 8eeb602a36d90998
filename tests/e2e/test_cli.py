"""The command line (version, config check) and the operational endpoints."""

from __future__ import annotations

import re
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import requests

from builders import assert_accepted, log_record, logs_request, post_otlp
from harness import HTTP_TIMEOUT_S, REPO_ROOT, OspreyServer

CLI_TIMEOUT_S = 30


def run(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary), *args],
        check=False,  # callers assert the exit status
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def cargo_version() -> str:
    manifest = tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())
    version = manifest.get("package", {}).get("version")
    if not isinstance(version, str):  # version.workspace = true
        version = manifest["workspace"]["package"]["version"]
    return version


# --- version --------------------------------------------------------------------------------------


def test_version(osprey_bin: Path) -> None:
    proc = run(osprey_bin, "version")
    assert proc.returncode == 0, proc.stderr
    m = re.fullmatch(r"osprey (\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)\n?", proc.stdout)
    assert m, f"unexpected version output: {proc.stdout!r}"
    assert m.group(1) == cargo_version()


# --- config check ---------------------------------------------------------------------------------

VALID_CONFIG = """\
[server]
data_dir = "{data_dir}"
http_addr = "127.0.0.1:9800"
max_body_size = "16MiB"

[storage]
flush_interval = "30s"
"""


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "osprey.toml"
    path.write_text(text)
    return path


def test_config_check_ok(osprey_bin: Path, tmp_path: Path) -> None:
    path = write_config(tmp_path, VALID_CONFIG.format(data_dir=tmp_path / "data"))
    proc = run(osprey_bin, "config", "check", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\bok\b", proc.stdout, re.IGNORECASE), proc.stdout


def test_config_check_reports_every_problem(osprey_bin: Path, tmp_path: Path) -> None:
    """Four independent problems, all reported in one run, one per line."""
    path = write_config(
        tmp_path,
        """\
[server]
data_dir = "/tmp/x"
http_addr = "not an addr"
bogus = 1

[storage]
flush_interval = "soon"

[nope]
x = 1
""",
    )
    proc = run(osprey_bin, "config", "check", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = (proc.stdout + proc.stderr).splitlines()
    problem_lines = {}
    for key in ("http_addr", "bogus", "flush_interval", "nope"):
        # A problem line starts with the dotted key it concerns ("server.bogus: ...").
        matching = [i for i, line in enumerate(lines) if key in line.split(":", 1)[0]]
        assert matching, f"no line names {key!r}:\n" + "\n".join(lines)
        problem_lines[key] = matching[0]
    assert len(set(problem_lines.values())) == 4, f"problems must be on separate lines: {lines}"
    assert not re.search(r"^\s*ok\s*$", proc.stdout, re.IGNORECASE | re.MULTILINE)


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("bogus", "[server]\nbogus = 1\n"),
        ("nope", "[nope]\n"),
        ("http_addr", '[server]\nhttp_addr = "not an addr"\n'),
        ("http_addr", "[server]\nhttp_addr = 9800\n"),  # wrong type
        ("max_body_size", '[server]\nmax_body_size = "lots"\n'),
        ("flush_interval", '[storage]\nflush_interval = "soon"\n'),
    ],
)
def test_config_check_single_problem(osprey_bin: Path, tmp_path: Path, key: str, text: str) -> None:
    proc = run(osprey_bin, "config", "check", str(write_config(tmp_path, text)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert key in proc.stdout + proc.stderr


def test_config_check_syntax_error(osprey_bin: Path, tmp_path: Path) -> None:
    proc = run(osprey_bin, "config", "check", str(write_config(tmp_path, "[server\nhttp_addr = \n")))
    assert proc.returncode != 0
    assert (proc.stdout + proc.stderr).strip()


def test_config_check_missing_file(osprey_bin: Path, tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.toml"
    proc = run(osprey_bin, "config", "check", str(missing))
    assert proc.returncode != 0
    assert "does-not-exist.toml" in proc.stdout + proc.stderr


# --- server endpoints ---------------------------------------------------------------------------------


def test_health_endpoints(osprey: OspreyServer) -> None:
    for path in ("/healthz", "/readyz"):
        r = requests.get(osprey.http(path), timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, (path, r.status_code, r.text)


def exposition_samples(text: str) -> dict[str, float]:
    """Sum of sample values per sample name in Prometheus/OpenMetrics text."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)", line)
        assert m, f"malformed exposition line: {line!r}"
        totals[m.group(1)] = totals.get(m.group(1), 0.0) + float(m.group(3))
    return totals


def test_metrics_endpoint(osprey: OspreyServer) -> None:
    logs = [log_record(time.time_ns() + i, f"metrics probe {i}") for i in range(3)]
    assert_accepted(post_otlp(osprey, "logs", logs_request("probe", logs)))
    assert osprey.count("logs") == 3  # also a completed API request on the main port

    r = requests.get(osprey.http("/metrics"), timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200
    content_type = r.headers.get("Content-Type", "")
    assert content_type.startswith(("text/plain", "application/openmetrics-text")), content_type
    samples = exposition_samples(r.text)

    def family_present(family: str) -> bool:
        return any(name == family or name.startswith(family + "_") for name in samples)

    for family in (
        "osprey_ingest_rows_total",
        "osprey_http_requests_total",
        "osprey_wal_fsync_seconds",
        "osprey_memtable_bytes",
    ):
        assert family_present(family), f"{family} missing from /metrics:\n{r.text[:3000]}"
    # The three log records were counted (labels may split the total; sum them).
    assert samples.get("osprey_ingest_rows_total", 0) >= 3
    assert samples.get("osprey_http_requests_total", 0) >= 1


def test_data_dir_from_env(osprey_factory) -> None:
    """OSPREY_SERVER_DATA_DIR works in place of --data-dir, and a flush writes Parquet there."""
    server = osprey_factory(data_dir_via_env=True)
    logs = [log_record(time.time_ns() + i, f"env data dir {i}") for i in range(2)]
    assert_accepted(post_otlp(server, "logs", logs_request("envdir", logs)))
    server.flush()
    parquet = list(server.data_dir.rglob("*.parquet"))
    assert parquet, f"no Parquet file under {server.data_dir}: {list(server.data_dir.rglob('*'))}"
    server.restart(kill=True)
    assert server.count("logs") == 2


def test_readme_example_config_is_valid(osprey_bin: Path, tmp_path: Path) -> None:
    """The configuration example in README.md stays true to the code."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    assert "[storage]" in block and "[server]" in block
    path = write_config(tmp_path, block)
    proc = run(osprey_bin, "config", "check", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
