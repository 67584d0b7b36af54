"""Fixtures for the demo store and its bot: the real store on a real uvicorn, a real Chromium.

Wire in from ``tests/conftest.py`` with ``pytest_plugins = ["tests.conftest_demo"]``.

- ``serve_app(app)``: a context manager serving any ASGI app with uvicorn on 127.0.0.1 (a free
  port) in a background thread; yields the origin, e.g. ``http://127.0.0.1:41234``.
- ``demo_store_server`` (session): the demo store served that way; ``.url`` is its base URL
  (``…/demo-store``), what a ``BotContext.store_url`` takes.
- ``demo_store`` (function): the same store, reset before the test, with a small JSON API client
  (``configure``, ``product``, ``orders``, ``stats``, ``add_account``).
- ``demo_chromium`` (session): Chromium from ``TASKDECK_BROWSER_PATH`` or ``chromium`` on PATH.
- ``demo_page`` (function): a page in a fresh browser context, closed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from webapp.demo_store import DemoStore, create_demo_store


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread (own event loop); yield its origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass(frozen=True)
class DemoStoreServer:
    url: str  # base URL of the store, e.g. http://127.0.0.1:41234/demo-store


@dataclass(frozen=True)
class DemoStoreAPI:
    """The store's JSON API, as tests and tools use it."""

    url: str
    http: httpx.AsyncClient

    async def reset(self) -> None:
        (await self.http.post("reset", json={})).raise_for_status()

    async def configure(self, slug: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.put(f"products/{slug}", json=fields)
        response.raise_for_status()
        return response.json()

    async def product(self, slug: str) -> dict[str, Any]:
        response = await self.http.get(f"products/{slug}")
        response.raise_for_status()
        return response.json()

    async def orders(self, reference: str | None = None) -> list[dict[str, Any]]:
        params = {"reference": reference} if reference is not None else {}
        response = await self.http.get("orders", params=params)
        response.raise_for_status()
        return response.json()

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("stats")
        response.raise_for_status()
        return response.json()

    async def add_account(self, login: str, password: str) -> None:
        (await self.http.post("accounts", json={"login": login, "password": password})).raise_for_status()


def demo_store_app(store: DemoStore | None = None) -> FastAPI:
    """A bare FastAPI app with the demo store mounted where the webapp mounts it."""
    app = FastAPI()
    app.include_router(create_demo_store(store), prefix="/demo-store")
    return app


@pytest.fixture(scope="session")
def demo_store_server() -> Iterator[DemoStoreServer]:
    with serve_app(demo_store_app()) as origin:
        yield DemoStoreServer(url=f"{origin}/demo-store")


@pytest_asyncio.fixture
async def demo_store(demo_store_server: DemoStoreServer) -> AsyncIterator[DemoStoreAPI]:
    async with httpx.AsyncClient(base_url=f"{demo_store_server.url}/api/", timeout=10) as http:
        api = DemoStoreAPI(url=demo_store_server.url, http=http)
        await api.reset()
        yield api


def browser_path() -> str:
    path = os.environ.get("TASKDECK_BROWSER_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("no Chromium: install Debian's chromium or set TASKDECK_BROWSER_PATH")
    return path


@pytest_asyncio.fixture(scope="session")
async def demo_chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=browser_path(), headless=True)
        yield browser
        await browser.close()


@pytest_asyncio.fixture
async def demo_page(demo_chromium: Browser) -> AsyncIterator[Page]:
    context = await demo_chromium.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()
