"""The web UI in a real browser (Debian's Chromium driven by Playwright).

Loads the page served by the binary over demo data and uses it like an SRE would:
services listed with log counts, recent logs newest first, filter by a service,
search terms, and the error banner when the API fails.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

from harness import OspreyServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture()
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def test_services_logs_filter_and_search(osprey: OspreyServer, osprey_bin, page) -> None:
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", "1500ms",
         "--rate", "20", "--seed", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    page.goto(osprey.http("/"))

    services = page.get_by_test_id("services-list").locator("button[data-service]")
    expect(services).to_have_count(10)
    expected = {row[0]: row[1] for row in osprey.sql("SELECT service, count(*) FROM logs GROUP BY 1")}
    payment = page.get_by_test_id("services-list").locator("li", has_text="payment")
    expect(payment).to_contain_text(str(expected["payment"]))

    rows = page.get_by_test_id("log-row")
    expect(rows.first).to_be_visible()
    assert rows.count() == min(100, sum(expected.values()))

    # Filter to one service: every row is from it.
    page.get_by_test_id("services-list").locator('button[data-service="checkout"]').click()
    expect(rows.first).to_be_visible()
    expect(rows).to_have_count(min(100, expected["checkout"]))
    for svc in rows.locator("button[data-service]").all_inner_texts():
        assert svc == "checkout"

    # Search terms within the filter: bodies contain the term.
    page.get_by_test_id("search-input").fill("PlaceOrder")
    page.get_by_test_id("search-input").press("Enter")
    # Terms match whole words (runs of letters and digits), case-insensitively.
    (n,), = osprey.sql(
        "SELECT count(*) FROM logs WHERE service = 'checkout'"
        " AND regexp_like(body, '(^|[^\\p{L}\\p{N}])placeorder([^\\p{L}\\p{N}]|$)', 'i')"
    )
    assert n > 0
    expect(rows).to_have_count(min(100, n))
    for body in rows.locator("td.col-body").all_inner_texts():
        assert "placeorder" in body.lower()


def test_error_banner_when_the_server_is_gone(osprey: OspreyServer, page) -> None:
    page.goto(osprey.http("/"))
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    osprey.stop()
    page.get_by_test_id("refresh-now").click()
    expect(page.get_by_test_id("error-banner")).to_be_visible()
