"""The built-in notifier side by side with Alertmanager 0.25 (issue 15).

The same alertmanager.yml runs in a real Alertmanager, fed by Prometheus 2.42
evaluating a rule file, and in Osprey, evaluating the same rule file. A local
webhook receiver records what each delivers; the notifications must be the same
(receiver, status, group key, group, common labels and annotations, the alerts
with their labels, annotations, startsAt, endsAt, generatorURL and
fingerprints, truncation), and inhibition must keep the same alerts out. A
receiver that fails at first gets the notification once it recovers, and the
history says so.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from tlskit import make_certificates
from harness import free_ports, wait_until
from peers import Alertmanager, PrometheusServer

RULES = """\
groups:
  - name: notify
    interval: 2s
    rules:
      - alert: DiskFull
        expr: label_replace(vector(97), "instance", "db-1", "", "") and on() (vector(time()) > FROM)
        for: 8s
        labels: {severity: page, team: db}
        annotations: {summary: "{{ $labels.instance }} disk {{ $value }}% full"}
      - alert: SlowQueries
        expr: (label_replace(vector(3), "instance", "db-1", "", "") or label_replace(vector(5), "instance", "db-2", "", "")) and on() (vector(time()) > FROM)
        for: 8s
        labels: {severity: warn, team: db}
        annotations: {summary: "{{ $labels.instance }} slow"}
      - alert: Other
        expr: label_replace(vector(1), "instance", "web-1", "", "") and on() (vector(time()) > FROM)
        for: 8s
        labels: {severity: warn, team: web}
"""


def am_config(hook: str) -> str:
    return f"""\
route:
  receiver: default
  group_by: [team]
  group_wait: 1s
  group_interval: 30s
  routes:
    - matchers: ['team="db"']
      receiver: db-hook
      group_by: [team, severity]
inhibit_rules:
  - source_matchers: [severity="page"]
    target_matchers: [severity="warn"]
    equal: [instance]
receivers:
  - name: default
    webhook_configs: [{{url: '{hook}/default'}}]
  - name: db-hook
    webhook_configs: [{{url: '{hook}/db', max_alerts: 5}}]
"""


class Receiver:
    """Records webhook bodies by path; answers 500 to the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.fail_first = fail_first
        self.posts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                outer.posts += 1
                if outer.posts <= outer.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"not yet")
                    return
                outer.bodies.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_ports(1)[0]
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def by_prefix(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(p[len(prefix):], b) for p, b in self.bodies if p.startswith(prefix)]

    def stop(self) -> None:
        self.server.shutdown()


@contextmanager
def side_by_side(osprey_factory, tmp_path: Path, hook: Receiver, am_yml: Callable[[str], str]) -> Iterator[None]:
    """Prometheus 2.42 evaluating ``rules.yml`` and sending to a real Alertmanager
    configured by ``am_yml(hook/am)``, and Osprey evaluating the same file with its
    notifier configured by ``am_yml(hook/osprey)``; both generator URLs alike."""
    prom = PrometheusServer(tmp_path, config="")
    am = None
    try:
        prom.start()
        external = f"http://{socket.gethostname()}:{prom.port}"
        am = Alertmanager(tmp_path / "am", am_yml(hook.url + "/am"), external_url=external)
        am.start()
        (tmp_path / "prometheus.yml").write_text(
            "global:\n  evaluation_interval: 2s\nrule_files: [rules.yml]\n"
            f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am.port}']\n"
        )
        prom.stop()
        prom.start()
        (tmp_path / "alertmanager.yml").write_text(am_yml(hook.url + "/osprey"))
        osprey_factory(
            config=(
                '[rules]\nfiles = ["rules.yml"]\n'
                f'[alerting]\nexternal_url = "{external}"\nalertmanager_config = "alertmanager.yml"\n'
            )
        )
        yield
    finally:
        prom.stop()
        if am:
            am.stop()


