"""The real clients send Osprey's tokens (issue 20, item 1): Prometheus 2.42 remote-writes
with `authorization` and scrapes Osprey's `/metrics` with an admin token; the
OpenTelemetry SDK's gRPC and HTTP exporters send `authorization` headers and fail
without them; amtool 0.25 manages silences through `--http.config.file`; Osprey's own
capture clients and demo take `--token` / `OSPREY_TOKEN`; Chromium answers the UI's
basic-auth challenge and every API call of the page then succeeds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import authkit
from harness import HTTP_TIMEOUT_S, OspreyServer, wait_until
from peers import PrometheusServer
from uikit import Requests, page, screenshot, watch  # noqa: F401

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


@pytest.fixture(scope="module")
def toks(osprey_bin) -> dict[str, authkit.Token]:
    return authkit.tokens(osprey_bin)


def count(server: OspreyServer, toks, table: str, tenant: str = "team-a") -> int:
    r = requests.post(server.http("/api/v1/sql"), json={"query": f"SELECT count(*) FROM {table}"},
                      headers={**toks["root"].bearer(), "X-Scope-OrgID": tenant}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    return int(r.json()["rows"][0][0])


def prom_values(server: OspreyServer, tok: authkit.Token, query: str) -> dict[str, str]:
    r = requests.get(server.http("/api/v1/query"), params={"query": query}, headers=tok.bearer(), timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    return {s["metric"].get("job", ""): s["value"][1] for s in r.json()["data"]["result"]}


def test_prometheus_remote_writes_and_scrapes_with_tokens(osprey_factory, toks, tmp_path: Path) -> None:
    server = osprey_factory(config=authkit.config(toks))
    target = f"127.0.0.1:{server.http_port}"
    prom = PrometheusServer(tmp_path / "prometheus", f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1m
scrape_configs:
  - job_name: osprey
    authorization: {{credentials: "{toks['admin-a'].secret}"}}
    static_configs: [{{targets: ["{target}"]}}]
  - job_name: osprey-without-token
    static_configs: [{{targets: ["{target}"]}}]
remote_write:
  - url: {server.http("/api/v1/write")}
    authorization: {{credentials: "{toks['ingest-a'].secret}"}}
    queue_config: {{batch_send_deadline: 1s}}
""")
    prom.start()
    try:
        # Prometheus' own `up` arrives in team-a (the ingest token's tenant): 1 for the
        # scrape that sent the admin token, 0 for the one that got 401.
        want = {"osprey": "1", "osprey-without-token": "0"}
        wait_until(lambda: prom_values(server, toks["query-a"], "up") == want, timeout=60, interval=0.5,
                   message="Prometheus' up series in Osprey's team-a")
        assert prom_values(server, toks["root"], "up") == {}  # nothing in default
        # Osprey's own metrics came through Prometheus too.
        assert prom_values(server, toks["query-a"], 'count(osprey_http_requests_total{job="osprey"}) > 0')
    finally:
        prom.stop()


def one_span() -> list:
    mem = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    provider.get_tracer("auth-test").start_span("authorised").end()
    return list(mem.get_finished_spans())


def test_otel_sdk_exporters_send_tokens(osprey_factory, toks) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    server = osprey_factory(config=authkit.config(toks))
    secret = toks["ingest-a"].secret
    grpc = lambda headers: GrpcExporter(endpoint=server.grpc_endpoint, insecure=True, headers=headers, timeout=10)  # noqa: E731
    http = lambda headers: HttpExporter(endpoint=server.otlp_http("/v1/traces"), headers=headers, timeout=10)  # noqa: E731
    results = {
        "grpc": grpc({"authorization": f"Bearer {secret}"}).export(one_span()),
        "http": http({"Authorization": f"Bearer {secret}"}).export(one_span()),
        "grpc without a token": grpc(None).export(one_span()),
        "http without a token": http(None).export(one_span()),
        "grpc without the scope": grpc({"authorization": f"Bearer {toks['query-a'].secret}"}).export(one_span()),
    }
    S, F = SpanExportResult.SUCCESS, SpanExportResult.FAILURE
    assert results == {
        "grpc": S, "http": S, "grpc without a token": F, "http without a token": F, "grpc without the scope": F,
    }
    wait_until(lambda: count(server, toks, "spans") == 2, timeout=10, message="two spans in team-a")
    assert count(server, toks, "spans", "default") == 0


