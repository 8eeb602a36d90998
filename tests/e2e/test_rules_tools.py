"""`osprey rules check` against `promtool check rules` (Prometheus 2.42) on the same
files, and rule loading in the server: reload through ``POST /-/reload`` (a bad
file keeps the old rules and is reported), per-tenant rule directories.

Where the two tools word a problem the same way (every rule-file check), the
messages must be equal once promtool's ``line:col:`` prefixes are removed (Osprey
does not track YAML positions); where the words come from other parsers (YAML,
PromQL syntax) the exit code and what is named must agree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import OspreyServer, osprey_binary, wait_until

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

FILES = {
    "good.yml": """\
groups:
  - name: g
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} down for {{ $value | humanizeDuration }}"}
""",
    "checks.yml": """\
groups:
  - name: g
    rules:
      - record: "bad name"
        expr: up
        for: 5m
      - alert: Both
        record: both
        expr: up
      - alert: NoExpr
      - record: r
        expr: up
        annotations: {a: b}
      - alert: BadLabel
        expr: up
        labels: {"0x": y}
        annotations: {"1y": z}
  - name: g
    rules:
      - record: ok
        expr: up
""",
    "dup.yml": """\
groups:
  - name: a
    rules:
      - alert: Same
        expr: up
        labels: {x: "1"}
  - name: b
    rules:
      - alert: Same
        expr: up == 0
        labels: {x: "1"}
""",
    "badexpr.yml": """\
