"""Authentication (issue 20, item 1): with `[[auth.tokens]]` configured, every route of
every listener needs a token (401 without one, with the challenges a browser answers),
a token without the route's scope gets 403 naming it, and a token bound to tenant A
asking for tenant B gets 403; only the health probes answer without credentials. A
server facing a non-loopback address without tokens refuses to start, and tokens never
reach the log. The real clients' side is in test_auth_clients.py."""

from __future__ import annotations

import base64
import subprocess

import pytest
import requests

import authkit
from harness import HTTP_TIMEOUT_S, OspreyServer, free_ports, record_figure, wait_until

# Every route of the API port and the scope it needs (None: authenticated only).
ROUTES: list[tuple[str, str, str | None]] = [
    # ingest
    ("POST", "/api/v1/write", "ingest"),
    ("POST", "/api/v1/logs", "ingest"),
    ("POST", "/loki/api/v1/push", "ingest"),
    ("POST", "/v1/traces", "ingest"),
    ("POST", "/v1/logs", "ingest"),
    ("POST", "/v1/metrics", "ingest"),
    # reads: Prometheus, Jaeger, logs, Loki, SQL
    ("GET", "/api/v1/targets", "query"),
    ("POST", "/api/v1/sql", "query"),
    ("GET", "/api/traces", "query"),
    ("GET", "/api/dependencies", "query"),
    ("GET", "/api/metrics/latencies", "query"),
    ("GET", "/api/traces/0af7651916cd43dd8448eb211c80319c", "query"),
    ("GET", "/api/v1/traces/search", "query"),
    ("GET", "/api/v3/services", "query"),
    ("GET", "/api/v3/operations", "query"),
    ("GET", "/api/v3/traces", "query"),
    ("GET", "/api/v3/traces/0af7651916cd43dd8448eb211c80319c", "query"),
    ("GET", "/api/services", "query"),
    ("GET", "/api/operations", "query"),
    ("GET", "/api/services/x/operations", "query"),
    ("GET", "/api/v1/status/buildinfo", "query"),
    ("GET", "/api/v1/status/whoami", "query"),
    ("GET", "/api/v1/logs/search", "query"),
    ("GET", "/api/v1/logs/histogram", "query"),
    ("GET", "/api/v1/logs/fields", "query"),
    ("GET", "/api/v1/logs/tail", "query"),
    ("GET", "/api/v1/logs/patterns", "query"),
    ("GET", "/api/v1/query", "query"),
    ("POST", "/api/v1/query_range", "query"),
    ("GET", "/api/v1/query_exemplars", "query"),
    ("GET", "/api/v1/labels", "query"),
    ("GET", "/api/v1/label/job/values", "query"),
    ("POST", "/api/v1/series", "query"),
    ("GET", "/api/v1/metadata", "query"),
    ("GET", "/api/v1/no-such-endpoint", "query"),
    ("GET", "/loki/api/v1/query_range", "query"),
    ("GET", "/loki/api/v1/query", "query"),
    ("GET", "/loki/api/v1/labels", "query"),
    ("GET", "/loki/api/v1/label/job/values", "query"),
    ("GET", "/loki/api/v1/series", "query"),
    ("GET", "/loki/api/v1/tail", "query"),
    ("GET", "/loki/api/v1/index/stats", "query"),
    ("GET", "/loki/api/v1/index/volume", "query"),
    ("GET", "/loki/api/v1/index/volume_range", "query"),
    ("GET", "/loki/api/v1/detected_fields", "query"),
    ("GET", "/loki/api/v1/detected_field/level/values", "query"),
    ("GET", "/loki/api/v1/detected_labels", "query"),
    ("GET", "/loki/api/v1/patterns", "query"),
    ("GET", "/loki/api/v1/drilldown-limits", "query"),
    ("GET", "/loki/api/v1/format_query", "query"),
    ("GET", "/loki/api/v1/status/buildinfo", "query"),
    ("GET", "/api/v1/rules", "query"),
    ("GET", "/api/v1/alerts", "query"),
    ("GET", "/api/v1/alerts/history", "query"),
    # dashboards: read with query, changed with rules
    ("GET", "/api/v1/dashboards", "query"),
    ("POST", "/api/v1/dashboards", "rules"),
    ("GET", "/api/v1/dashboards/x", "query"),
    ("PUT", "/api/v1/dashboards/x", "rules"),
    ("DELETE", "/api/v1/dashboards/x", "rules"),
    ("GET", "/api/v1/dashboards/x/versions", "query"),
    ("GET", "/api/v1/dashboards/x/versions/1", "query"),
    ("POST", "/api/v1/dashboards/x/versions/1/restore", "rules"),
    # rule groups
    ("POST", "/-/reload", "rules"),
    ("POST", "/config/v1/rules/ns", "rules"),
    ("DELETE", "/config/v1/rules/ns/g", "rules"),
    # the Alertmanager API
    ("GET", "/api/v2/status", "alerts"),
    ("GET", "/api/v2/receivers", "alerts"),
    ("GET", "/api/v2/alerts", "alerts"),
    ("POST", "/api/v2/alerts", "alerts"),
    ("GET", "/api/v2/alerts/groups", "alerts"),
    ("GET", "/api/v2/silences", "alerts"),
    ("POST", "/api/v2/silences", "alerts"),
    ("GET", "/api/v2/silence/x", "alerts"),
    ("DELETE", "/api/v2/silence/x", "alerts"),
    # admin
    ("POST", "/api/v1/admin/flush", "admin"),
    ("POST", "/api/v1/admin/compact", "admin"),
    ("GET", "/api/v1/status/storage", "admin"),
    ("GET", "/metrics", "admin"),
    # the UI: any valid token
    ("GET", "/", None),
    ("GET", "/logs", None),
    ("GET", "/index.html", None),
]