def test_notifications_match_alertmanager(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver()
    # The conditions begin at one instant after both servers started (so both see them
    # begin at the same evaluation, whatever their start times).
    start_at = int(time.time()) + 20
    (tmp_path / "rules.yml").write_text(RULES.replace("FROM", str(start_at)))
    try:
        with side_by_side(osprey_factory, tmp_path, hook, am_config):
            def first_per_group(prefix: str) -> dict[str, str]:
                out: dict[str, str] = {}
                for path, body in hook.by_prefix(prefix):
                    out.setdefault(f"{path} {body['groupKey']}", json.dumps(body, sort_keys=True))
                return out

            wait_until(
                lambda: len(first_per_group("/am")) >= 3 and len(first_per_group("/osprey")) >= 3,
                timeout=70,
                message="first notifications of three groups from both",
            )
            ours, theirs = first_per_group("/osprey"), first_per_group("/am")
            assert ours == theirs, f"\n osprey: {ours}\n alertmanager: {theirs}"
            warn = [json.loads(b) for k, b in ours.items() if k.startswith("/db ") and "warn" in k]
            # db-1's slow queries are inhibited by its full disk; db-2's are not.
            assert [a["labels"]["instance"] for a in warn[0]["alerts"]] == ["db-2"], warn
    finally:
        hook.stop()


def test_a_failing_receiver_gets_the_notification_once_it_recovers(osprey_factory, tmp_path: Path) -> None:
    hook = Receiver(fail_first=2)
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Now\n        expr: vector(1)\n"
    )
    (tmp_path / "alertmanager.yml").write_text(
        f"route:\n  receiver: hook\n  group_wait: 1s\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url}/x'}}]\n"
    )
    try:
        server = osprey_factory(config='[rules]\nfiles = ["rules.yml"]\n[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        wait_until(lambda: hook.bodies, timeout=30, message="the notification after the failures")
        assert hook.posts >= 3
        body = hook.bodies[0][1]
        assert body["status"] == "firing" and body["alerts"][0]["labels"]["alertname"] == "Now", body
        history = wait_until(
            lambda: server.get("/api/v1/alerts/history").json()["data"]["notifications"], timeout=10
        )
        assert history[0]["outcome"] == "notified" and history[0]["attempts"] >= 3, history
    finally:
        hook.stop()


def test_state_survives_a_restart_without_a_second_page(osprey_factory, tmp_path: Path) -> None:
    """Killed while one alert fires (already notified) and another is pending: after
    the restart the firing one is still firing from the same moment and nobody is paged
    again; the pending one keeps its `for` progress."""
    hook = Receiver()
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n"
        "      - alert: Firing\n        expr: vector(1)\n        for: 2s\n"
        "      - alert: Pending\n        expr: vector(1)\n        for: 40s\n"
    )
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{hook.url}/x'}}]\n"
    )

    def alerts(server: Any) -> dict[str, dict[str, Any]]:
        return {a["labels"]["alertname"]: a for a in server.get("/api/v1/alerts").json()["data"]["alerts"]}

    try:
        server = osprey_factory(config='[rules]\nfiles = ["rules.yml"]\n[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        wait_until(lambda: hook.bodies, timeout=20, message="the first page")
        before = alerts(server)
        assert before["Firing"]["state"] == "firing" and before["Pending"]["state"] == "pending", before
        starts = hook.bodies[0][1]["alerts"][0]["startsAt"]
        # Counted once the delivery is recorded (just after the receiver answered).
        metrics = wait_until(
            lambda: (m := server.get("/metrics").text) and "osprey_notifier_notifications_total 1" in m and m,
            timeout=10,
            message="the delivery counted",
        )
        assert "osprey_rule_evaluations_total 0" not in metrics and "osprey_rule_evaluations_total" in metrics
        server.restart(kill=True)
        after = wait_until(lambda: len(alerts(server)) == 2 and alerts(server), timeout=15)
        assert after["Firing"]["state"] == "firing", after
        assert after["Firing"]["activeAt"] == before["Firing"]["activeAt"]
        assert after["Pending"]["state"] == "pending"
        assert after["Pending"]["activeAt"] == before["Pending"]["activeAt"]
        time.sleep(6)  # group_wait and two group intervals of the new groups
        assert len(hook.bodies) == 1, [b for _, b in hook.bodies]
        assert hook.bodies[0][1]["alerts"][0]["startsAt"] == starts
    finally:
        hook.stop()


def chat_config(hook: str) -> str:
    return f"""\
global:
  slack_api_url: '{hook}/slack'
route:
  receiver: chat
  group_by: [alertname]
  group_wait: 1s
  group_interval: 30s
receivers:
  - name: chat
    slack_configs: [{{channel: '#ops'}}]
    pagerduty_configs: [{{routing_key: rk123, url: '{hook}/pd'}}]
"""


def test_slack_and_pagerduty_messages_match_alertmanager(osprey_factory, tmp_path: Path) -> None:
    """Alertmanager's default Slack message and PagerDuty event (Events API v2) for the
    same group, from a real Alertmanager fed by Prometheus and from Osprey."""
    hook = Receiver()
    start_at = int(time.time()) + 20
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: chat\n    interval: 2s\n    rules:\n"
        "      - alert: ChatAlert\n"
        "        expr: (label_replace(vector(1), \"instance\", \"db-1\", \"\", \"\") or label_replace(vector(2), \"instance\", \"db-2\", \"\", \"\"))"
        f" and on() (vector(time()) > {start_at})\n"
        "        for: 8s\n        labels: {severity: page, team: db}\n        annotations: {summary: '{{ $labels.instance }} down'}\n"
    )
    try:
        with side_by_side(osprey_factory, tmp_path, hook, chat_config):
            wait_until(
                lambda: len(hook.by_prefix("/am")) >= 2 and len(hook.by_prefix("/osprey")) >= 2,
                timeout=70,
                message="Slack and PagerDuty messages from both",
            )
            ours = sorted((p, json.dumps(b, sort_keys=True)) for p, b in hook.by_prefix("/osprey")[:2])
            theirs = sorted((p, json.dumps(b, sort_keys=True)) for p, b in hook.by_prefix("/am")[:2])
            assert [p for p, _ in ours] == ["/pd", "/slack"], ours
            assert ours == theirs, f"\n osprey: {ours}\n alertmanager: {theirs}"
    finally:
        hook.stop()


