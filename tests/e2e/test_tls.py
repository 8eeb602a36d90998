"""TLS on every listener (issue 20, item 2): with `[tls]` the API + UI port, the OTLP
HTTP port and the OTLP gRPC port speak only TLS; the OpenTelemetry SDK's gRPC and HTTP
exporters, Prometheus 2.42's remote_write, Osprey's own capture clients and demo, and
a scrape job with `scheme = "https"` connect with a CA file (or `insecure_skip_verify`)
and fail without; a renewed certificate is served without a restart, a broken one
never is; `client_ca_file` turns on client certificates."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harness import HTTP_TIMEOUT_S, OspreyServer, wait_until
from peers import PrometheusServer
from tlskit import make_cert, make_certificates

TLS = '[tls]\ncert_file = "server.pem"\nkey_file = "server.key"\n'
NAMES = "DNS:localhost,IP:127.0.0.1"


def tls_server(osprey_factory, tmp_path: Path, extra: str = "", client_cert: bool = False) -> OspreyServer:
    if not (tmp_path / "ca.pem").exists():
        make_certificates(tmp_path, NAMES)
    server = osprey_factory(config=TLS + extra, start=False)
    server.scheme, server.verify = "https", str(tmp_path / "ca.pem")
    if client_cert:
        server.client_cert = (str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    server.start()
    return server


def one_span() -> list:
    mem = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    provider.get_tracer("tls-test").start_span("over-tls").end()
    return list(mem.get_finished_spans())


def served_certificate(port: int) -> str:
    return ssl.get_server_certificate(("127.0.0.1", port))


def test_every_listener_speaks_only_tls(osprey_factory, tmp_path: Path) -> None:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    server = tls_server(osprey_factory, tmp_path)
    ca = tmp_path / "ca.pem"
    assert server.get("/api/v1/query", params={"query": "1"}).status_code == 200
    # Plain HTTP to a TLS port gets no answer; an unknown CA fails verification.
    for port in (server.http_port, server.otlp_http_port):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.http("/readyz"), timeout=5, verify=True)
    creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    grpc_exporter = GrpcExporter(endpoint=f"127.0.0.1:{server.otlp_grpc_port}", credentials=creds, insecure=False, timeout=10)
    # The exporter sets its CA on a session, which a REQUESTS_CA_BUNDLE in the
    # environment would override (requests' trust_env): the session ignores it.
    session = requests.Session()
    session.trust_env = False
    http_exporter = HttpExporter(endpoint=server.otlp_http("/v1/traces"), certificate_file=str(ca), timeout=10,
                                 session=session)
    assert grpc_exporter.export(one_span()) == SpanExportResult.SUCCESS
    assert http_exporter.export(one_span()) == SpanExportResult.SUCCESS
    wait_until(lambda: server.count("spans") == 2, timeout=10, message="two spans over TLS")
    # gRPC without TLS to the TLS port fails.
    plain = GrpcExporter(endpoint=f"127.0.0.1:{server.otlp_grpc_port}", insecure=True, timeout=3)
    assert plain.export(one_span()) == SpanExportResult.FAILURE


def test_osprey_clients_and_prometheus_speak_https(osprey_factory, osprey_bin, tmp_path: Path) -> None:
    server = tls_server(osprey_factory, tmp_path)
    ca = str(tmp_path / "ca.pem")
    pipe = [str(osprey_bin), "pipe", "--service", "piped", "--endpoint", server.http()]
    p = subprocess.run([*pipe, "--ca-file", ca], input="one\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*pipe, "--insecure-skip-verify"], input="two\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    wait_until(lambda: server.count("logs") == 2, timeout=10, message="two lines over https")
    p = subprocess.run([str(osprey_bin), "demo", "--endpoint", server.grpc_endpoint, "--duration", "1s", "--ca-file", ca],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert server.count("spans") > 0
    p = subprocess.run([str(osprey_bin), "demo", "--endpoint", server.grpc_endpoint, "--duration", "1s"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "certificate" in p.stderr.lower(), p.stderr
    p = subprocess.run([*pipe, "--ca-file", str(tmp_path / "missing.pem")], input="x\n", capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "missing.pem" in p.stderr, p.stderr

    prom = PrometheusServer(tmp_path / "prometheus", f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: tls-probe
    static_configs: [{{targets: ["127.0.0.1:1"]}}]
remote_write:
  - url: {server.http("/api/v1/write")}
    tls_config: {{ca_file: {ca}}}
    queue_config: {{batch_send_deadline: 1s}}
""")
    prom.start()
    try:
        wait_until(lambda: server.prom_query('up{job="tls-probe"}'), timeout=60, interval=0.5,
                   message="Prometheus' samples over https")
    finally:
        prom.stop()


