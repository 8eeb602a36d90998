"""Alerting and recording rules side by side with Prometheus 2.42 (issue 15).

The same rule file is loaded by Debian's ``prometheus`` and by Osprey, and the same
live series are written into both over remote_write while a scenario plays out:
an alert that goes pending, fires after ``for``, flaps (kept firing by
``keep_firing_for``), fires again and then disappears (a staleness marker), a
steady alert with a large value in its annotation, and a recording rule another
alert reads. Both servers place the group at the same instant within its
interval (Prometheus' hash of file and group name), so they evaluate at the same
timestamps; samples are written half an interval away from those instants, so
both see the same data at every evaluation. Then ``ALERTS``,
``ALERTS_FOR_STATE`` and the recorded series are compared over the whole
scenario, and ``/api/v1/alerts`` and ``/api/v1/rules`` at checkpoints.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import requests

from harness import HTTP_TIMEOUT_S, OspreyServer, rfc3339_to_ns, wait_until
from peers import PrometheusServer
from test_remote_write import encode_write_request, snappy

INTERVAL_S = 2
STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

RULES = """\
groups:
  - name: cmp
    interval: 2s
    rules:
      - record: job:app_errors:sum
        expr: sum by (job) (app_errors)
      - alert: HighErrors
        expr: app_errors > 1
        for: 4s
        keep_firing_for: 4s
        labels:
          severity: page
          source: "{{ $labels.instance }}"
        annotations:
          summary: "{{ $labels.instance }} has {{ $value }} errors"
          short: "{{ $value | humanize }}"
      - alert: JobErrors
        expr: job:app_errors:sum > 6
        labels: {severity: warn}
        annotations: {summary: "job {{ $labels.job }} at {{ printf \\"%.1f\\" $value }}"}
"""


def write(urls: list[str], series: list[tuple[dict[str, str], float]], ts_ms: int) -> None:
    body = snappy(encode_write_request([(labels, [(v, ts_ms)]) for labels, v in series]))
    for url in urls:
        r = requests.post(
            url + "/api/v1/write",
            data=body,
            headers={
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
            },
            timeout=HTTP_TIMEOUT_S,
        )
        assert r.status_code in (200, 204), f"{url}: {r.status_code} {r.text}"


def scenario(step: int) -> list[tuple[dict[str, str], float]]:
    """The samples of step ``step`` (one per evaluation interval)."""
    a = {"__name__": "app_errors", "job": "api", "instance": "a"}
    b = {"__name__": "app_errors", "job": "api", "instance": "b"}
    # a: quiet, bad (pending, then firing), quiet for one step (kept firing), bad
    # again, quiet long enough to resolve, bad, then gone.
    a_values = [0, 0, 0, 5, 5, 5, 5, 0, 5, 5, 0, 0, 0, 0, 7, 7, 7, 7]
    out = []
    if step < len(a_values):
        out.append((a, float(a_values[step])))
    elif step == len(a_values):
        out.append((a, STALE))
    out.append((b, 1234567.0 if step >= 3 else 0.0))
    return out


def get(url: str, path: str, **params: Any) -> dict[str, Any]:
    r = requests.get(url + path, params=params, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, f"{url}{path}: {r.status_code} {r.text[:500]}"
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]


def last_evaluation_ns(url: str) -> int:
    """The wall-clock start of the group's last evaluation, in ns (0 before the first)."""
    groups = get(url, "/api/v1/rules")["groups"]
    text = groups[0]["lastEvaluation"]
    if text.startswith("0001"):
        return 0
    return rfc3339_to_ns(text)


def comparable_alerts(url: str) -> list[tuple[Any, ...]]:
    alerts = get(url, "/api/v1/alerts")["alerts"]
    return sorted(
        (
            tuple(sorted(a["labels"].items())),
            tuple(sorted(a["annotations"].items())),
            a["state"],
            a["activeAt"],
            a.get("keepFiringSince"),
            a["value"],
        )
        for a in alerts
    )


def comparable_rules(url: str) -> list[tuple[Any, ...]]:
    out = []
    for g in get(url, "/api/v1/rules")["groups"]:
        for r in g["rules"]:
            out.append(
                (
                    g["name"],
                    g["interval"],
                    r["type"],
                    r["name"],
                    r["query"],
                    r["health"],
                    r.get("state"),
                    r.get("duration"),
                    r.get("keepFiringFor"),
                    tuple(sorted(r.get("labels", {}).items())),
                    tuple(sorted(r.get("annotations", {}).items())),
                )
            )
    return out


