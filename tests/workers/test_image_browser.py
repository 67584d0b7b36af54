"""The image's Chromium starts: launched exactly as the worker in the image launches it (the
Dockerfile's TASKDECK_* environment, through the one ``launch_options`` builder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from models.settings import Settings
from tests.conftest import chromium_path
from workers.browser import BrowserPool, launch_options

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def image_env() -> dict[str, str]:
    """The TASKDECK_* variables the Dockerfile's ENV sets."""
    text = DOCKERFILE.read_text()
    return dict(re.findall(r"^\s*(TASKDECK_[A-Z_]+)=(\S+?)\s*\\?$", text, flags=re.MULTILINE))


def test_the_image_turns_chromiums_sandbox_off_and_says_why() -> None:
    env = image_env()
    assert env["TASKDECK_BROWSER_SANDBOX"] == "false"
    assert "seccomp" in DOCKERFILE.read_text()
    options = launch_options("/usr/bin/chromium", sandbox=False)
    assert options["chromium_sandbox"] is False  # Playwright then passes --no-sandbox
    assert launch_options("/usr/bin/chromium", sandbox=None)["chromium_sandbox"] is not None


async def test_chromium_starts_the_way_the_image_starts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in image_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TASKDECK_BROWSER_PATH", chromium_path())  # this machine's; the image's is /usr/bin
    settings = Settings()
    assert settings.browser_sandbox is False
    async with async_playwright() as p:
        options = launch_options(
            settings.browser_path or "", headless=settings.headless, sandbox=settings.browser_sandbox
        )
        browser = await p.chromium.launch(**options)
        page = await browser.new_page()
        await page.set_content("<p>ok</p>")
        assert await page.text_content("p") == "ok"
        await browser.close()
    async with BrowserPool(executable_path=settings.browser_path, sandbox=settings.browser_sandbox) as pool:
        await pool.launch_check()  # what a worker does once at start-up
        assert pool.browser_pid is not None
