"""README.md's command examples run as written (issue 14, item 10).

Every `curl` line of the README's `sh` blocks runs through bash, unchanged but for the
server's address, against a server that the README's own demo command filled with
data; each must succeed (HTTP 2xx, `--fail-with-body`) and answer what the README
promises. The other blocks are run elsewhere: `cargo run` / `scripts/test.sh` are this
suite's own build and run, `osprey run`/`pipe`/`tail` run against real programs and
files in test_capture.py and test_tail_files.py, and the OTLP environment variables in
test_otlp_sdk.py; the `osprey rules` lines run here, from the repository's root."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from harness import OspreyServer, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"


def sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)


def curl_commands() -> list[str]:
    """Each command of the `sh` blocks that calls curl (continuation lines joined)."""
    out = []
    for block in sh_blocks():
        for cmd in block.replace("\\\n", " ").splitlines():
            if "curl " in cmd:
                out.append(cmd.strip())
    return out


def run(cmd: str, server: OspreyServer) -> str:
    cmd = cmd.replace("localhost:9800", f"127.0.0.1:{server.http_port}")
    # Fail on any HTTP error, with the body shown.
    cmd = cmd.replace("curl -s", "curl -s --fail-with-body")
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"{cmd}\nexit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_the_readme_has_the_examples_this_test_runs() -> None:
    cmds = curl_commands()
    assert len(cmds) >= 5, cmds
    assert any("/api/v1/logs?service=shop" in c for c in cmds)


def test_readme_curl_examples_run_as_written(osprey: OspreyServer, osprey_bin) -> None:
    # The README's demo command, for a few seconds, as the data the queries find.
    demo = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", "4s", "--rate", "30"],
        capture_output=True, text=True, timeout=60,
    )
    assert demo.returncode == 0, demo.stderr
    wait_until(lambda: osprey.count("spans", "service = 'payment'") > 0, timeout=20, message="demo spans")

    by = {}
    for cmd in curl_commands():
        out = run(cmd, osprey)
        by[re.search(r"/api/[\w/]+", cmd).group(0)] = json.loads(out)
    # Log lines piped into curl with its default content type: both lines stored.
    assert by["/api/v1/logs"]["accepted"] == 2, by["/api/v1/logs"]
    rows = osprey.sql_dicts("SELECT severity_text, body FROM logs WHERE service = 'shop' ORDER BY body")
    assert [(r["severity_text"], r["body"]) for r in rows] == [("INFO", "ok"), ("ERROR", "payment failed")]
    sql = by["/api/v1/sql"]
    assert [c["name"] for c in sql["columns"]][0] == "service" and sql["rows"], sql
    assert by["/api/v1/query"]["status"] == "success"
    assert by["/api/v1/logs/search"]["status"] == "success"
    assert "data" in by["/api/traces"]


def test_readme_rules_commands_run_as_written(osprey_bin) -> None:
    cmds = [c for block in sh_blocks() for c in block.splitlines() if c.startswith("osprey rules ")]
    assert len(cmds) >= 2, cmds
    for cmd in cmds:
        proc = subprocess.run(
            [str(osprey_bin), *cmd.split()[1:]],
            cwd=README.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"
        assert "SUCCESS" in proc.stdout, proc.stdout