def series_over(url: str, query: str, start: float, end: float) -> list[tuple[Any, ...]]:
    data = get(url, "/api/v1/query_range", query=query, start=f"{start:.3f}", end=f"{end:.3f}", step="0.5")
    assert data["resultType"] == "matrix", data
    return sorted((tuple(sorted(s["metric"].items())), tuple((float(t), v) for t, v in s["values"])) for s in data["result"])


def test_rules_match_prometheus(osprey_factory, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    prom = PrometheusServer(
        tmp_path,
        config="global:\n  evaluation_interval: 2s\nrule_files: [rules.yml]\n",
    )
    prom.start()
    try:
        ours: OspreyServer = osprey_factory(
            config='[rules]\nfiles = ["rules.yml"]\n[alerting]\nexternal_url = "http://osprey.example:9800"\n'
        )
        urls = [ours.http(), prom.url]
        # Both have evaluated twice (so `for` state is restored and ALERTS written).
        wait_until(lambda: last_evaluation_ns(ours.http()) and last_evaluation_ns(prom.url), timeout=20)
        phase_ours = last_evaluation_ns(ours.http()) % (INTERVAL_S * 10**9)
        phase_prom = last_evaluation_ns(prom.url) % (INTERVAL_S * 10**9)
        # Same slot within the interval (the evaluation starts a few ms after it).
        assert abs(phase_ours - phase_prom) < 200_000_000 or abs(phase_ours - phase_prom) > INTERVAL_S * 10**9 - 200_000_000, (
            phase_ours,
            phase_prom,
        )
        # Write each step's samples half an interval after a slot (an evaluation starts
        # a few ms after its slot), stamped then.
        next_write_ms = last_evaluation_ns(prom.url) // 10**6 + 3 * INTERVAL_S * 1000 + INTERVAL_S * 500
        start_s = next_write_ms / 1000 - 1
        checkpoints: list[tuple[list[Any], list[Any]]] = []
        for step in range(22):
            delay = next_write_ms / 1000 - time.time()
            if delay > 0:
                time.sleep(delay)
            write(urls, scenario(step), next_write_ms)
            if step in (5, 8, 11, 16, 21):
                # Mid-interval (after the slot's evaluation): the API answers of both.
                time.sleep(INTERVAL_S * 0.25)
                checkpoints.append((comparable_alerts(ours.http()), comparable_alerts(prom.url)))
            next_write_ms += INTERVAL_S * 1000
        time.sleep(INTERVAL_S * 1.5)
        end_s = time.time()

        for i, (o, p) in enumerate(checkpoints):
            assert o == p, f"checkpoint {i}: /api/v1/alerts differ\n osprey: {o}\n prom:   {p}"
        # The scenario did what it says: both alerts fired at some checkpoint.
        fired = {dict(a[0])["alertname"] for o, _ in checkpoints for a in o if a[2] == "firing"}
        assert fired == {"HighErrors", "JobErrors"}, fired
        assert any(a[4] for o, _ in checkpoints for a in o), "no checkpoint caught keep_firing_for"

        assert comparable_rules(ours.http()) == comparable_rules(prom.url)
        for q in ("ALERTS", "ALERTS_FOR_STATE", "job:app_errors:sum"):
            o = series_over(ours.http(), q, start_s, end_s)
            p = series_over(prom.url, q, start_s, end_s)
            assert o, f"{q}: nothing written"
            assert o == p, f"{q} differs\n osprey: {o}\n prom:   {p}"
        # The disappeared series' alert is resolved in both: no HighErrors for `a`.
        final = comparable_alerts(ours.http())
        assert not [a for a in final if ("instance", "a") in a[0]], final
    finally:
        prom.stop()


# The conditions start at a common instant (FROM, filled in when the test runs),
# after both servers have started, so both see them begin at the same evaluation.
FORWARD_RULES = """\
groups:
  - name: fwd
    interval: 2s
    rules:
      - alert: AlwaysOn
        expr: vector(3) > 1 and on() (vector(time()) > FROM)
        for: 10s
        labels: {severity: page, cluster: fromrule}
        annotations: {summary: "value {{ $value }}"}
      - alert: PerJob
        expr: label_replace(vector(1), "job", "api", "", "") and on() (vector(time()) > FROM)
        for: 8s
        labels: {severity: warn}
"""

AM_CONFIG = "route:\n  receiver: none\nreceivers:\n  - name: none\n"


def am_view(am: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (
            tuple(sorted(a["labels"].items())),
            tuple(sorted(a["annotations"].items())),
            a["startsAt"],
            a["endsAt"],
            a["generatorURL"],
            a["status"]["state"],
            a["fingerprint"],
        )
        for a in am.alerts()
    )


def test_alerts_reach_alertmanager_as_prometheus_sends_them(osprey_factory, tmp_path: Path) -> None:
    """Osprey and Prometheus each forward to their own Alertmanager 0.25; what the two
    Alertmanagers hold must be the same (labels with external labels where missing,
    annotations, startsAt, endsAt, generatorURL, fingerprint). The alerts wait out a
    `for` longer than Prometheus takes to discover its Alertmanager: Prometheus drops
    what it sends before that, and sends again only a minute later."""
    import socket

    from peers import Alertmanager

    ams = [Alertmanager(tmp_path / f"am{i}", AM_CONFIG) for i in range(2)]
    for am in ams:
        am.start()
    start_at = int(time.time()) + 20
    (tmp_path / "rules.yml").write_text(FORWARD_RULES.replace("FROM", str(start_at)))
    prom = PrometheusServer(tmp_path, config="")
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  evaluation_interval: 2s\n  external_labels: {cluster: c1, region: eu}\n"
        "rule_files: [rules.yml]\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{ams[1].port}']\n"
    )
    try:
        prom.start()
        # Prometheus' default external URL: the host name and its listen port.
        external = f"http://{socket.gethostname()}:{prom.port}"
        osprey_factory(
            config=(
                '[rules]\nfiles = ["rules.yml"]\n'
                f'[alerting]\nexternal_url = "{external}"\n'
                'external_labels = { cluster = "c1", region = "eu" }\n'
                f'alertmanagers = ["{ams[0].url}"]\n'
            )
        )
        assert time.time() < start_at, "the servers took too long to start for this test"
        wait_until(
            lambda: len(ams[0].alerts()) == 2 and len(ams[1].alerts()) == 2,
            timeout=60,
            message="alerts in both Alertmanagers",
        )
        ours, theirs = am_view(ams[0]), am_view(ams[1])
        assert ours == theirs, f"\n osprey: {ours}\n prom:   {theirs}"
        labels = dict(ours[0][0])
        assert labels["cluster"] == "fromrule" and labels["region"] == "eu", labels
        assert ours[0][4].startswith(external + "/graph?g0.expr="), ours[0][4]
    finally:
        prom.stop()
        for am in ams:
            am.stop()