def test_a_scrape_job_scrapes_https_targets(osprey_factory, tmp_path: Path) -> None:
    target = tls_server(osprey_factory, tmp_path)
    scraper = osprey_factory(config=f"""
[scrape]
scrape_interval = "1s"
[[scrape.jobs]]
job_name = "verified"
scheme = "https"
targets = ["127.0.0.1:{target.http_port}"]
tls_config = {{ ca_file = "{tmp_path / 'ca.pem'}" }}
[[scrape.jobs]]
job_name = "unverified"
scheme = "https"
targets = ["127.0.0.1:{target.http_port}"]
""")

    def up() -> dict[str, str]:
        return {s["metric"]["job"]: s["value"][1] for s in scraper.prom_query("up")}

    wait_until(lambda: up() == {"verified": "1", "unverified": "0"}, timeout=30, interval=0.5,
               message="the verified job up, the unverified down")
    errors = [t["lastError"] for t in scraper.get("/api/v1/targets").json()["data"]["activeTargets"] if t["lastError"]]
    assert errors and "certificate" in errors[0].lower(), errors


def test_a_renewed_certificate_is_served_without_a_restart(osprey_factory, tmp_path: Path) -> None:
    server = tls_server(osprey_factory, tmp_path)
    first = served_certificate(server.http_port)
    assert first.strip() == (tmp_path / "server.pem").read_text().strip()
    # A broken pair (the key of another certificate) is never served.
    make_cert(tmp_path, "renewed", f"subjectAltName={NAMES}\nextendedKeyUsage=serverAuth")
    shutil.copy(tmp_path / "renewed.pem", tmp_path / "server.pem")
    # The files are looked at on a handshake, at most once a second.
    wait_until(lambda: served_certificate(server.http_port) and "do not load" in server.log_tail(), timeout=10,
               interval=0.3, message="the broken pair logged")
    assert served_certificate(server.http_port) == first
    # The matching key completes the renewal.
    shutil.copy(tmp_path / "renewed.key", tmp_path / "server.key")
    renewed = (tmp_path / "renewed.pem").read_text().strip()
    wait_until(lambda: served_certificate(server.http_port).strip() == renewed, timeout=10,
               message="the renewed certificate served")
    assert server.get("/readyz").status_code == 200


def test_client_certificates_when_a_client_ca_is_set(osprey_factory, tmp_path: Path) -> None:
    server = tls_server(osprey_factory, tmp_path, 'client_ca_file = "ca.pem"\n', client_cert=True)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(server.http("/readyz"), verify=server.verify, timeout=5)
    r = requests.get(server.http("/api/v1/query"), params={"query": "1"}, verify=server.verify, timeout=HTTP_TIMEOUT_S,
                     cert=(str(tmp_path / "client.pem"), str(tmp_path / "client.key")))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("partial", [b"", b"\x16\x03\x01\x02\x00\x01"], ids=["silent", "stalled-hello"])
def test_a_stalled_handshake_is_cut_at_the_header_deadline(osprey_factory, tmp_path: Path, partial: bytes) -> None:
    """A client that opens a connection to a TLS port and never finishes its handshake
    (says nothing, or the first bytes of a ClientHello) is disconnected after
    server.header_read_timeout, not before, on every listener; the server stays up."""
    import socket
    import time

    server = tls_server(osprey_factory, tmp_path, extra='[server]\nheader_read_timeout = "1s"\n')
    for port in (server.http_port, server.otlp_http_port, server.otlp_grpc_port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        s.sendall(partial)
        assert s.recv(1) == b"", "the server answered a handshake that never finished"
        waited = time.monotonic() - started
        s.close()
        assert 0.8 <= waited <= 6, f"port {port}: closed after {waited:.1f} s (timeout 1 s)"
    assert server.get("/api/v1/query", params={"query": "1"}).status_code == 200
