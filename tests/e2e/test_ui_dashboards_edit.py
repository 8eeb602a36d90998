"""Editing a dashboard in the browser (issue 19, item 3): panels moved and resized on
the grid, the panel editor (PromQL in the same editor as /explore, live preview, unit,
thresholds), a new panel, the variables editor, undo, and Save as a new version with
the picker's time range — checked in the stored JSON through the API; a save from a
stale version is refused and says so."""

from __future__ import annotations

import re
import time

import requests
from playwright.sync_api import expect

from uikit import page, screenshot, watch  # noqa: F401

BOARD = {
    "title": "Edit me",
    "uid": "edit-me",
    "schemaVersion": 39,
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [{"name": "mult", "type": "custom", "query": "2,3", "current": {"text": "2", "value": "2"}}]},
    "panels": [
        {"id": 1, "type": "stat", "title": "Two", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
         "targets": [{"refId": "A", "expr": "vector($mult)", "instant": True}]},
        {"id": 2, "type": "timeseries", "title": "Line", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
         "targets": [{"refId": "A", "expr": "vector(1)"}]},
    ],
}


def _stored(osprey) -> dict:
    return osprey.get("/api/v1/dashboards/edit-me").json()["data"]


def _panel(page, pid: int):
    return page.locator(f'[data-testid=dash-panel][data-panel-id="{pid}"]').locator("xpath=..")


def _drag(page, handle, dx: float, dy: float) -> None:
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2 if box["width"] < 40 else box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()


def test_edit_move_resize_panel_editor_variables_undo_and_save(osprey, page) -> None:
    r = osprey.post("/api/v1/dashboards", json={"dashboard": BOARD})
    assert r.status_code == 200, r.text
    problems = watch(page)
    page.goto(osprey.http("/d/edit-me?from=now-30m&to=now"))
    expect(page.locator('[data-testid=dash-panel][data-panel-id="1"]')).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("stat-value")).to_have_attribute("data-value", "2")
    page.get_by_test_id("dash-edit").click()
    expect(page.get_by_test_id("dash-editbar")).to_be_visible()

    # Move panel 2 from x=12 to x=6 (half its offset); a column is (width + gap) / 24.
    grid = page.locator(".dash-grid").first.bounding_box()
    col = (grid["width"] + 8) / 24
    _drag(page, _panel(page, 2).get_by_test_id("panel-drag"), -6 * col, 0)
    # Resize panel 1 two rows taller, then undo that.
    _drag(page, _panel(page, 1).get_by_test_id("panel-resize"), 0, 2 * 38)
    page.get_by_test_id("dash-undo").click()

    # The panel editor: title, unit, a threshold, and the query run in the preview.
    _panel(page, 1).get_by_test_id("panel-edit").click()
    editor = page.get_by_test_id("panel-editor")
    editor.get_by_test_id("panel-title-input").fill("Two, edited")
    editor.get_by_test_id("panel-unit").fill("percent")
    editor.get_by_test_id("panel-unit").press("Tab")
    editor.get_by_test_id("threshold-add").click()
    expect(editor.get_by_test_id("panel-preview").get_by_test_id("stat-value")).to_contain_text("2%")
    cm = editor.locator(".cm-content")
    cm.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("vector($mult) * 10")
    editor.get_by_test_id("panel-run").click()
    expect(editor.get_by_test_id("panel-preview").get_by_test_id("stat-value")).to_have_attribute("data-value", "20")
    editor.get_by_test_id("panel-editor-apply").click()
    expect(_panel(page, 1).get_by_test_id("dash-panel-title")).to_have_text("Two, edited")

    # A new panel, its query typed in the editor.
    page.get_by_test_id("dash-add-panel").click()
    editor = page.get_by_test_id("panel-editor")
    editor.locator(".cm-content").click()
    page.keyboard.type("vector(7)")
    editor.get_by_test_id("panel-title-input").fill("Seven")
    editor.get_by_test_id("panel-run").click()
    expect(editor.get_by_test_id("panel-preview").get_by_test_id("panel-timeseries")).to_have_attribute("data-series", "1")
    editor.get_by_test_id("panel-editor-apply").click()

    # A variable added in the variables editor appears in the bar.
    page.get_by_test_id("dash-variables").click()
    ve = page.get_by_test_id("variables-editor")
    ve.get_by_test_id("variable-add").click()
    ve.get_by_test_id("variable-name").last.fill("env")
    ve.get_by_test_id("variable-type").last.select_option("custom")
    ve.get_by_test_id("variable-query").last.fill("prod,dev")
    ve.get_by_test_id("variables-apply").click()
    expect(page.get_by_test_id("var-env")).to_have_value("prod")
    screenshot(page, "dashboard-edit")

    page.get_by_test_id("dash-save-time").check()
    page.get_by_test_id("dash-save").click()
    expect(page.get_by_test_id("dash-version-current")).to_have_text("v2")
    expect(page.get_by_test_id("dash-editbar")).to_have_count(0)
    d = _stored(osprey)["dashboard"]
    by_id = {p["id"]: p for p in d["panels"]}
    assert by_id[2]["gridPos"]["x"] == 6, by_id[2]["gridPos"]
    assert by_id[1]["gridPos"]["h"] == 4, "the resize was undone"
    assert by_id[1]["title"] == "Two, edited"
    assert by_id[1]["targets"][0]["expr"] == "vector($mult) * 10"
    assert by_id[1]["fieldConfig"]["defaults"]["unit"] == "percent"
    assert len(by_id[1]["fieldConfig"]["defaults"]["thresholds"]["steps"]) == 2
    new = [p for p in d["panels"] if p["title"] == "Seven"]
    assert len(new) == 1 and new[0]["targets"][0]["expr"] == "vector(7)" and new[0]["gridPos"]["y"] == 0
    # Nothing overlaps: the new panel took the top, the others went below it.
    assert all(p["gridPos"]["y"] >= 8 for p in d["panels"] if p["title"] != "Seven"), [p["gridPos"] for p in d["panels"]]
    assert [v["name"] for v in d["templating"]["list"]] == ["mult", "env"]
    assert d["time"] == {"from": "now-30m", "to": "now"}

    # Someone else saves; a save from the old version is refused, and says so.
    stale = _stored(osprey)
    page.get_by_test_id("dash-edit").click()
    requests.put(osprey.http("/api/v1/dashboards/edit-me"), json={"version": stale["version"], "dashboard": stale["dashboard"]},
                 timeout=10).raise_for_status()
    _drag(page, _panel(page, 2).get_by_test_id("panel-drag"), 0, 38 * 2)
    page.get_by_test_id("dash-save").click()
    expect(page.get_by_test_id("dash-save-error")).to_contain_text("409")
    assert _stored(osprey)["version"] == 3
    # A panel whose query or size changed drops its load in flight (`useLoad` aborts the
    # superseded request): whether one is still in flight at that moment is timing.
    superseded = [p for p in problems
                  if p.startswith("failed: ") and "ERR_ABORTED" in p and re.search(r"/api/v1/query(_range)?[? ]", p)]
    assert [p for p in problems if p not in superseded] == [
        f"HTTP 409: {osprey.http('/api/v1/dashboards/edit-me')}",
        "console.error: Failed to load resource: the server responded with a status of 409 (Conflict)"], problems


