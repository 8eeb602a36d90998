"""Scraping: Osprey scrapes a real node_exporter and a target the test controls, and a
real Prometheus 2.42 remote_writes into Osprey.

The controlled target (a Python HTTP server) shows each scrape semantic: target labels
and honor_labels (``exported_job``), relabel_configs and metric_relabel_configs,
explicit timestamps, OpenMetrics with gzip, staleness markers when a series leaves the
exposition, when the target fails and when the server stops, and ``up`` with the
scrape's own series.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import OspreyServer, free_ports, wait_until
from peers import NodeExporter, PrometheusServer, node_exporter  # noqa: F401 - fixture


class Target:
    """An exposition the test changes between scrapes."""

    def __init__(self) -> None:
        self.body = ""
        self.content_type = "text/plain; version=0.0.4"
        self.status = 200
        self.gzip = False
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                data = target.body.encode()
                if target.gzip:
                    data = gzip.compress(data)
                self.send_response(target.status)
                self.send_header("Content-Type", target.content_type)
                if target.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


def values(server: OspreyServer, query: str, at: float | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in server.prom_query(query, at=at)}


def one(server: OspreyServer, query: str) -> float | None:
    v = values(server, query)
    return next(iter(v.values())) if len(v) == 1 else None


def exposition_series(text: str, name: str) -> set[tuple[tuple[str, str], ...]]:
    out = set()
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.index("}") + 1]))
            out.add(tuple(sorted(labels.items())))
    return out


def test_scrapes_node_exporter(osprey_factory, node_exporter: NodeExporter) -> None:
    server = osprey_factory(
        config=f"""
[scrape]
scrape_interval = "1s"
scrape_timeout = "900ms"

[[scrape.jobs]]
job_name = "node"
targets = ["{node_exporter.address}"]
labels = {{ env = "e2e" }}
"""
    )
    wait_until(lambda: one(server, 'up{job="node"}') == 1.0, timeout=30, message="node_exporter scraped")
    text = requests.get(f"http://{node_exporter.address}/metrics", timeout=10).text
    want = exposition_series(text, "node_cpu_seconds_total")
    assert want, "node_exporter exposes CPU time"
    got = values(server, "node_cpu_seconds_total")
    assert {tuple((k, v) for k, v in key if k in ("cpu", "mode")) for key in got} == want
    for key in got:
        labels = dict(key)
        assert (labels["job"], labels["instance"], labels["env"]) == ("node", node_exporter.address, "e2e")
    # The exposition's # HELP / # TYPE lines are kept for /api/v1/metadata.
    help_line = next(l for l in text.splitlines() if l.startswith("# HELP node_cpu_seconds_total "))
    meta = server.get("/api/v1/metadata", params={"metric": "node_cpu_seconds_total"}).json()["data"]
    assert meta == {
        "node_cpu_seconds_total": [{"type": "counter", "help": help_line.split(" ", 3)[3], "unit": ""}]
    }
    scraped = one(server, 'scrape_samples_scraped{job="node"}')
    assert scraped is not None and scraped > 100
    assert one(server, 'scrape_samples_post_metric_relabeling{job="node"}') == scraped
    assert 0 < one(server, 'scrape_duration_seconds{job="node"}') < 0.9
    # Counters from a real exporter work with rate() once a few scrapes are in.
    rates = wait_until(
        lambda: values(server, "rate(node_cpu_seconds_total[5s])"), timeout=15, message="rates of node_cpu_seconds_total"
    )
    assert len(rates) == len(want) and all(v >= 0 for v in rates.values())


def test_scrape_semantics(osprey_factory, target: Target) -> None:
    explicit_ms = int(time.time() * 1000) - 30_000
    target.body = (
        "# TYPE app_requests_total counter\n"
        'app_requests_total{path="/a",job="inner"} 5\n'
        "app_gone 1\n"
        "drop_me_please 3\n"
        f"app_ts 7 {explicit_ms}\n"
    )
    dead_port = free_ports(1)[0]
    server = osprey_factory(
        config=f"""
