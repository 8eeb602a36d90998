"""`osprey demo` against a real server: the standard data set arrives intact.

The demo reports what it sent; every span and log record it counted must be
stored exactly once, with the shop's shape (10 services, fan-out, logs
correlated to traces, RED and USE metrics under Prometheus names).
"""

from __future__ import annotations

import re
import subprocess

from harness import OspreyServer


def run_demo(osprey: OspreyServer, osprey_bin, *args: str) -> dict[str, int]:
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(
        r"sent (\d+) traces \((\d+) spans\), (\d+) log records, (\d+) metric points", proc.stdout
    )
    assert m, proc.stdout
    traces, spans, logs, points = map(int, m.groups())
    return {"traces": traces, "spans": spans, "logs": logs, "points": points}


def test_demo_data_set(osprey: OspreyServer, osprey_bin) -> None:
    sent = run_demo(osprey, osprey_bin, "--duration", "2500ms", "--rate", "15", "--seed", "7")
    assert sent["traces"] == 45  # ticks at 0 s, 1 s, 2 s
    assert osprey.count("spans") == sent["spans"]
    assert osprey.count("logs") == sent["logs"]
    assert osprey.count("spans", "parent_span_id = ''") == sent["traces"]

    services = osprey.get("/api/services").json()["data"]
    assert len(services) == 10, services
    assert {"frontend", "checkout", "payment", "cart", "catalog"} <= set(services)

    # Fan-out: the biggest trace spans several services and many spans.
    (n_spans, n_services), = osprey.sql(
        "SELECT count(*), count(DISTINCT service) FROM spans GROUP BY trace_id ORDER BY 1 DESC LIMIT 1"
    )
    assert n_spans >= 10 and n_services >= 4

    # Every log line is correlated to a span of the same trace.
    (orphans,), = osprey.sql(
        "SELECT count(*) FROM logs l LEFT JOIN spans s ON l.span_id = s.span_id AND l.trace_id = s.trace_id "
        "WHERE s.span_id IS NULL"
    )
    assert orphans == 0
    # Both JSON and plain-text bodies.
    (json_bodies,), = osprey.sql("SELECT count(*) FROM logs WHERE body LIKE '{%'")
    assert 0 < json_bodies < sent["logs"]

    # RED metrics under Prometheus' names, USE gauges for three hosts.
    assert osprey.count("metrics") > 0
    frontend = osprey.prom_query('http_server_requests_total{job="frontend"}')
    assert frontend and all(float(s["value"][1]) > 0 for s in frontend)
    inf = osprey.prom_query('http_server_request_duration_seconds_bucket{le="+Inf",job="checkout"}')
    assert inf, "checkout latency histogram missing"
    cpu = osprey.prom_query('system_cpu_utilization_ratio{cpu_state="user"}')
    assert sorted(s["metric"]["instance"] for s in cpu) == ["host-a", "host-b", "host-c"]

    # The trace of the first root span is complete in the Jaeger API.
    (trace_id, expected), = osprey.sql(
        "SELECT trace_id, count(*) FROM spans GROUP BY trace_id ORDER BY trace_id LIMIT 1"
    )
    trace = osprey.get(f"/api/traces/{trace_id}").json()["data"][0]
    assert len(trace["spans"]) == expected


def test_ui_is_served(osprey: OspreyServer) -> None:
    r = osprey.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Osprey" in r.text
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', r.text)
    assert scripts, r.text
    js = osprey.get(scripts[0])
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert osprey.get("/assets/does-not-exist.js").status_code == 404


def test_jaeger_operations_and_prometheus_buildinfo(osprey: OspreyServer, osprey_bin) -> None:
    """What Grafana's Jaeger and Prometheus data sources call when they are set up."""
    run_demo(osprey, osprey_bin, "--duration", "1500ms", "--rate", "10", "--seed", "5")
    r = osprey.get("/api/services/payment/operations")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = [row[0] for row in osprey.sql(
        "SELECT DISTINCT name FROM spans WHERE service = 'payment' ORDER BY name"
    )]
    assert body["data"] == expected and expected, body
    assert body["total"] == len(expected) and body["errors"] is None
    assert osprey.get("/api/services/nope/operations").json()["data"] == []
    info = osprey.get("/api/v1/status/buildinfo").json()
    assert info["status"] == "success"
    assert info["data"]["version"].startswith("2.")
