"""Log rules (issue 15 item 3): Loki-ruler files whose expressions are LogQL metric
queries over logs, evaluated by the same manager as PromQL rules, with the same states,
templates and notifications.

Logs arrive through Loki push (protobuf, as Promtail sends) and OTLP/HTTP; the
expected values come from a brute-force evaluation of each rule over the same lines,
written here from Loki's documented semantics (stream labels are Loki push labels as
they are, OTLP resource attributes with Loki's naming: ``service.name`` →
``service_name``)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from builders import log_record, logs_request, post_otlp
from harness import osprey_binary, wait_until
from test_loki import encode_push
from test_notifier import Receiver
from test_remote_write import snappy

RULES = """\
groups:
  - name: log-alerts
    interval: 1s
    rules:
      - alert: ManyTimeouts
        expr: sum by (service_name) (count_over_time({env="prod"} |= "timeout" [10m])) > 3
        for: 2s
        labels: {severity: page}
        annotations: {summary: "{{ $labels.service_name }}: {{ $value }} timeouts"}
      - record: service_level:log_lines:count10m
        expr: sum by (service_name, level) (count_over_time({env="prod"} | json | __error__="" [10m]))
      - record: service:latency_ms:max10m
        expr: max_over_time({env="prod"} | json | unwrap latency_ms | __error__="" [10m]) by (service_name)
"""

TEAM_B_RULES = """\
groups:
  - name: team-b
    interval: 1s
    rules:
      - alert: TeamBErrors
        expr: count_over_time({service_name="billing"} |~ "(?i)error" [10m]) > 0