def test_a_panel_creates_an_alerting_rule_through_the_ruler_api(osprey_factory, page, tmp_path) -> None:
    (tmp_path / "tenants").mkdir()
    osprey = osprey_factory(config='[rules]\nevaluation_interval = "1s"\ntenant_dir = "tenants"\n')
    board = {"title": "Checkout health", "uid": "health", "panels": [
        {"id": 1, "type": "stat", "title": "Queue depth", "gridPos": {"x": 0, "y": 0, "w": 8, "h": 5},
         "targets": [{"refId": "A", "expr": "vector(5)"}]}]}
    assert osprey.post("/api/v1/dashboards", json={"dashboard": board}).status_code == 200

    # The API itself: a group that does not check is refused with the reason; nothing is written.
    bad = osprey.post("/config/v1/rules/dashboards", data="name: g\nrules:\n  - alert: X\n    expr: sum(\n")
    assert bad.status_code == 400 and "X" in bad.json()["error"], bad.text
    bad = osprey.post("/config/v1/rules/..%2Fetc", data="name: g\nrules: []\n")
    assert bad.status_code in (400, 404), bad.text
    assert not any((tmp_path / "tenants").rglob("*.yml"))

    problems = watch(page)
    page.goto(osprey.http("/d/health?from=now-15m&to=now"))
    expect(page.get_by_test_id("stat-value")).to_have_attribute("data-value", "5")
    page.get_by_test_id("panel-alert").click()
    dialog = page.get_by_test_id("alert-dialog")
    expect(dialog.get_by_test_id("alert-name")).to_have_value("QueueDepth")
    dialog.get_by_test_id("alert-threshold").fill("3")
    dialog.get_by_test_id("alert-for").fill("0s")
    expect(dialog.get_by_test_id("alert-expr")).to_have_text("(vector(5)) > 3")
    screenshot(page, "dashboard-alert-dialog")
    dialog.get_by_test_id("alert-save").click()
    expect(dialog.get_by_test_id("alert-saved")).to_be_visible()

    # Written to the tenant's rules directory, loaded, and firing.
    assert (tmp_path / "tenants" / "default" / "dashboards.yml").is_file()
    groups = osprey.get("/api/v1/rules").json()["data"]["groups"]
    mine = [g for g in groups if g["name"] == "QueueDepth"]
    assert len(mine) == 1 and mine[0]["rules"][0]["query"] == "(vector(5)) > 3", groups
    from harness import wait_until
    wait_until(lambda: any(a["labels"]["alertname"] == "QueueDepth" and a["state"] == "firing"
                           for a in osprey.get("/api/v1/alerts").json()["data"]["alerts"]), timeout=20,
               message="the new rule fires")
    # Another tenant sees none of it.
    assert osprey.get("/api/v1/rules", tenant="other").json()["data"]["groups"] == []

    # Deleting the group takes the rule away.
    r = requests.delete(osprey.http("/config/v1/rules/dashboards/QueueDepth"), timeout=10)
    assert r.status_code == 202, r.text
    assert [g for g in osprey.get("/api/v1/rules").json()["data"]["groups"] if g["name"] == "QueueDepth"] == []
    assert requests.delete(osprey.http("/config/v1/rules/dashboards/QueueDepth"), timeout=10).status_code == 404
    assert problems == [], problems


