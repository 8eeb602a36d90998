"""Stored dashboards over HTTP against the real binary (issue 19, item 1): a Grafana
dashboard JSON saved, edited with a version check, and everything acknowledged still
there, with its versions, after the server is killed (SIGKILL) and started again."""

from __future__ import annotations

import requests

from harness import OspreyServer


def test_saved_dashboards_and_versions_survive_kill_9(osprey: OspreyServer) -> None:
    grafana = {
        "uid": "use-hosts", "title": "USE by host", "tags": ["use"], "schemaVersion": 39,
        "templating": {"list": [{"name": "instance", "type": "query", "query": "label_values(node_load1, instance)"}]},
        "panels": [{"id": 1, "type": "timeseries", "title": "CPU", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                    "targets": [{"refId": "A", "expr": 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[$__rate_interval]))'}]}],
    }
    r = osprey.post("/api/v1/dashboards", json={"dashboard": grafana}, tenant="ops")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["version"] == 1
    edited = {**grafana, "title": "USE by host (edited)"}
    r = osprey.post("/api/v1/dashboards", json={"dashboard": grafana}, tenant="ops")
    assert r.status_code == 409, r.text
    url = osprey.http("/api/v1/dashboards/use-hosts")
    r = requests.put(url, json={"version": 1, "dashboard": edited}, headers={"X-Scope-OrgID": "ops"}, timeout=10)
    assert r.status_code == 200 and r.json()["data"]["version"] == 2, r.text
    stale = requests.put(url, json={"version": 1, "dashboard": grafana}, headers={"X-Scope-OrgID": "ops"}, timeout=10)
    assert stale.status_code == 409 and "version 2" in stale.json()["error"], stale.text

    osprey.restart(kill=True)

    got = osprey.get("/api/v1/dashboards/use-hosts", tenant="ops").json()["data"]
    assert got["version"] == 2 and got["title"] == "USE by host (edited)"
    # The JSON comes back as it was given (uid and version set to the stored ones).
    assert got["dashboard"] == {**edited, "uid": "use-hosts", "version": 2}
    versions = osprey.get("/api/v1/dashboards/use-hosts/versions", tenant="ops").json()["data"]
    assert [v["version"] for v in versions] == [2, 1]
    old = osprey.get("/api/v1/dashboards/use-hosts/versions/1", tenant="ops").json()["data"]
    assert old["dashboard"]["title"] == "USE by host"
    assert osprey.get("/api/v1/dashboards/use-hosts").status_code == 404  # the default tenant's