def time_interval_config(hook: str, sydney_days: list[str]) -> str:
    routes = "".join(
        f"    - matchers: ['route=\"{name}\"']\n      receiver: {name}\n      {field}: [{interval}]\n"
        for name, field, interval in [
            ("muted", "mute_time_intervals", "always"),
            ("inactive", "active_time_intervals", "never"),
            ("active", "active_time_intervals", "always"),
            ("unmuted", "mute_time_intervals", "never"),
            ("sydney", "active_time_intervals", "sydney-today"),
            ("night", "mute_time_intervals", "whole-day"),
        ]
    )
    receivers = "".join(
        f"  - name: {n}\n    webhook_configs: [{{url: '{hook}/{n}'}}]\n"
        for n in ["plain", "muted", "inactive", "active", "unmuted", "sydney", "night"]
    )
    return (
        "time_intervals:\n"
        "  - name: always\n    time_intervals: [{weekdays: ['sunday:saturday']}]\n"
        "  - name: never\n    time_intervals: [{years: ['1999'], months: ['january:march']}]\n"
        f"  - name: sydney-today\n    time_intervals: [{{weekdays: {sydney_days}, location: Australia/Sydney}}]\n"
        "mute_time_intervals:\n"
        "  - name: whole-day\n    time_intervals: [{times: [{start_time: '00:00', end_time: '24:00'}], days_of_month: ['1:31']}]\n"
        "route:\n  receiver: plain\n  group_by: [alertname]\n  group_wait: 1s\n  routes:\n"
        + routes
        + "receivers:\n"
        + receivers
    )