"""


def corpus(now_ns: int) -> dict[str, Any]:
    """Lines of the last minute: (stream labels, [(ns, line)]) per source."""
    api, web, checkout = [], [], []
    for i in range(12):
        ts = now_ns - (60 - i) * 10**9
        level = "error" if i % 4 == 0 else "info"
        msg = "upstream timeout" if i % 3 == 0 else "ok"
        api.append((ts, json.dumps({"level": level, "msg": msg, "latency_ms": 10 * i + 5})))
    api.append((now_ns - 30 * 10**9, "plain text timeout, not JSON"))
    for i in range(5):
        web.append((now_ns - (50 - i) * 10**9, json.dumps({"level": "warn", "msg": "timeout"})))
    for i in range(5):
        msg = "db timeout" if i < 2 else "fine"
        checkout.append((now_ns - (40 - i) * 10**9, json.dumps({"level": "info", "msg": msg, "latency_ms": 300 + i})))
    return {
        "api": ({"service_name": "api", "env": "prod"}, api),
        "web": ({"service_name": "web", "env": "dev"}, web),
        "checkout": ({"service_name": "checkout", "env": "prod"}, checkout),
    }


def brute_force(c: dict[str, Any]) -> dict[str, Any]:
    timeouts: dict[str, int] = {}
    lines: dict[tuple[str, str], int] = {}
    latency: dict[str, float] = {}
    for labels, entries in c.values():
        if labels["env"] != "prod":
            continue
        svc = labels["service_name"]
        for _, line in entries:
            if "timeout" in line:
                timeouts[svc] = timeouts.get(svc, 0) + 1
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # __error__="JSONParserErr": filtered out
            lines[(svc, doc["level"])] = lines.get((svc, doc["level"]), 0) + 1
            latency[svc] = max(latency.get(svc, float("-inf")), float(doc["latency_ms"]))
    return {"timeouts": timeouts, "lines": lines, "latency": latency}


def push(server, c: dict[str, Any]) -> None:
    streams = []
    for name in ("api", "web"):
        labels, entries = c[name]
        sel = "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        streams.append((sel, [(ts, line, {}) for ts, line in entries]))
    r = server.post(
        "/loki/api/v1/push",
        data=snappy(encode_push(streams)),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
    )
    assert r.status_code == 204, r.text
    _, entries = c["checkout"]
    body = logs_request("checkout", [log_record(ts, line) for ts, line in entries], resource_attrs={"env": "prod"})
    r = post_otlp(server, "logs", body)
    assert r.status_code == 200, r.text


def test_log_rules_fire_record_and_notify(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver()
    (tmp_path / "loki-rules").mkdir()
    (tmp_path / "loki-rules" / "app.yml").write_text(RULES)
    (tmp_path / "rules.d" / "team-b").mkdir(parents=True)
    (tmp_path / "rules.d" / "team-b" / "billing.logql.yml").write_text(TEAM_B_RULES)
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url}/logs'}}]\n"
    )
    try:
        server = osprey_factory(
            config=(
                '[rules]\nlog_files = ["loki-rules/*.yml"]\ntenant_dir = "rules.d"\n'
                '[alerting]\nalertmanager_config = "alertmanager.yml"\n'
            )
        )
        c = corpus(time.time_ns())
        push(server, c)
        billing = encode_push([('{service_name="billing", env="prod"}', [(time.time_ns() - 10**9, "ERROR card declined", {})])])
        r = server.post("/loki/api/v1/push", tenant="team-b", data=snappy(billing),
                        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
        assert r.status_code == 204, r.text
        want = brute_force(c)

        def firing() -> dict[str, dict[str, Any]]:
            alerts = server.get("/api/v1/alerts").json()["data"]["alerts"]
            return {a["labels"]["service_name"]: a for a in alerts if a["state"] == "firing"}

        fired = wait_until(firing, timeout=30, message="ManyTimeouts firing")
        expected_firing = {s: n for s, n in want["timeouts"].items() if n > 3}
        assert expected_firing == {"api": 5}, want
        assert set(fired) == set(expected_firing)
        a = fired["api"]
        assert float(a["value"]) == expected_firing["api"]
        assert a["annotations"]["summary"] == "api: 5 timeouts"
        assert a["labels"] == {"alertname": "ManyTimeouts", "service_name": "api", "severity": "page"}

        history = server.get("/api/v1/alerts/history").json()["data"]["transitions"]
        assert [(t["event"], t["labels"]["service_name"], t["value"]) for t in history] == [("fired", "api", "5e+00")]

        got_lines = {
            (s["metric"]["service_name"], s["metric"]["level"]): float(s["value"][1])
            for s in server.prom_query("service_level:log_lines:count10m")
        }
        assert got_lines == {k: float(v) for k, v in want["lines"].items()}
        got_latency = {
            s["metric"]["service_name"]: float(s["value"][1]) for s in server.prom_query("service:latency_ms:max10m")
        }
        assert got_latency == want["latency"]

        rules = server.get("/api/v1/rules").json()["data"]["groups"]
        assert [g["name"] for g in rules] == ["log-alerts"]
        assert all(r["health"] == "ok" for r in rules[0]["rules"]), rules
        assert rules[0]["rules"][0]["query"].startswith("sum by (service_name) (count_over_time(")

        # The notifier pages on-call for a log alert as for any other (team B's alert
        # goes through the same alertmanager.yml, in its own tenant's notifier).
        def paged() -> list[dict[str, Any]]:
            return [b for _, b in hook.by_prefix("/logs") if b["groupLabels"] == {"alertname": "ManyTimeouts"}]

        body = wait_until(paged, timeout=20, message="the log alert's notification")[0]
        assert body["status"] == "firing", body
        assert [x["labels"]["service_name"] for x in body["alerts"]] == ["api"]

        # Team B's rules see team B's logs only, and only team B sees them.
        team_b = wait_until(
            lambda: server.get("/api/v1/alerts", tenant="team-b").json()["data"]["alerts"],
            timeout=20,
            message="team B's log alert",
        )
        assert [x["labels"]["alertname"] for x in team_b] == ["TeamBErrors"]
        assert float(team_b[0]["value"]) == 1.0
        assert "TeamBErrors" not in {x["labels"]["alertname"] for x in server.get("/api/v1/alerts").json()["data"]["alerts"]}
    finally:
        hook.stop()


def test_rules_check_validates_logql(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(RULES)
    (tmp_path / "bad.yml").write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: NotAMetric\n        expr: '{app=\"a\"} |= \"x\"'\n"
        "      - alert: Broken\n        expr: 'count_over_time({app=\"a\"} |= 5 [5m])'\n"
        "      - record: no_unwrap\n        expr: 'sum_over_time({app=\"a\"}[5m])'\n"
    )
    good = subprocess.run([str(osprey_binary()), "rules", "check", "--logql", "good.yml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good
    assert "SUCCESS: 3 rules found" in good.stdout
    bad = subprocess.run([str(osprey_binary()), "rules", "check", "--logql", "bad.yml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad
    assert "a log query cannot be a rule" in bad.stderr
    assert "parse error at line 1, col 30: syntax error: unexpected NUMBER 5, expecting STRING" in bad.stderr
    assert "invalid aggregation sum_over_time without unwrap" in bad.stderr
    # The same file is not PromQL.
    as_promql = subprocess.run([str(osprey_binary()), "rules", "check", "good.yml"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert as_promql.returncode == 1
