"""Osprey's Alertmanager API v2 with the real clients (issue 15): amtool 0.25 adds,
queries and expires silences and queries alerts against Osprey; a silence mutes
its alert's notifications and survives a restart; a real Prometheus 2.42 sends
its alerts to Osprey as to an Alertmanager, and they are routed and delivered.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import OspreyServer, wait_until
from peers import PrometheusServer
from test_notifier import Receiver

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


def amtool(server: OspreyServer, *args: str) -> tuple[int, str, str]:
    p = subprocess.run(
        [AMTOOL, f"--alertmanager.url={server.http()}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return p.returncode, p.stdout, p.stderr


def amtool_json(server: OspreyServer, *args: str) -> Any:
    code, out, err = amtool(server, "-o", "json", *args)
    assert code == 0, out + err
    assert "version" not in err, err  # amtool found the version it expects
    return json.loads(out)


def test_amtool_silences_mute_and_persist(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver()
    muted_from = int(time.time()) + 8
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n"
        "      - alert: Loud\n        expr: vector(1)\n"
        f"      - alert: Muted\n        expr: vector(1) and on() (vector(time()) > {muted_from})\n"
    )
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url}/x'}}]\n"
    )
    try:
        server = osprey_factory(
            config='[rules]\nfiles = ["rules.yml"]\n[alerting]\nalertmanager_config = "alertmanager.yml"\n'
        )
        code, out, err = amtool(server, "silence", "add", "alertname=Muted", "-c", "maintenance", "-a", "alice", "-d", "2h")
        assert code == 0, out + err
        silence_id = out.strip()
        assert len(silence_id) == 36, out
        assert time.time() < muted_from, "the silence came too late to test muting"
        silences = amtool_json(server, "silence", "query")
        assert [(s["id"], s["createdBy"], s["comment"], s["status"]["state"]) for s in silences] == [
            (silence_id, "alice", "maintenance", "active")
        ]
        assert silences[0]["matchers"] == [{"name": "alertname", "value": "Muted", "isRegex": False, "isEqual": True}]

        # Muted fires but stays suppressed; Loud is notified.
        wait_until(lambda: any(a["labels"]["alertname"] == "Muted" for a in amtool_json(server, "alert", "query", "-s")), timeout=20)
        # -s alone asks for silenced alerts only (amtool sends all four flags).
        assert [a["labels"]["alertname"] for a in amtool_json(server, "alert", "query", "-s")] == ["Muted"]
        alerts = {a["labels"]["alertname"]: a for a in amtool_json(server, "alert", "query", "-a", "-s")}
        assert alerts["Muted"]["status"] == {"inhibitedBy": [], "silencedBy": [silence_id], "state": "suppressed"}
        assert alerts["Loud"]["status"]["state"] == "active" and alerts["Loud"]["receivers"] == [{"name": "hook"}]
        # Without -s, amtool asks for active alerts only.
        assert [a["labels"]["alertname"] for a in amtool_json(server, "alert", "query")] == ["Loud"]
        wait_until(lambda: hook.bodies, timeout=10)
        time.sleep(4)  # two group intervals after Muted became active
        notified = {a["labels"]["alertname"] for _, b in hook.bodies for a in b["alerts"]}
        assert notified == {"Loud"}, notified

        # The silence survives a restart.
        server.restart(kill=False)
        assert [s["id"] for s in amtool_json(server, "silence", "query")] == [silence_id]
        code, out, err = amtool(server, "silence", "expire", silence_id)
        assert code == 0, out + err
        assert amtool_json(server, "silence", "query") == []
        expired = amtool_json(server, "silence", "query", "--expired")
        assert [s["status"]["state"] for s in expired] == ["expired"]
        r = server.get(f"/api/v2/silence/{silence_id}")
        assert r.status_code == 200 and r.json()["status"]["state"] == "expired"
        assert server.get("/api/v2/silence/not-a-uuid").status_code == 422
        status = server.get("/api/v2/status").json()
        assert status["versionInfo"]["version"] == "0.25.0" and "route:" in status["config"]["original"]
        assert server.get("/api/v2/receivers").json() == [{"name": "hook"}]
        # Once expired, Muted is notified.
        wait_until(
            lambda: any(a["labels"]["alertname"] == "Muted" for _, b in hook.bodies for a in b["alerts"]),
            timeout=15,
            message="Muted notified after its silence expired",
        )
    finally:
        hook.stop()


def test_prometheus_sends_its_alerts_to_osprey(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver()
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: hook\n  group_wait: 1s\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url}/p'}}]\n"
    )
    prom = None
    try:
        server = osprey_factory(config='[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        (tmp_path / "prom-rules.yml").write_text(
            "groups:\n  - name: p\n    interval: 2s\n    rules:\n"
            "      - alert: FromPrometheus\n        expr: vector(1)\n        for: 8s\n        labels: {origin: prom}\n"
        )
        prom = PrometheusServer(
            tmp_path / "prom",
            config=(
                "global:\n  evaluation_interval: 2s\n"
                f"rule_files: ['{tmp_path / 'prom-rules.yml'}']\n"
                f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{server.http_port}']\n"
            ),
        )
        prom.start()
        body = wait_until(lambda: hook.bodies and hook.bodies[0][1], timeout=40, message="Prometheus' alert delivered")
        assert body["alerts"][0]["labels"] == {"alertname": "FromPrometheus", "origin": "prom"}, body
        assert body["alerts"][0]["generatorURL"].endswith("&g0.tab=1")
        api = server.get("/api/v2/alerts").json()
        assert [a["labels"]["alertname"] for a in api] == ["FromPrometheus"]
        # Bad alerts are refused with Alertmanager's words; good ones in the batch are kept.
        r = server.post("/api/v2/alerts", json=[{"labels": {}}, {"labels": {"alertname": "Direct"}}])
        assert r.status_code == 400 and "at least one label pair required" in r.text, r.text
        assert "Direct" in [a["labels"]["alertname"] for a in server.get("/api/v2/alerts").json()]
    finally:
        if prom:
            prom.stop()
        hook.stop()