[scrape]
scrape_interval = "500ms"
scrape_timeout = "400ms"

[[scrape.jobs]]
job_name = "app"
targets = ["{target.address}"]

[[scrape.jobs.relabel_configs]]
source_labels = ["__address__"]
regex = "127\\\\.0\\\\.0\\\\.1:(\\\\d+)"
target_label = "port"
replacement = "p$1"

[[scrape.jobs.metric_relabel_configs]]
source_labels = ["__name__"]
regex = "drop_me.*"
action = "drop"

[[scrape.jobs]]
job_name = "honor"
targets = ["{target.address}"]
honor_labels = true

[[scrape.jobs]]
job_name = "down"
targets = ["127.0.0.1:{dead_port}"]
"""
    )
    port = "p" + target.address.split(":")[1]
    wait_until(lambda: one(server, 'up{job="app"}') == 1.0, timeout=15, message="target scraped")
    wait_until(lambda: one(server, 'up{job="down"}') == 0.0, timeout=15, message="dead target reported down")

    # /api/v1/targets: each target's labels, URL and last scrape, as Prometheus shows them.
    def targets() -> dict[str, dict]:
        r = server.get("/api/v1/targets")
        assert r.status_code == 200, r.text
        return {t["scrapePool"]: t for t in r.json()["data"]["activeTargets"]}

    wait_until(lambda: targets()["down"]["health"] == "down" and targets()["app"]["health"] == "up", timeout=10, message="target health")
    t = targets()
    assert sorted(t) == ["app", "down", "honor"]
    assert t["app"]["labels"] == {"instance": target.address, "job": "app", "port": port}
    assert t["app"]["scrapeUrl"] == f"http://{target.address}/metrics"
    assert t["app"]["discoveredLabels"]["__address__"] == target.address
    assert (t["app"]["scrapeInterval"], t["app"]["scrapeTimeout"], t["app"]["lastError"]) == ("500ms", "400ms", "")
    assert "Connect" in t["down"]["lastError"] or "connect" in t["down"]["lastError"], t["down"]

    # Target labels win over the target's own job label, which becomes exported_job.
    got = values(server, 'app_requests_total{job="app"}')
    assert got == {
        (("__name__", "app_requests_total"), ("exported_job", "inner"), ("instance", target.address), ("job", "app"), ("path", "/a"), ("port", port)): 5.0
    }
    # honor_labels keeps the target's job label.
    assert list(values(server, 'app_requests_total{instance="%s", job="inner"}' % target.address).values()) == [5.0]
    assert values(server, 'drop_me_please{job="app"}') == {}
    assert server.get("/api/v1/metadata", params={"metric": "app_requests_total"}).json()["data"] == {
        "app_requests_total": [{"type": "counter", "help": "", "unit": ""}]
    }
    assert one(server, 'scrape_samples_scraped{job="app"}') == 4.0
    assert one(server, 'scrape_samples_post_metric_relabeling{job="app"}') == 3.0
    assert one(server, 'scrape_samples_scraped{job="down"}') == 0.0
    # An explicit timestamp is kept.
    assert one(server, 'timestamp(app_ts{job="app"})') == pytest.approx(explicit_ms / 1000)

    # A series that leaves the exposition is marked stale at the next scrape: gone at
    # once, not after the 5 m lookback.
    target.body = 'app_requests_total{path="/a",job="inner"} 6\n'
    wait_until(lambda: values(server, 'app_gone{job="app"}') == {}, timeout=10, message="app_gone marked stale")
    assert one(server, 'app_requests_total{job="app"}') == 6.0

    # OpenMetrics, gzip-compressed, timestamps in seconds.
    om_ts = time.time() - 5
    target.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    target.gzip = True
    target.body = f'# TYPE app_om counter\napp_om_total{{k="v"}} 3 {om_ts:.3f}\napp_requests_total{{path="/a"}} 7\n# EOF\n'
    wait_until(lambda: one(server, 'app_om_total{job="app"}') == 3.0, timeout=10, message="OpenMetrics scraped")
    assert one(server, 'timestamp(app_om_total{job="app"})') == pytest.approx(om_ts, abs=0.001)
    assert one(server, 'app_requests_total{job="app"}') == 7.0

    # A failing scrape: up 0 and the target's series end.
    target.status = 500
    wait_until(lambda: one(server, 'up{job="app"}') == 0.0, timeout=10, message="failing target reported down")
    assert values(server, 'app_requests_total{job="app"}') == {}
    target.status = 200
    wait_until(lambda: one(server, 'up{job="app"}') == 1.0, timeout=10, message="target back up")

    # Stopping the server ends every scraped series with a staleness marker.
    server.stop()
    stopped_at = time.time()
    server.start()
    assert values(server, 'app_requests_total{job="app"}', at=stopped_at) == {}
    assert values(server, 'up{job="app"}', at=stopped_at) == {}
    assert values(server, 'app_requests_total{job="app"}', at=stopped_at - 1.5) != {}


def test_prometheus_remote_writes_into_osprey(osprey: OspreyServer, node_exporter: NodeExporter, tmp_path: Path) -> None:
    prom = PrometheusServer(
        tmp_path / "prometheus",
        config=f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1m
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["{node_exporter.address}"]
remote_write:
  - url: {osprey.http("/api/v1/write")}
    queue_config:
      batch_send_deadline: 1s
""",
    )
    prom.start()
    try:
        wait_until(lambda: one(osprey, 'up{job="node"}') == 1.0, timeout=60, interval=0.5, message="Prometheus' samples in Osprey")
        # Both now answer from the same samples: once a few scrapes are in, a time a
        # couple of seconds back is complete on both sides when Osprey has a newer sample.
        wait_until(lambda: (one(osprey, 'count_over_time(up{job="node"}[1m])') or 0) >= 4, timeout=30, interval=0.5, message="a few scrapes")
        at = time.time() - 2

        def newest_up() -> float:
            return float(osprey.prom_query('timestamp(up{job="node"})')[0]["value"][1])

        wait_until(lambda: newest_up() > at + 0.5, timeout=30, interval=0.5, message="samples past the comparison time")
        query = "node_cpu_seconds_total"
        theirs = prom.get("/api/v1/query", query=query, time=f"{at:.3f}").json()["data"]["result"]
        want = {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in theirs}
        assert want, "Prometheus scraped node_exporter"
        assert values(osprey, query, at=at) == want
    finally:
        prom.stop()


