"""The Hosts views (`/hosts`, `/hosts/{instance}`) and the Home summary (`/`) in a real
browser, checked against the API on the same data.

- OTLP hostmetrics from ``osprey demo`` (three hosts): the table's CPU, memory and load
  per host equal the same USE PromQL evaluated at the range's end; the per-host page
  draws its charts and follows the time picker.
- A real node_exporter scraped by Osprey: its instance is a host with values equal to
  the node_exporter USE PromQL, and its page draws CPU, filesystem and network charts.
- Home: services with RED equal to the span-metrics PromQL, hosts with their USE, the
  newest error logs equal to SQL over the logs table, and a firing alert from a rule.
- Empty states: no host metrics says which series are looked for; no alerts says so
  and links to the rules.

Every range is absolute (``from``/``to`` in the URL), so values are deterministic.
"""

from __future__ import annotations

import math
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness import OspreyServer, wait_until
from peers import NodeExporter, node_exporter  # noqa: F401 - fixture
from uikit import demo, page, screenshot, watch  # noqa: F401

DEMO_HOSTS = {"host-a", "host-b", "host-c"}


def by_instance(osprey: OspreyServer, query: str, at: int, label: str = "instance") -> dict[str, float]:
    return {r["metric"][label]: float(r["value"][1]) for r in osprey.prom_query(query, at=at)}


def cell(row, col: str) -> float:
    return float(row.locator(f'[data-col="{col}"]').get_attribute("data-value"))


def run_demo(osprey: OspreyServer, osprey_bin, duration: str) -> None:
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", duration, "--rate", "20", "--seed", "3"],
        capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, proc.stderr


def both_themes(page, name: str) -> None:
    """Screenshots in the current theme and the other one (the header's toggle)."""
    screenshot(page, f"{name}-1")
    page.get_by_test_id("theme-toggle").click()
    page.wait_for_timeout(300)
    screenshot(page, f"{name}-2")
    page.get_by_test_id("theme-toggle").click()