def test_amtool_manages_silences_with_a_token(osprey_factory, toks, tmp_path: Path) -> None:
    (tmp_path / "alertmanager.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    server = osprey_factory(config=authkit.config(toks, '[alerting]\nalertmanager_config = "alertmanager.yml"\n'))
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(f"authorization:\n  credentials: {toks['alerts-a'].secret}\n")

    def amtool(*args: str, auth: bool = True) -> subprocess.CompletedProcess:
        extra = [f"--http.config.file={http_config}"] if auth else []
        return subprocess.run([AMTOOL, f"--alertmanager.url={server.http()}", *extra, *args],
                              capture_output=True, text=True, timeout=60)

    p = amtool("silence", "add", "alertname=Noisy", "-c", "deploy", "-a", "alice", "-d", "1h")
    assert p.returncode == 0, p.stdout + p.stderr
    silence_id = p.stdout.strip()
    p = amtool("silence", "query", "-q")
    assert p.returncode == 0 and p.stdout.split() == [silence_id], p.stdout + p.stderr
    p = amtool("silence", "query", "-q", auth=False)
    assert p.returncode != 0 and "401" in (p.stdout + p.stderr), p.stdout + p.stderr
    # The silence belongs to the token's tenant.
    r = requests.get(server.http("/api/v2/silences"), headers={**toks["root"].bearer(), "X-Scope-OrgID": "default"},
                     timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200 and r.json() == [], r.text


def test_capture_clients_and_demo_send_tokens(osprey_factory, osprey_bin, toks) -> None:
    server = osprey_factory(config=authkit.config(toks))
    secret = toks["ingest-a"].secret
    p = subprocess.run([str(osprey_bin), "pipe", "--service", "piped", "--endpoint", server.http(), "--token", secret],
                       input="one\ntwo\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "one\ntwo\n", p.stderr
    env = {"PATH": "/usr/bin:/bin", "OSPREY_TOKEN": secret}
    p = subprocess.run([str(osprey_bin), "run", "--service", "ran", "--endpoint", server.http(), "--", "echo", "three"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    wait_until(lambda: count(server, toks, "logs") == 3, timeout=10, message="three lines in team-a")
    p = subprocess.run([str(osprey_bin), "demo", "--endpoint", server.grpc_endpoint, "--duration", "1s", "--token", secret],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert count(server, toks, "spans") > 0
    # Without the token the demo says why it stopped.
    p = subprocess.run([str(osprey_bin), "demo", "--endpoint", server.grpc_endpoint, "--duration", "1s"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "missing credentials" in p.stderr, p.stderr


def test_the_ui_behind_basic_auth(osprey_factory, toks, page) -> None:  # noqa: F811
    server = osprey_factory(config=authkit.config(toks))
    # Without credentials the page is refused with the challenge a browser answers
    # (headless Chromium has no one to ask, so it fails the navigation).
    r = requests.get(server.http("/"), timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 401 and 'Basic realm="osprey"' in r.headers["WWW-Authenticate"]
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto(server.http("/"))
    context = page.context.browser.new_context(
        viewport={"width": 1400, "height": 900},
        http_credentials={"username": "sre", "password": toks["root"].secret},
    )
    authed = context.new_page()
    problems = watch(authed)
    reqs = Requests(authed)
    resp = authed.goto(server.http("/"))
    assert resp is not None and resp.status == 200
    authed.wait_for_selector("nav")
    reqs.settle()
    screenshot(authed, "auth-home")
    assert problems == [], problems
    context.close()
