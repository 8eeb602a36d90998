"""Rules and alerts in a cluster (issue 23, Deliver 6): the compactor evaluates the
PromQL and LogQL rules over every ingester's rows (unflushed ones included), writes
their results to the series' owners, and pages through its notifier; queriers pass
the alerting API on to it. Killed and started again elsewhere (an empty data
directory), it finds its alerts' state and the notification log in the bucket: the
firing alert keeps its start and nobody is paged twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from builders import assert_accepted, gauge_metric, log_record, logs_request, metrics_request, number_point, post_otlp
from harness import OspreyServer, free_ports, wait_until
from test_cluster import config_for, start_role
from test_crash_points import AM_YML
from test_notifier import Receiver

RULES = """\
groups:
  - name: probes
    interval: 1s
    rules:
      - record: cluster:probe:sum
        expr: sum(cluster_probe)
      - alert: ProbeHigh
        expr: max(cluster_probe) > 5
        for: 2s
        labels: {severity: page}
        annotations: {summary: "probe at {{ $value }}"}
"""

LOG_RULES = """\
groups:
  - name: lines
    interval: 1s
    rules:
      - record: cluster:app_lines:count
        expr: sum(count_over_time({service_name="app"}[10m]))
"""


def value(server: OspreyServer, query: str) -> float | None:
    r = server.get("/api/v1/query", params={"query": query})
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def firing(server: OspreyServer) -> dict[str, dict[str, Any]]:
    r = server.get("/api/v1/alerts")
    assert r.status_code == 200, r.text
    return {a["labels"]["alertname"]: a for a in r.json()["data"]["alerts"] if a["state"] == "firing"}


def test_the_compactor_runs_the_rules_over_every_ingester_and_pages_once(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver()
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "log-rules.yml").write_text(LOG_RULES)
    (tmp_path / "alertmanager.yml").write_text(AM_YML.format(hook=hook.url))
    (tmp_path / "bucket").mkdir()
    (tmp_path / "cluster-token").write_text("loopback-cluster\n")
    *internal, compactor_addr = [f"127.0.0.1:{p}" for p in free_ports(3)]
    rules = (
        '[rules]\nfiles = ["rules.yml"]\nlog_files = ["log-rules.yml"]\n'
        '[alerting]\nalertmanager_config = "alertmanager.yml"\n'
    )
    try:
        ingesters = [
            start_role(osprey_factory, config_for(tmp_path, f"ing-{i}", internal, internal[i]), "ingester")
            for i in range(2)
        ]
        querier_config = config_for(tmp_path, "q-0", internal, "127.0.0.1:1").replace(
            'manifest = "bucket"\n', f'manifest = "bucket"\ncompactor = "{compactor_addr}"\n'
        )
        querier = start_role(osprey_factory, querier_config, "querier")
        compactor_config = config_for(tmp_path, "compactor-0", internal, compactor_addr) + rules
        compactor = start_role(osprey_factory, compactor_config, "compactor")

        # Ten series, owned by either ingester, and logs that stay where they arrive:
        # nothing is flushed, so the rules see them only in the ingesters' memory.
        now = time.time_ns()
        points = [number_point(now - 2 * 10**9, float(i), {"series": str(i)}) for i in range(10)]
        assert_accepted(post_otlp(ingesters[0], "metrics", metrics_request("meter", [gauge_metric("cluster.probe", points)])))
        for server, n in zip(ingesters, (20, 10)):
            logs = [log_record(now - 3 * 10**9 + k, f"line {k}") for k in range(n)]
            assert_accepted(post_otlp(server, "logs", logs_request("app", logs)))

        wait_until(lambda: value(querier, "cluster:probe:sum") == 45.0, timeout=30, message="the recording rule's sum")
        wait_until(lambda: value(querier, "cluster:app_lines:count") == 30.0, timeout=30, message="the log rule's count")
        # Each result series is written once, by its owner, with no ingester label.
        assert value(querier, "count(cluster:probe:sum)") == 1.0
        assert value(querier, 'count({__name__="cluster:probe:sum", osprey_ingester!=""})') is None

        # The querier's alerting API is the compactor's.
        groups = querier.get("/api/v1/rules").json()["data"]["groups"]
        assert sorted(g["name"] for g in groups) == ["lines", "probes"], groups
        assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
        before = wait_until(lambda: firing(querier).get("ProbeHigh"), timeout=30, message="ProbeHigh firing")
        assert before["annotations"]["summary"] == "probe at 9"
        assert value(querier, 'ALERTS{alertname="ProbeHigh", alertstate="firing"}') == 1.0
        wait_until(lambda: hook.bodies, timeout=20, message="the page")
        page = hook.bodies[0][1]
        assert page["status"] == "firing" and page["alerts"][0]["labels"]["alertname"] == "ProbeHigh", page
        # Counted once the delivery is recorded (just after the receiver answered).
        wait_until(
            lambda: "osprey_notifier_notifications_total 1" in compactor.get("/metrics").text,
            timeout=10,
            message="the delivery recorded",
        )

        # Killed, and started again on another machine (an empty data directory).
        compactor.kill()
        again = start_role(osprey_factory, compactor_config, "compactor")
        after = wait_until(lambda: firing(querier).get("ProbeHigh"), timeout=30, message="ProbeHigh firing again")
        assert after["activeAt"] == before["activeAt"]
        time.sleep(6)  # group_wait and two group intervals of the new compactor's groups
        assert len(hook.bodies) == 1, [b for _, b in hook.bodies]
        assert again.running

        # Flushed into files, the rows still count once.
        for server in ingesters:
            server.flush()
        time.sleep(2)
        wait_until(lambda: value(querier, "cluster:probe:sum") == 45.0, timeout=10, message="the sum after flushes")
        assert value(querier, "cluster:app_lines:count") == 30.0
    finally:
        hook.stop()