def test_hosts_table_matches_promql_and_host_page_charts(osprey: OspreyServer, osprey_bin, page) -> None:
    # Host metrics every 5 s: 11 s of demo gives three points per host (rates need two).
    run_demo(osprey, osprey_bin, "11s")
    time.sleep(1)
    end = int(time.time())
    start = end - 300
    w = f"{end - start}s"
    hosts = set(by_instance(osprey, "group by (instance) (system_cpu_utilization_ratio)", end))
    assert hosts == DEMO_HOSTS, hosts
    cpu = by_instance(osprey, f"100 * sum by (instance) (avg_over_time(system_cpu_utilization_ratio[{w}]))", end)
    mem = by_instance(
        osprey,
        f'100 * sum by (instance) (avg_over_time(system_memory_usage_bytes{{state="used"}}[{w}]))'
        f" / sum by (instance) (avg_over_time(system_memory_usage_bytes[{w}]))",
        end,
    )
    load = by_instance(osprey, f"avg_over_time(system_cpu_load_average_1m[{w}])", end)
    disk = by_instance(osprey, f"sum by (instance) (rate(system_disk_io_bytes_total[{w}]))", end)
    fs = by_instance(
        osprey,
        f'100 * max by (instance) (sum without (state) (avg_over_time(system_filesystem_usage_bytes{{state="used"}}[{w}]))'
        f" / sum without (state) (avg_over_time(system_filesystem_usage_bytes[{w}])))",
        end,
    )
    net = by_instance(osprey, f'sum by (instance) (rate(system_network_io_bytes_total{{device!="lo"}}[{w}]))', end)
    assert set(cpu) == set(mem) == set(load) == set(disk) == set(fs) == set(net) == DEMO_HOSTS
    assert all(0 < v < 100 for v in [*cpu.values(), *mem.values()]), (cpu, mem)
    assert all(v > 0 for v in disk.values()), disk

    problems = watch(page)
    page.goto(osprey.http(f"/hosts?from={start}&to={end}"))
    rows = page.get_by_test_id("host-row")
    expect(rows).to_have_count(3)
    for row in rows.all():
        host = row.get_attribute("data-host")
        assert host in DEMO_HOSTS and row.get_attribute("data-source") == "otel"
        assert cell(row, "cpu") == pytest.approx(cpu[host], rel=1e-9), host
        assert cell(row, "mem") == pytest.approx(mem[host], rel=1e-9), host
        assert cell(row, "load") == pytest.approx(load[host], rel=1e-9), host
        assert cell(row, "disk") == pytest.approx(disk[host], rel=1e-9), host
        assert cell(row, "fs") == pytest.approx(fs[host], rel=1e-9), host
        assert cell(row, "net") == pytest.approx(net[host], rel=1e-9), host
        if cpu[host] >= 10:  # shown as a whole percentage
            expect(row.locator('[data-col="cpu"]')).to_contain_text(f"{math.floor(cpu[host] + 0.5)}%")
        expect(row.get_by_test_id("sparkline").first).to_be_visible()
        assert row.get_by_test_id("host-link").get_attribute("href").startswith(f"/hosts/{host}?")
    # The demo sends no disk busy time: that column says it is not collected.
    assert page.locator('th[data-sort="fs"]').count() == 1
    assert page.locator('th[data-sort="diskBusy"]').count() == 0
    expect(page.get_by_test_id("hosts-missing")).to_contain_text("disk busy")

    # Sortable by CPU, both ways; the sort is in the URL.
    page.locator('th[data-sort="cpu"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-cpu"))
    assert [r.get_attribute("data-host") for r in rows.all()] == sorted(cpu, key=lambda h: -cpu[h])
    page.locator('th[data-sort="cpu"] button').click()
    expect(page).to_have_url(re.compile(r"[?&]sort=cpu"))
    assert [r.get_attribute("data-host") for r in rows.all()] == sorted(cpu, key=lambda h: cpu[h])
    both_themes(page, "hosts-demo")

    # One host: its USE tiles and time series.
    page.locator('[data-testid=host-row][data-host="host-b"]').get_by_test_id("host-link").click()
    expect(page).to_have_url(re.compile(r"/hosts/host-b\?"))
    expect(page.get_by_test_id("host-title")).to_have_text("host-b")
    tile = page.locator('[data-testid=host-stat][data-col="cpu"]')
    expect(tile).to_be_visible()
    assert float(tile.get_attribute("data-value")) == pytest.approx(cpu["host-b"], rel=1e-9)
    for chart in ("cpu", "mem", "load", "disk"):
        expect(page.get_by_test_id(f"host-chart-{chart}").locator("canvas").first).to_be_visible()
    cpu_legend = page.get_by_test_id("host-chart-cpu").locator(".chart-legend-item")
    expect(cpu_legend).to_have_count(2)  # user and system
    expect(page.get_by_test_id("host-chart-fs").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("host-chart-net").locator("canvas").first).to_be_visible()
    assert "host.name:host-b" in page.get_by_test_id("host-logs-link").get_attribute("href")
    both_themes(page, "host-demo")

    # The time picker drives the page: a quick range replaces from/to and the charts
    # are queried again over it.
    def over_last_15m(req) -> bool:
        if "/api/v1/query_range" not in req.url:
            return False
        form = urllib.parse.parse_qs(req.post_data or "")
        return abs(float(form["start"][0]) - (time.time() - 900)) < 120

    page.get_by_test_id("time-picker").click()
    with page.expect_request(over_last_15m):
        page.get_by_role("button", name="Last 15 minutes").click()
    expect(page).to_have_url(re.compile(r"from=now-15m"))
    expect(page.get_by_test_id("host-chart-cpu").locator("canvas").first).to_be_visible()
    expect(tile).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_node_exporter_host(osprey_factory, node_exporter: NodeExporter, page) -> None:  # noqa: F811
    osprey = osprey_factory(config=f"""
[scrape]
scrape_interval = "1s"
scrape_timeout = "900ms"

[[scrape.jobs]]
job_name = "node"
targets = ["{node_exporter.address}"]
""")
    inst = node_exporter.address
    wait_until(lambda: by_instance(osprey, "rate(node_cpu_seconds_total[5s])", int(time.time())), timeout=30,
               message="node_exporter scraped a few times")
    time.sleep(3)
    end = int(time.time())
    start = end - 60
    w = f"{end - start}s"
    time.sleep(2)  # every scrape before `end` is in
    busy = f'sum by (instance) (rate(node_cpu_seconds_total{{mode!="idle"}}[{w}]))'
    cpu = by_instance(osprey, f"100 * {busy} / sum by (instance) (rate(node_cpu_seconds_total[{w}]))", end)
    mem = by_instance(
        osprey,
        f"100 * (1 - avg_over_time(node_memory_MemAvailable_bytes[{w}]) / avg_over_time(node_memory_MemTotal_bytes[{w}]))",
        end,
    )
    load = by_instance(osprey, f"avg_over_time(node_load1[{w}])", end)
    assert set(cpu) == set(mem) == {inst}, (cpu, mem)
    assert 0 <= cpu[inst] <= 100 and 0 < mem[inst] < 100

    problems = watch(page)
    page.goto(osprey.http(f"/hosts?from={start}&to={end}"))
    row = page.locator(f'[data-testid=host-row][data-host="{inst}"]')
    expect(row).to_be_visible()
    expect(page.get_by_test_id("host-row")).to_have_count(1)
    assert row.get_attribute("data-source") == "node"
    assert cell(row, "cpu") == pytest.approx(cpu[inst], rel=1e-9)
    assert cell(row, "mem") == pytest.approx(mem[inst], rel=1e-9)
    assert cell(row, "load") == pytest.approx(load[inst], rel=1e-9)
    # node_exporter reports every USE column: filesystem, network and errors have values.
    for col in ("fs", "net", "errors", "disk"):
        v = row.locator(f'[data-col="{col}"]').get_attribute("data-value")
        assert v not in (None, "") and float(v) >= 0, (col, v)
    both_themes(page, "hosts-node")

    row.get_by_test_id("host-link").click()
    expect(page).to_have_url(re.compile(r"/hosts/127\.0\.0\.1:\d+\?"))
    for chart in ("cpu", "mem", "load", "fs", "net"):
        expect(page.get_by_test_id(f"host-chart-{chart}").locator("canvas").first).to_be_visible()
    modes = page.get_by_test_id("host-chart-cpu").locator(".chart-legend-item").all_inner_texts()
    assert any(m.startswith("user") for m in modes) and not any(m.startswith("idle") for m in modes), modes
    both_themes(page, "host-node")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_home_summary(osprey_factory, osprey_bin, page, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: home\n    interval: 1s\n    rules:\n"
        "      - alert: AlwaysFiring\n        expr: vector(1)\n        labels: {severity: critical}\n"
        "        annotations: {summary: 'fires on every evaluation'}\n"
    )
    osprey = osprey_factory(config='[spanmetrics]\ninterval = "1s"\n[rules]\nfiles = ["rules.yml"]\n')
    run_demo(osprey, osprey_bin, "6s")
    wait_until(lambda: any(a["state"] == "firing" for a in osprey.get("/api/v1/alerts").json()["data"]["alerts"]),
               timeout=30, message="the rule fires")
    time.sleep(2.5)  # the last span-metrics interval
    end = int(time.time())
    start = end - 120
    w = f"{end - start}s"
    rates = {r["metric"]["service_name"]: float(r["value"][1]) for r in osprey.prom_query(
        f'sum by (service_name) (rate(traces_span_metrics_calls_total{{span_kind="SPAN_KIND_SERVER"}}[{w}]))', at=end)}
    errors = {r["metric"]["service_name"]: float(r["value"][1]) for r in osprey.prom_query(
        f'sum by (service_name) (rate(traces_span_metrics_calls_total{{span_kind="SPAN_KIND_SERVER",'
        f' status_code="STATUS_CODE_ERROR"}}[{w}]))', at=end)}
    cpu = by_instance(osprey, f"100 * sum by (instance) (avg_over_time(system_cpu_utilization_ratio[{w}]))", end)
    assert "checkout" in rates and set(cpu) == DEMO_HOSTS
    in_range = (f"timestamp >= to_timestamp_millis({start * 1000}) AND timestamp <= to_timestamp_millis({end * 1000})"
                " AND severity_number BETWEEN 17 AND 24")
    (n_errors,), = osprey.sql(f"SELECT count(*) FROM logs WHERE {in_range}")
    newest = osprey.sql(f"SELECT service, body FROM logs WHERE {in_range} ORDER BY timestamp DESC LIMIT 12")
    assert n_errors > 0

    problems = watch(page)
    page.goto(osprey.http(f"/?from={start}&to={end}"))
    expect(page.get_by_test_id("home-page")).to_be_visible()

    # Services with RED: the busiest first, rates and error shares as PromQL has them.
    svc = page.get_by_test_id("home-services").get_by_test_id("home-service-row")
    expect(svc).to_have_count(min(12, len(rates)))
    for row in svc.all():
        name = row.get_attribute("data-name")
        assert cell(row, "rate") == pytest.approx(rates[name], rel=1e-9), name
        want = 100 * errors.get(name, 0.0) / rates[name]
        assert cell(row, "errorPct") == pytest.approx(want, rel=1e-9, abs=1e-12), name
        expect(row.get_by_test_id("sparkline")).to_be_visible()  # the rate's trend
    shown = [cell(r, "rate") for r in svc.all()]
    assert shown == sorted(shown, reverse=True)

    # Hosts with their USE.
    hosts = page.get_by_test_id("home-hosts").get_by_test_id("host-row")
    expect(hosts).to_have_count(3)
    for row in hosts.all():
        host = row.get_attribute("data-host")
        assert cell(row, "cpu") == pytest.approx(cpu[host], rel=1e-9), host

    # The newest error logs, as SQL over the logs table has them.
    logs = page.get_by_test_id("home-error-logs").get_by_test_id("error-log-row")
    expect(logs).to_have_count(len(newest))
    got = [(r.locator("[data-service]").get_attribute("data-service"), r.locator(".col-body").inner_text()) for r in logs.all()]
    assert sorted(got) == sorted((s, b) for s, b in newest)
    assert int(page.get_by_test_id("error-logs-count").get_attribute("data-value")) == n_errors

    # The firing alert, counted in its tile.
    alert = page.get_by_test_id("home-alerts").locator('[data-testid=alert-row][data-alertname="AlwaysFiring"]')
    expect(alert).to_have_attribute("data-state", "firing")
    expect(alert).to_contain_text("fires on every evaluation")
    expect(page.locator('[data-testid=home-tile][data-kpi="alerts"] .tile-value')).to_have_text("1")

    # Each panel links to its full view.
    for panel, path in (("home-services", "/services"), ("home-hosts", "/hosts"), ("home-error-logs", "/logs"), ("home-alerts", "/alerts")):
        href = page.get_by_test_id(panel).get_by_test_id("panel-link").get_attribute("href")
        assert href.startswith(f"{path}?") and f"from={start}" in href, (panel, href)
    both_themes(page, "home")
    page.wait_for_load_state("networkidle")
    assert problems == [], problems


def test_empty_states_say_what_is_missing(osprey: OspreyServer, page) -> None:
    problems = watch(page)
    page.goto(osprey.http("/"))
    expect(page.get_by_test_id("alerts-empty")).to_contain_text("No alerts firing")
    expect(page.get_by_test_id("alerts-empty")).to_contain_text("No alerting rules")
    assert page.get_by_test_id("rules-link").get_attribute("href").startswith("/alerts")
    expect(page.get_by_test_id("home-hosts-empty")).to_be_visible()
    expect(page.get_by_test_id("error-logs-empty")).to_be_visible()
    both_themes(page, "home-empty")

    page.goto(osprey.http("/hosts"))
    empty = page.get_by_test_id("hosts-empty")
    expect(empty).to_contain_text("node_cpu_seconds_total")
    expect(empty).to_contain_text("system_cpu_utilization_ratio")
    page.goto(osprey.http("/hosts/nowhere"))
    expect(page.get_by_test_id("hosts-empty")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert problems == [], problems
