"""A running ``packtwin demo`` and a headless Chromium driven by Playwright (the system browser, never a download).

The browser is Debian's ``chromium`` (``PACKTWIN_CHROMIUM`` overrides the path); tests skip with the reason when it
or Playwright is missing, and fail with it when ``PACKTWIN_REQUIRE_BROWSER=1`` (as in CI). Screenshots go to ``artifacts/screenshots/`` at the repository root.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from packtwin.connectors.broker import free_port
from tests.fixtures.demo_process import ROOT, DemoProcess

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("PACKTWIN_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class RunningDemo:
    url: str
    keys: dict[str, str]
    process: DemoProcess


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    data = tmp_path_factory.mktemp("demo-data")
    dead = f"mqtt://127.0.0.1:{free_port()}"
    proc = DemoProcess("--packs", "3", "--duration", "900", "--port", "0", "--mqtt", dead, "--data", str(data))
    try:
        url = proc.wait_for(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", 120).group(1)
        keys_line = proc.wait_for(r"demo accounts\s+(.*)", 5).group(1)
        keys = dict(part.split(": X-API-Key ") for part in keys_line.split(", "))
        yield RunningDemo(url, keys, proc)
    finally:
        if proc.proc.poll() is None:
            proc.proc.send_signal(signal.SIGINT)
        proc.finish(60)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory):
    # CI sets PACKTWIN_REQUIRE_BROWSER=1: there a missing browser fails the run instead of skipping the tests.
    missing = pytest.fail if os.environ.get("PACKTWIN_REQUIRE_BROWSER") == "1" else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright for Python is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        missing("no Chromium: install Debian's chromium (apt-get install chromium) or set PACKTWIN_CHROMIUM")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data-dir
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=exe, headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
            viewport={"width": 1360, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, demo: RunningDemo):
    p = browser_context.new_page()
    p.set_default_timeout(20_000)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    p.close()
    assert not errors, f"JavaScript errors: {errors}"


def screenshot(page, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