def test_alert_history_records_fired_and_resolved(osprey_factory, tmp_path: Path) -> None:
    """``/api/v1/alerts/history`` gives each alert's transitions: fired when it began
    firing, resolved when it ended (with the annotations of its last evaluation)."""
    end = int(time.time()) + 8
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n"
        "      - alert: Brief\n"
        f"        expr: label_replace(vector(7), \"instance\", \"i-1\", \"\", \"\") and on() (vector(time()) < {end})\n"
        "        annotations: {summary: 'value {{ $value }}'}\n"
    )
    server = osprey_factory(config='[rules]\nfiles = ["rules.yml"]\n')

    def transitions() -> list[dict]:
        r = server.get("/api/v1/alerts/history", params={"start": str(end - 60)})
        assert r.status_code == 200, r.text
        return r.json()["data"]["transitions"]

    got = wait_until(lambda: len(transitions()) >= 2 and transitions(), timeout=30, message="fired and resolved")
    assert [t["event"] for t in got] == ["fired", "resolved"], got
    for t in got:
        assert t["rule"] == "Brief" and t["group"] == "g"
        assert t["labels"] == {"alertname": "Brief", "instance": "i-1"}
        assert t["annotations"] == {"summary": "value 7"}
    fired, resolved = (rfc3339_to_ns(t["time"]) / 1e9 for t in got)
    assert fired < end <= resolved + 1
    assert server.get("/api/v1/alerts/history", tenant="other").json()["data"]["transitions"] == []
    bad = server.get("/api/v1/alerts/history", params={"start": "yesterday"})
    assert bad.status_code == 400 and "start" in bad.json()["error"]
