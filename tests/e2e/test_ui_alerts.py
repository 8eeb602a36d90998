"""The alerting views (issue 19): `/alerts` in a real browser against the real binary
with rule files and the built-in notifier delivering to a webhook receiver. What the
page shows is checked against the API; a silence created on the page is checked at the
receiver (nothing delivered for the muted alert) and in the history."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

from playwright.sync_api import expect

from harness import wait_until
from test_notifier import Receiver
from uikit import page, screenshot, watch  # noqa: F401


def _alerts(osprey) -> dict[str, str]:
    return {a["labels"]["alertname"]: a["state"] for a in osprey.get("/api/v1/alerts").json()["data"]["alerts"]}


def _delivered(hook: Receiver, name: str) -> int:
    return sum(1 for _, body in hook.bodies for a in body["alerts"] if a["labels"]["alertname"] == name)


def test_alerts_page_shows_rules_alerts_silences_and_history(osprey_factory, page, tmp_path: Path) -> None:
    hook = Receiver()
    try:
        late = int(time.time()) + 20
        (tmp_path / "rules.yml").write_text(
            "groups:\n  - name: oncall\n    interval: 1s\n    rules:\n"
            "      - alert: DiskFull\n        expr: vector(93) > 90\n        labels: {severity: page}\n"
            "        annotations: {summary: 'disk is {{ $value }}% full'}\n"
            "      - alert: SlowBurn\n        expr: vector(1)\n        for: 10m\n"
            f"      - alert: LateAlert\n        expr: vector(1) and on() (vector(time()) > {late})\n"
            "        labels: {severity: page}\n"
            "      - record: job:up:sum\n        expr: vector(3)\n"
        )
        (tmp_path / "alertmanager.yml").write_text(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: '{hook.url}/x'\n"
        )
        osprey = osprey_factory(config='[rules]\nfiles = ["rules.yml"]\n[alerting]\nalertmanager_config = "alertmanager.yml"\n')
        wait_until(lambda: _alerts(osprey) == {"DiskFull": "firing", "SlowBurn": "pending"}, timeout=30,
                   message="DiskFull fires, SlowBurn pends")
        wait_until(lambda: _delivered(hook, "DiskFull") > 0, timeout=30, message="DiskFull reaches the receiver")

        problems = watch(page)
        page.emulate_media(color_scheme="dark")
        page.goto(osprey.http("/alerts?from=now-15m&to=now"))
        expect(page.get_by_test_id("firing-count")).to_have_text("1 firing")
        expect(page.get_by_test_id("nav-alerts-firing")).to_have_text("1")
        rows = page.get_by_test_id("alerts-row")
        expect(rows).to_have_count(2)
        assert rows.evaluate_all("rs => rs.map(r => [r.dataset.alertname, r.dataset.state])") == [
            ["DiskFull", "firing"], ["SlowBurn", "pending"]]
        disk = page.locator('[data-testid=alerts-row][data-alertname="DiskFull"]')
        disk.locator("button.alert-name").click()
        expect(page.get_by_test_id("alert-annotations")).to_contain_text("disk is 93% full")
        # A threshold rule opens in Metrics as its two sides, so the crossing shows.
        graph = disk.get_by_test_id("explore-link")
        href = graph.get_attribute("href") or ""
        assert graph.get_attribute("data-split") == "1", href
        assert urllib.parse.parse_qs(urllib.parse.urlparse(href).query)["q"] == ["vector(93)", "90"], href
        screenshot(page, "alerts-dark")
        graph.click()
        expect(page.get_by_test_id("query-row")).to_have_count(2)
        expect(page.get_by_test_id("explore-legend")).to_be_visible()
        screenshot(page, "alerts-threshold-graph-dark")
        page.go_back()
        expect(rows).to_have_count(2)

        # A silence for the alert that has not fired yet, from the Silences tab.
        page.get_by_test_id("tab-silences").click()
        page.get_by_test_id("new-silence").click()
        editor = page.get_by_test_id("silence-editor")
        editor.get_by_label("Value").first.fill("LateAlert")
        editor.get_by_test_id("silence-author").fill("oncall-ui")
        editor.get_by_test_id("silence-comment").fill("deploying the fix")
        editor.get_by_test_id("silence-save").click()
        expect(editor).to_be_hidden()
        srow = page.get_by_test_id("silence-row")
        expect(srow).to_have_count(1)
        expect(srow.first).to_have_attribute("data-state", "active")
        [sil] = osprey.get("/api/v2/silences").json()
        assert sil["createdBy"] == "oncall-ui" and sil["comment"] == "deploying the fix"
        assert sil["matchers"] == [{"name": "alertname", "value": "LateAlert", "isRegex": False, "isEqual": True}]

        # LateAlert fires, silenced: the page marks it, the receiver never hears of it.
        wait_until(lambda: _alerts(osprey).get("LateAlert") == "firing", timeout=40, message="LateAlert fires")
        page.get_by_test_id("tab-alerts").click()
        page.get_by_test_id("refresh-now").click()
        late_row = page.locator('[data-testid=alerts-row][data-alertname="LateAlert"]')
        expect(late_row).to_have_attribute("data-silenced", "1", timeout=15000)
        expect(late_row.get_by_test_id("mark-silenced")).to_be_visible()
        time.sleep(5)  # group_wait + two group intervals: a delivery would have happened
        assert _delivered(hook, "LateAlert") == 0

        # Silence DiskFull from its row: the editor is prefilled with its labels.
        disk.get_by_test_id("silence-alert").click()
        rows_m = editor.get_by_test_id("matcher-row")
        expect(rows_m).to_have_count(2)
        names = [r.get_by_label("Label name").input_value() for r in rows_m.all()]
        assert sorted(names) == ["alertname", "severity"]
        expect(editor.get_by_test_id("silence-preview")).to_contain_text("Mutes 1 alert firing now: DiskFull")
        screenshot(page, "alerts-silence-editor-dark")
        editor.get_by_test_id("silence-author").fill("oncall-ui")
        editor.get_by_test_id("silence-comment").fill("known, ticket 42")
        editor.get_by_test_id("silence-save").click()
        expect(disk).to_have_attribute("data-silenced", "1", timeout=15000)

        # Edit the comment, then expire the first silence.
        page.get_by_test_id("tab-silences").click()
        expect(srow).to_have_count(2)
        first = page.locator('[data-testid=silence-row]', has_text="deploying the fix")
        sid = first.get_attribute("data-id")
        first.get_by_test_id("silence-edit").click()
        editor.get_by_test_id("silence-comment").fill("deploying the fix, take 2")
        editor.get_by_test_id("silence-save").click()
        expect(page.locator('[data-testid=silence-row]', has_text="take 2")).to_have_attribute("data-id", sid or "")
        page.locator('[data-testid=silence-row]', has_text="take 2").get_by_test_id("silence-expire").click()
        expect(page.locator(f'[data-testid=silence-row][data-id="{sid}"]')).to_have_attribute("data-state", "expired")
        assert {s["id"]: s["status"]["state"] for s in osprey.get("/api/v2/silences").json()}[sid] == "expired"
        # Unsilenced, LateAlert now reaches the receiver.
        wait_until(lambda: _delivered(hook, "LateAlert") > 0, timeout=20, message="LateAlert delivered once unsilenced")

        # Rules: every rule with its state and health.
        page.get_by_test_id("tab-rules").click()
        rules = page.get_by_test_id("rule-row")
        expect(rules).to_have_count(4)
        api = {r["name"]: r for g in osprey.get("/api/v1/rules").json()["data"]["groups"] for r in g["rules"]}
        for r in rules.all():
            name = r.get_attribute("data-rule") or ""
            assert r.get_attribute("data-health") == api[name]["health"] == "ok", name
            assert r.get_attribute("data-state") == api[name].get("state", "recording"), name
        page.emulate_media(color_scheme="light")
        screenshot(page, "alerts-rules-light")

        # History: DiskFull fired and was notified; LateAlert's delivery came after its silence.
        page.get_by_test_id("tab-history").click()
        page.get_by_test_id("refresh-now").click()
        expect(page.locator('[data-testid=transition-row][data-alertname="DiskFull"][data-event="fired"]')).to_have_count(1)
        notified = page.locator('[data-testid=notification-row][data-outcome="notified"]')
        expect(notified.locator('[data-testid=notified-alert][data-alertname="DiskFull"]').first).to_be_visible()
        expect(notified.locator('[data-testid=notified-alert][data-alertname="LateAlert"]').first).to_be_visible()
        page.get_by_placeholder("Filter by alert name").fill("Late")
        expect(page.locator('[data-testid=transition-row][data-alertname="DiskFull"]')).to_have_count(0)
        screenshot(page, "alerts-history-light")
        assert problems == [], problems
    finally:
        hook.stop()