groups:
  - name: g
    rules:
      - alert: Broken
        expr: sum(rate(x[5m])
""",
    "unknown.yml": """\
groups:
  - name: g
    rules:
      - alert: Typo
        expr: up
        fro: 5m
""",
    "badduration.yml": """\
groups:
  - name: g
    interval: 1.5m
    rules: []
""",
    "empty.yml": "",
}


def run(cmd: list[str], cwd: Path) -> tuple[int, str, str]:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def without_positions(text: str) -> list[str]:
    return sorted(re.sub(r"(\d+:\d+: )+", "", line) for line in text.splitlines() if line.strip())


@pytest.fixture
def rule_files(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("name", ["good.yml", "checks.yml", "dup.yml", "empty.yml"])
def test_check_says_what_promtool_says(rule_files: Path, name: str) -> None:
    theirs = run([PROMTOOL, "check", "rules", name], rule_files)
    ours = run([str(osprey_binary()), "rules", "check", name], rule_files)
    assert ours[0] == theirs[0], f"exit codes: ours {ours}, promtool {theirs}"
    assert ours[1] == theirs[1], f"stdout:\n ours {ours[1]!r}\n promtool {theirs[1]!r}"
    assert without_positions(ours[2]) == without_positions(theirs[2]), f"stderr:\n{ours[2]}\n---\n{theirs[2]}"


@pytest.mark.parametrize(
    ("name", "named"),
    [("badexpr.yml", "could not parse expression"), ("unknown.yml", "fro"), ("badduration.yml", "1.5m")],
)
def test_check_fails_where_promtool_fails(rule_files: Path, name: str, named: str) -> None:
    theirs = run([PROMTOOL, "check", "rules", name], rule_files)
    ours = run([str(osprey_binary()), "rules", "check", name], rule_files)
    assert theirs[0] == 1 and ours[0] == 1, (ours, theirs)
    assert ours[1] == theirs[1] == f"Checking {name}\n\n", (ours, theirs)
    assert ours[2].startswith("  FAILED:\n") and named in ours[2], ours[2]
    assert named in theirs[2], theirs[2]


def test_lint_flags_and_several_files(rule_files: Path) -> None:
    for args in (["--lint-fatal", "dup.yml"], ["--lint=none", "dup.yml"], ["good.yml", "checks.yml", "good.yml"]):
        theirs = run([PROMTOOL, "check", "rules", *args], rule_files)
        ours = run([str(osprey_binary()), "rules", "check", *args], rule_files)
        assert (ours[0], ours[1]) == (theirs[0], theirs[1]), (args, ours, theirs)


def rule_names(server: OspreyServer, tenant: str | None = None) -> list[str]:
    r = server.get("/api/v1/rules", tenant=tenant)
    assert r.status_code == 200, r.text
    return [rule["name"] for g in r.json()["data"]["groups"] for rule in g["rules"]]


def test_reload_keeps_old_rules_on_error_and_tenants_have_their_own(osprey_factory, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: one:a\n        expr: vector(1)\n")
    team = tmp_path / "rules.d" / "team-a"
    team.mkdir(parents=True)
    (team / "r.yml").write_text("groups:\n  - name: t\n    interval: 1s\n    rules:\n      - alert: TeamAlert\n        expr: vector(1)\n")
    server = osprey_factory(config='[rules]\nfiles = ["rules.yml"]\ntenant_dir = "rules.d"\n')
    assert rule_names(server) == ["one:a"]
    assert rule_names(server, tenant="team-a") == ["TeamAlert"]
    assert rule_names(server, tenant="other") == []
    # The team's alert fires for the team only.
    wait_until(lambda: server.get("/api/v1/alerts", tenant="team-a").json()["data"]["alerts"], timeout=10)
    assert server.get("/api/v1/alerts").json()["data"]["alerts"] == []
    wait_until(lambda: server.prom_query("one:a"), timeout=10, message="one:a recorded")
    assert server.prom_query("one:a")[0]["value"][1] == "1"
    assert server.prom_query("one:a", tenant="team-a") == []

    rules.write_text("groups:\n  - name: g\n    rules:\n      - record: two:b\n        expr: vector(2)\n")
    r = server.post("/-/reload")
    assert r.status_code == 200, r.text
    assert rule_names(server) == ["two:b"]
    rules.write_text("groups:\n  - name: g\n    rules:\n      - record: three\n        expr: vector(\n")
    r = server.post("/-/reload")
    assert r.status_code == 500 and "could not parse expression" in r.text, r.text
    body = server.get("/api/v1/rules").json()["data"]
    assert [x["name"] for g in body["groups"] for x in g["rules"]] == ["two:b"]
    assert "could not parse expression" in body.get("reloadError", ""), body
    assert "could not parse expression" in server.log_tail(200)


def test_a_start_with_bad_rules_fails_and_says_why(osprey_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: up ==\n")
    (tmp_path / "osprey.toml").write_text('[rules]\nfiles = ["rules.yml"]\n')
    data = tmp_path / "data"
    p = subprocess.run(
        [str(osprey_bin), "serve", "--config", str(tmp_path / "osprey.toml"), "--data-dir", str(data),
         "--http-addr", "127.0.0.1:0", "--otlp-grpc-addr", "127.0.0.1:0", "--otlp-http-addr", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode != 0
    assert "cannot load rules" in p.stderr and 'group "g", rule 1, "X": could not parse expression' in p.stderr, p.stderr


BUILTIN = Path(__file__).resolve().parents[2] / "alerting" / "builtin"


def test_builtin_rules_pass_their_unit_tests_in_promtool_and_load_when_switched_on(osprey_factory) -> None:
    """The built-in RED and USE rules are ordinary rule files: promtool checks them and
    runs their unit tests (each alert fires on the input that should fire it, with
    its annotations), and `[rules] builtin = true` loads them."""
    code, out, err = run([PROMTOOL, "test", "rules", "tests.yml"], BUILTIN)
    assert code == 0 and "SUCCESS" in out, out + err
    code, out, err = run([str(osprey_binary()), "rules", "check", "red.yml", "use.yml"], BUILTIN)
    assert code == 0 and out.count("SUCCESS") == 2, out + err
    off = osprey_factory()
    assert rule_names(off) == []
    on = osprey_factory(config="[rules]\nbuiltin = true\n")
    groups = on.get("/api/v1/rules").json()["data"]["groups"]
    assert [(g["file"], g["name"]) for g in groups] == [("builtin/red.yml", "osprey-red"), ("builtin/use.yml", "osprey-use")]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"ServiceHighErrorRate", "ServiceHighLatency", "HostCpuSaturated", "HostMemoryPressure",
            "HostDiskWillFillIn4Hours", "HostNetworkErrors"} <= names, names


RULE_TESTS = Path(__file__).resolve().parent / "rule_tests"


@pytest.mark.parametrize(("where", "name"), [(BUILTIN, "tests.yml"), (RULE_TESTS, "mixed.yml")])
def test_rule_unit_tests_run_as_in_promtool(where: Path, name: str) -> None:
    """`osprey rules test` gives promtool's verdict, output and exit code on the same
    unit-test files (passing groups and, in mixed.yml, a failing one: the same
    expected/got alerts and samples)."""
    theirs = run([PROMTOOL, "test", "rules", name], where)
    ours = run([str(osprey_binary()), "rules", "test", name], where)
    assert ours == theirs, f"\n ours:     {ours}\n promtool: {theirs}"
    if name == "mixed.yml":
        assert ours[0] == 1 and 'got: {__name__="job:x:sum", job="j"} 9E+00' in ours[2], ours