def test_panel_time_options_and_vertical_compaction(osprey, page) -> None:
    board = {"title": "Shifted", "uid": "shifted", "panels": [
        {"id": 1, "type": "stat", "title": "Now", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
         "targets": [{"refId": "A", "expr": "vector(1)"}]},
        # Saved with a gap above it: Grafana draws it risen to the top.
        {"id": 2, "type": "stat", "title": "Earlier", "gridPos": {"x": 6, "y": 10, "w": 6, "h": 4},
         "timeFrom": "5m", "timeShift": "1h", "targets": [{"refId": "A", "expr": "vector(2)"}]}]}
    assert osprey.post("/api/v1/dashboards", json={"dashboard": board}).status_code == 200
    end = int(time.time()) // 60 * 60
    start = end - 3600
    page.goto(osprey.http(f"/d/shifted?from={start}&to={end}"))
    now, earlier = (page.locator(f'[data-testid=dash-panel][data-panel-id="{i}"]') for i in (1, 2))
    expect(earlier).to_have_attribute("data-state", "done")
    assert (int(earlier.get_attribute("data-start")), int(earlier.get_attribute("data-end"))) == (
        (end - 300 - 3600) * 1000, (end - 3600) * 1000)
    assert (int(now.get_attribute("data-start")), int(now.get_attribute("data-end"))) == (start * 1000, end * 1000)
    expect(earlier.get_by_test_id("panel-range")).to_have_text("Last 5m timeshift -1h")
    assert abs(earlier.bounding_box()["y"] - now.bounding_box()["y"]) < 1


def test_a_trace_search_panel_from_the_editor(osprey, osprey_bin, page) -> None:
    from uikit import demo
    demo(osprey, osprey_bin, duration="2s")
    assert osprey.post("/api/v1/dashboards", json={"dashboard": {"title": "Traces", "uid": "traces", "panels": []}}).status_code == 200
    problems = watch(page)
    page.goto(osprey.http("/d/traces?from=now-15m&to=now"))
    page.get_by_test_id("dash-edit").click()
    page.get_by_test_id("dash-add-panel").click()
    editor = page.get_by_test_id("panel-editor")
    editor.get_by_test_id("panel-type").select_option("table")
    editor.get_by_test_id("panel-ds").select_option("tempo")
    editor.get_by_test_id("trace-serviceName").fill("frontend")
    editor.get_by_test_id("panel-run").click()
    want = osprey.get("/api/v1/traces/search", params={"service": "frontend", "limit": "20"}).json()["data"]["traces"]
    assert want, "the demo sent frontend traces"
    rows = editor.get_by_test_id("panel-preview").get_by_test_id("table-row")
    expect(rows).to_have_count(len(want))
    assert {r.inner_text().split()[0] for r in rows.all()} <= {t["trace_id"][:16] for t in want}
    editor.get_by_test_id("panel-editor-apply").click()
    page.get_by_test_id("dash-save").click()
    expect(page.get_by_test_id("dash-version-current")).to_have_text("v2")
    target = osprey.get("/api/v1/dashboards/traces").json()["data"]["dashboard"]["panels"][0]["targets"][0]
    assert (target["queryType"], target["serviceName"]) == ("nativeSearch", "frontend")
    assert problems == [], problems