def test_each_job_scrapes_into_its_tenant(osprey_factory, target: Target) -> None:
    """`[[scrape.jobs]] tenant` sends a job's samples to its own tenant (default:
    `[scrape] tenant`), and each tenant sees only its own jobs' targets."""
    target.body = "# TYPE probe gauge\nprobe 1\n"
    server = osprey_factory(config=f"""
[scrape]
scrape_interval = "1s"
tenant = "ops"
[[scrape.jobs]]
job_name = "for-team-a"
tenant = "team-a"
targets = ["{target.address}"]
[[scrape.jobs]]
job_name = "for-ops"
targets = ["{target.address}"]
""")

    def jobs(tenant: str) -> list[str]:
        return sorted(s["metric"]["job"] for s in server.prom_query("probe", tenant=tenant))

    wait_until(lambda: jobs("team-a") == ["for-team-a"] and jobs("ops") == ["for-ops"], timeout=20,
               message="each job's samples in its tenant")
    assert jobs("default") == []
    for tenant, job in [("team-a", "for-team-a"), ("ops", "for-ops")]:
        active = server.get("/api/v1/targets", tenant=tenant).json()["data"]["activeTargets"]
        assert [t["labels"]["job"] for t in active] == [job], active
    bad = osprey_factory(start=False, config='[[scrape.jobs]]\njob_name = "x"\ntenant = "../x"\n')
    bad_config = bad.extra_args[bad.extra_args.index("--config") + 1]
    check = subprocess.run([str(server.binary), "config", "check", bad_config], capture_output=True, text=True, timeout=60)
    assert check.returncode != 0 and "scrape.jobs[0].tenant" in check.stdout + check.stderr, check
