"""The UI signed in with a token (issue 20, item 3): the tenant field says which tenant
the token acts as when the URL names none (not "default"), names the token, offers the
token's other tenants, and the views show that tenant's data only. Checked against
`/api/v1/status/whoami` and the log search API with the same token."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

import authkit
from harness import HTTP_TIMEOUT_S, OspreyServer
from uikit import ARGS, CHROMIUM, SCREENSHOTS, screenshot, watch

import requests


@pytest.fixture
def server(osprey_factory, osprey_bin) -> tuple[OspreyServer, authkit.Token, authkit.Token]:
    ui = authkit.create(osprey_bin, "ui-team-b", ["team-b", "team-c"], ["query"])
    writer = authkit.create(osprey_bin, "writer", ["*"], ["ingest"])
    return osprey_factory(config=authkit.config({"ui": ui, "writer": writer})), ui, writer


def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def push_line(server: OspreyServer, writer: authkit.Token, tenant: str, line: str) -> None:
    r = server.post("/api/v1/logs?service=tenant-probe", data=line.encode() + b"\n",
                    headers={**writer.bearer(), "X-Scope-OrgID": tenant, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text


def test_the_tenant_field_shows_the_tokens_tenant(server) -> None:
    osprey, ui, writer = server
    push_line(osprey, writer, "team-b", "line of team b")
    push_line(osprey, writer, "team-c", "line of team c")
    push_line(osprey, writer, "default", "line of the default tenant")
    me = requests.get(osprey.http("/api/v1/status/whoami"), headers=ui.bearer(), timeout=HTTP_TIMEOUT_S).json()["data"]
    assert me == {"tenant": "team-b", "authentication": True, "token": "ui-team-b",
                  "tenants": ["team-b", "team-c"], "scopes": ["query"]}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            # The browser answers the 401's basic-auth challenge with the token.
            ctx = browser.new_context(viewport={"width": 1400, "height": 900},
                                      http_credentials={"username": "ui", "password": ui.secret})
            page = ctx.new_page()
            problems = watch(page)
            page.goto(osprey.http("/logs?q=line&from=now-1h&to=now"))
            field = page.get_by_test_id("tenant")
            expect(field).to_have_attribute("data-acting", "team-b")
            expect(field).to_have_attribute("placeholder", "team-b")
            expect(page.get_by_test_id("tenant-token")).to_have_attribute("data-token", "ui-team-b")
            options = page.locator("#tenant-list option")
            expect(options).to_have_count(2)
            assert options.evaluate_all("os => os.map(o => o.value)") == ["team-b", "team-c"]
            # The view reads as the token's tenant: team b's line only.
            rows = page.get_by_test_id("log-row")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("line of team b")
            title = page.locator("label.tenant").get_attribute("title") or ""
            assert 'token "ui-team-b"' in title and "team-b, team-c" in title, title
            screenshot(page, "tenant-token-1")
            page.get_by_test_id("theme-toggle").click()
            page.wait_for_timeout(300)
            screenshot(page, "tenant-token-2")
            page.get_by_test_id("theme-toggle").click()
            # Wide enough, the token's name shows beside the key.
            page.set_viewport_size({"width": 1600, "height": 900})
            expect(page.locator(".tenant-token-name")).to_have_text("ui-team-b")
            page.locator("header").first.screenshot(path=str(screenshot_dir() / "tenant-token-wide.png"))
            page.set_viewport_size({"width": 1400, "height": 900})

            # Switching to the token's other tenant shows that tenant's line.
            field.fill("team-c")
            field.press("Enter")
            expect(page).to_have_url(re.compile(r"[?&]tenant=team-c"))
            expect(field).to_have_attribute("data-acting", "team-c")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("line of team c")
            assert problems == [], problems
        finally:
            browser.close()