def call(server: OspreyServer, method: str, path: str, headers: dict[str, str]) -> requests.Response:
    # Streams (tails) are closed as soon as their status is known.
    r = requests.request(method, server.http(path), headers=headers, data=b"", timeout=HTTP_TIMEOUT_S, stream=True)
    r.close()
    return r


@pytest.fixture(scope="module")
def toks(osprey_bin) -> dict[str, authkit.Token]:
    return authkit.tokens(osprey_bin)


@pytest.fixture
def server(osprey_factory, toks, tmp_path) -> OspreyServer:
    # A notifier, so that the Alertmanager API answers.
    (tmp_path / "alertmanager.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    return osprey_factory(config=authkit.config(toks, '[alerting]\nalertmanager_config = "alertmanager.yml"\n'))


def test_every_route_needs_a_token_with_its_scope_and_tenant(server: OspreyServer, toks) -> None:
    problems = []
    for method, path, scope in ROUTES:
        r = call(server, method, path, {})
        if r.status_code != 401 or 'Basic realm="osprey"' not in r.headers.get("WWW-Authenticate", ""):
            problems.append(f"{method} {path} without a token: {r.status_code} {r.headers.get('WWW-Authenticate')}")
        r = call(server, method, path, {"Authorization": "Bearer osp_not-a-real-token"})
        if r.status_code != 401:
            problems.append(f"{method} {path} with a wrong token: {r.status_code}")
        if scope is None:
            ok = call(server, method, path, toks["ingest-a"].bearer())
            if ok.status_code != 200:
                problems.append(f"{method} {path} with a valid token: {ok.status_code}")
            continue
        have = toks[f"{scope}-a"]
        lacking = toks[f"{authkit.SCOPES[(authkit.SCOPES.index(scope) + 1) % 5]}-a"]
        r = call(server, method, path, lacking.bearer())
        if r.status_code != 403:
            problems.append(f"{method} {path} without scope {scope}: {r.status_code}")
        r = call(server, method, path, {**have.bearer(), "X-Scope-OrgID": "team-b"})
        if r.status_code != 403:
            problems.append(f"{method} {path} as another tenant: {r.status_code}")
        r = call(server, method, path, have.bearer())
        if r.status_code in (401, 403) or r.status_code >= 500:
            problems.append(f"{method} {path} with scope {scope}: {r.status_code}")
    assert problems == [], "\n".join(problems)
    record_figure("routes checked without, with a wrong, without the scope's and another tenant's token", len(ROUTES), "routes")
    # The probes answer anyone (orchestrators send no token).
    for path in ("/healthz", "/readyz"):
        assert requests.get(server.http(path), timeout=HTTP_TIMEOUT_S).status_code == 200
    # The OTLP/HTTP port too.
    r = requests.post(server.otlp_http("/v1/logs"), data=b"", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 401, r.text


def test_refusals_name_what_is_missing(server: OspreyServer, toks) -> None:
    r = server.get("/api/v1/query?query=1")
    assert r.status_code == 401 and "missing credentials" in r.json()["error"], r.text
    assert r.json()["errorType"] == "unauthorized"
    r = server.get("/api/v1/query?query=1", headers=toks["ingest-a"].bearer())
    assert r.status_code == 403, r.text
    assert r.json()["error"] == 'forbidden: token "ingest-a" lacks the scope "query" this endpoint needs'
    r = server.get("/api/v1/query?query=1", tenant="team-b", headers=toks["query-a"].bearer())
    assert r.status_code == 403, r.text
    assert 'may not act as tenant "team-b"' in r.json()["error"] and '"team-a"' in r.json()["error"]
    # Basic auth with the token as the password (Grafana, Promtail, browsers).
    basic = base64.b64encode(f"someone:{toks['query-a'].secret}".encode()).decode()
    r = server.get("/api/v1/query?query=1", headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200, r.text


def test_a_token_writes_and_reads_only_its_tenant(server: OspreyServer, toks) -> None:
    r = server.post("/api/v1/logs?service=svc", data=b"auth probe line\n",
                    headers={**toks["ingest-a"].bearer(), "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text

    def count(tok: authkit.Token, tenant: str | None) -> int:
        headers = tok.bearer() | ({"X-Scope-OrgID": tenant} if tenant else {})
        r = requests.post(server.http("/api/v1/sql"), json={"query": "SELECT count(*) FROM logs"},
                          headers=headers, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
        return int(r.json()["rows"][0][0])

    # Without a tenant header a token acts as its first tenant: team-a.
    assert count(toks["query-a"], None) == 1
    # root acts as any tenant (default without the header).
    assert (count(toks["root"], "team-a"), count(toks["root"], "default"), count(toks["root"], None)) == (1, 0, 0)


def test_tokens_never_reach_the_log(osprey_factory, toks) -> None:
    server = osprey_factory(config=authkit.config(toks), env={"OSPREY_LOG": "debug"})
    for tok in toks.values():
        server.get("/api/v1/query?query=1", headers=tok.bearer())
    server.get("/api/v1/query?query=1", headers={"Authorization": "Bearer osp_leaked-if-logged"})
    server.stop()
    log = server.stderr_path.read_text(errors="replace") + server.stdout_path.read_text(errors="replace")
    assert "request refused" in log  # debug logging was on
    for tok in toks.values():
        assert tok.secret not in log
    assert "osp_leaked-if-logged" not in log


def test_an_exposed_server_without_tokens_refuses_to_start(osprey_bin, tmp_path) -> None:
    # Validation fails before any socket is bound, so nothing listens beyond loopback.
    (port,) = free_ports(1)
    p = subprocess.run(
        [str(osprey_bin), "serve", "--data-dir", str(tmp_path / "d"), "--http-addr", f"0.0.0.0:{port}"],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode != 0
    assert "server.http_addr" in p.stderr and "allow_unauthenticated" in p.stderr, p.stderr
    cfg = tmp_path / "exposed.toml"
    cfg.write_text(f'[server]\nhttp_addr = "0.0.0.0:{port}"\n')
    p = subprocess.run([str(osprey_bin), "config", "check", str(cfg)], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no [[auth.tokens]]" in (p.stdout + p.stderr), p.stdout + p.stderr
    cfg.write_text(f'[server]\nhttp_addr = "0.0.0.0:{port}"\nallow_unauthenticated = true\n')
    p = subprocess.run([str(osprey_bin), "config", "check", str(cfg)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_self_monitoring_scrapes_through_authentication(osprey_factory, toks) -> None:
    server = osprey_factory(config=authkit.config(toks, "[scrape]\nself_monitor = true\n"))
    query = {"query": 'up{job="osprey"}'}

    def up() -> list:
        r = requests.get(server.http("/api/v1/query"), params=query, headers=toks["query-a"].bearer() | {"X-Scope-OrgID": "team-a"},
                         timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
        r = requests.get(server.http("/api/v1/query"), params=query, headers={**toks["root"].bearer(), "X-Scope-OrgID": "default"},
                         timeout=HTTP_TIMEOUT_S)
        return [s["value"][1] for s in r.json()["data"]["result"]]

    wait_until(lambda: up() == ["1"], timeout=30, interval=0.5, message="Osprey's scrape of itself, up=1")
