"""Shared pieces of the browser tests (test_ui*.py): Debian's Chromium driven by
Playwright, the demo seed, a watcher for console errors and failed requests, and
screenshots saved as test artifacts.

Fixtures defined here are used by importing them into a test module
(``from uikit import page  # noqa: F401``), which is how pytest finds them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

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

# Screenshots of the views land here (kept by CI as test artifacts).
SCREENSHOTS = Path(os.environ.get("OSPREY_UI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "target" / "ui-screenshots"))


@pytest.fixture()
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def demo(osprey: OspreyServer, osprey_bin, duration: str = "1500ms", rate: int = 20, seed: int = 3) -> None:
    """Seeds the server with `osprey demo` (traces, logs, RED and host metrics)."""
    proc = subprocess.run(
        [str(osprey_bin), "demo", "--endpoint", osprey.grpc_endpoint, "--duration", duration,
         "--rate", str(rate), "--seed", str(seed)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def watch(page) -> list[str]:
    """Console errors, uncaught exceptions and failed API requests of a page."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    return problems


class Requests:
    """Counts a page's requests in flight, to leave (or audit) a view only when its loads
    are done: leaving aborts them, which `watch` would report, and `networkidle` only
    covers page loads."""

    def __init__(self, page) -> None:
        self.page = page
        self.inflight = 0
        page.on("request", lambda r: self._add(1))
        page.on("requestfinished", lambda r: self._add(-1))
        page.on("requestfailed", lambda r: self._add(-1))

    def _add(self, d: int) -> None:
        self.inflight += d

    def settle(self, quiet_ms: int = 300, timeout_s: float = 30) -> None:
        """Waits until no request has been in flight for `quiet_ms`."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while quiet < quiet_ms:
            assert time.monotonic() < deadline, f"{self.inflight} requests still in flight"
            self.page.wait_for_timeout(50)
            quiet = quiet + 50 if self.inflight == 0 else 0


def screenshot(page, name: str) -> Path:
    """Saves a full-page screenshot as `<SCREENSHOTS>/<name>.png` and returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