def test_time_intervals_mute_and_activate_routes_as_alertmanager(osprey_factory, tmp_path: Path) -> None:
    """The same alerts posted to Alertmanager and to Osprey (API v2): routes muted by a
    mute interval that covers now, or outside all of their active intervals, send
    nothing; the others deliver; both agree receiver by receiver."""
    now = datetime.now(ZoneInfo("Australia/Sydney"))
    # Today and tomorrow there: a run across midnight in Sydney still matches.
    days = [d.strftime("%A").lower() for d in (now, now + timedelta(days=1))]
    hook = Receiver()
    am = Alertmanager(tmp_path / "am", time_interval_config(hook.url + "/am", days))
    try:
        am.start()
        (tmp_path / "alertmanager.yml").write_text(time_interval_config(hook.url + "/osprey", days))
        server = osprey_factory(config='[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        names = ["muted", "inactive", "active", "unmuted", "sydney", "night", "plain"]
        alerts = [{"labels": {"alertname": f"A-{n}", "route": n}} for n in names]
        r = requests.post(am.url + "/api/v2/alerts", json=alerts, timeout=10)
        assert r.status_code == 200, r.text
        r = server.post("/api/v2/alerts", json=alerts)
        assert r.status_code == 200, r.text

        def receivers(prefix: str) -> set[str]:
            return {path.lstrip("/") for path, _ in hook.by_prefix(prefix)}

        expected = {"active", "unmuted", "sydney", "plain"}
        wait_until(lambda: receivers("/am") >= expected and receivers("/osprey") >= expected,
                   timeout=30, message="the deliveries of the routes not muted")
        # Muted groups would have flushed with the others (group_wait 1s): give them time.
        time.sleep(3)
        assert receivers("/am") == expected
        assert receivers("/osprey") == expected
    finally:
        am.stop()
        hook.stop()


def test_the_notifier_configuration_reloads_on_sighup_and_reload(osprey_factory, tmp_path: Path) -> None:
    """A changed alertmanager.yml takes over on ``POST /-/reload`` and on SIGHUP, as
    Alertmanager reloads: the alerts are regrouped under the new routes; a file that
    does not load is refused with its problem and the configuration in force stays."""
    import signal

    hook = Receiver()

    # Each stage names its receiver anew: the notification log is kept per group and
    # receiver, so the same receiver would not be paged again before its repeat interval.
    def config(receiver: str) -> str:
        return (
            f"route:\n  receiver: {receiver}\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n"
            f"receivers:\n  - name: {receiver}\n    webhook_configs: [{{url: '{hook.url}/{receiver}'}}]\n"
        )

    am_file = tmp_path / "alertmanager.yml"
    am_file.write_text(config("first"))
    try:
        server = osprey_factory(config='[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        # Alerts posted without an end last resolve_timeout (5m): the test's whole span.
        assert server.post("/api/v2/alerts", json=[{"labels": {"alertname": "Up"}}]).status_code == 200
        wait_until(lambda: hook.by_prefix("/first"), timeout=20, message="the first receiver's page")

        am_file.write_text(config("second"))
        r = server.post("/-/reload")
        assert r.status_code == 200, r.text
        wait_until(lambda: hook.by_prefix("/second"), timeout=20, message="the page under the reloaded routes")
        assert server.get("/api/v2/status").json()["config"]["original"] == config("second")

        am_file.write_text(config("third").replace("group_wait: 1s", "group_wait: soon"))
        r = server.post("/-/reload")
        assert r.status_code == 500 and "alertmanager_config" in r.text and "group_wait" in r.text, r.text
        assert server.get("/api/v2/status").json()["config"]["original"] == config("second")

        am_file.write_text(config("fourth"))
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: hook.by_prefix("/fourth"), timeout=20, message="the page after SIGHUP")
        assert not hook.by_prefix("/third")
    finally:
        hook.stop()


def test_webhooks_over_tls_verify_as_configured(osprey_factory, tmp_path: Path) -> None:
    """``http_config.tls_config``: a CA file and a server name verify a receiver's
    certificate; ``insecure_skip_verify`` skips the check; a client certificate passes a
    receiver that asks for one; without the CA the delivery fails and says why."""
    make_certificates(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    mutual_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    mutual_tls.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    mutual_tls.verify_mode = ssl.CERT_REQUIRED
    mutual_tls.load_verify_locations(tmp_path / "ca.pem")
    hook, mtls = Receiver(tls=server_tls), Receiver(tls=mutual_tls)
    receivers = {
        "verified": f"{{url: '{hook.url}/verified', http_config: {{tls_config: {{ca_file: ca.pem, server_name: hook.test}}}}}}",
        "insecure": f"{{url: '{hook.url}/insecure', http_config: {{tls_config: {{insecure_skip_verify: true}}}}}}",
        "unverified": f"{{url: '{hook.url}/unverified'}}",
        "mutual": f"{{url: '{mtls.url}/mutual', http_config: {{tls_config: {{ca_file: ca.pem, server_name: hook.test, cert_file: client.pem, key_file: client.key}}}}}}",
    }
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: verified\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  routes:\n"
        + "".join(f"    - {{matchers: ['to=\"{n}\"'], receiver: {n}}}\n" for n in receivers)
        + "receivers:\n"
        + "".join(f"  - name: {n}\n    webhook_configs: [{w}]\n" for n, w in receivers.items())
    )
    try:
        server = osprey_factory(config='[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        alerts = [{"labels": {"alertname": f"A-{n}", "to": n}} for n in receivers]
        assert server.post("/api/v2/alerts", json=alerts).status_code == 200
        wait_until(lambda: hook.by_prefix("/verified") and hook.by_prefix("/insecure") and mtls.by_prefix("/mutual"),
                   timeout=30, message="deliveries over TLS")

        def failed() -> list[dict[str, Any]]:
            history = server.get("/api/v1/alerts/history").json()["data"]["notifications"]
            return [h for h in history if h["receiver"] == "unverified" and h["outcome"] == "failed"]

        failure = wait_until(failed, timeout=40, message="the unverified receiver's failure")[0]
        assert "certificate" in failure["error"].lower(), failure
        assert not hook.by_prefix("/unverified")
        # A CA file that does not exist fails the check of the file, as Alertmanager's.
        (tmp_path / "bad.yml").write_text(
            "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: 'https://x/', http_config: {tls_config: {ca_file: nope.pem}}}]\n"
        )
        (tmp_path / "osprey-bad.toml").write_text('[alerting]\nalertmanager_config = "bad.yml"\n')
        check = subprocess.run([str(server.binary), "config", "check", str(tmp_path / "osprey-bad.toml")],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 1, check
        assert "unable to load specified CA cert" in check.stdout and "nope.pem" in check.stdout, check
    finally:
        hook.stop()
        mtls.stop()


def test_the_end_of_a_silence_does_not_page_again_as_in_alertmanager(osprey_factory, tmp_path: Path) -> None:
    """An alert notified, then silenced for a few group intervals, then unsilenced: like
    Alertmanager, Osprey does not page again before the repeat interval (the silenced
    flushes leave the notification log alone)."""
    from datetime import timezone

    hook = Receiver()

    def config(prefix: str) -> str:
        return (
            "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: r\n    webhook_configs: [{{url: '{hook.url}/{prefix}'}}]\n"
        )

    am = Alertmanager(tmp_path / "am", config("am"))
    try:
        am.start()
        (tmp_path / "alertmanager.yml").write_text(config("osprey"))
        server = osprey_factory(config='[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        alert = [{"labels": {"alertname": "S", "instance": "i-1"}}]
        ours = lambda path, **kw: server.post(path, **kw)  # noqa: E731
        theirs = lambda path, **kw: requests.post(am.url + path, timeout=10, **kw)  # noqa: E731
        for post in (ours, theirs):
            assert post("/api/v2/alerts", json=alert).status_code == 200
        wait_until(lambda: hook.by_prefix("/am") and hook.by_prefix("/osprey"), timeout=20, message="first pages")
        now = datetime.now(timezone.utc)
        silence = {
            "matchers": [{"name": "alertname", "value": "S", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "e2e", "comment": "maintenance",
        }
        ids = []
        for post in (ours, theirs):
            r = post("/api/v2/silences", json=silence)
            assert r.status_code == 200, r.text
            ids.append(r.json()["silenceID"])
        # Several flushes happen while the alert is silenced (the alert is re-posted as
        # Prometheus would, so it stays active).
        for _ in range(4):
            time.sleep(1)
            for post in (ours, theirs):
                post("/api/v2/alerts", json=alert)
        assert requests.delete(server.http(f"/api/v2/silence/{ids[0]}"), timeout=10).status_code == 200
        assert requests.delete(f"{am.url}/api/v2/silence/{ids[1]}", timeout=10).status_code == 200
        for _ in range(5):
            time.sleep(1)
            for post in (ours, theirs):
                post("/api/v2/alerts", json=alert)
        assert len(hook.by_prefix("/am")) == 1, hook.by_prefix("/am")
        assert len(hook.by_prefix("/osprey")) == 1, hook.by_prefix("/osprey")
    finally:
        am.stop()
        hook.stop()
