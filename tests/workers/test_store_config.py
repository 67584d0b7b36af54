"""TASKDECK_STORES: each store's base URL and settings reach its bot; the README's example bot runs
as written against a test store (a real Chromium, a real HTTP server)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from models.db import Database
from models.settings import Settings, StoreLimit
from tests.workers.conftest import Start, create, until_status
from workers.bots import registry

pytestmark = pytest.mark.timeout(120)
README = Path(__file__).resolve().parents[2] / "README.md"


def test_stores_setting_gives_url_settings_and_folds_in_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TASKDECK_STORES",
        '{"my-shop": {"url": "https://shop.example/", "max_concurrent": 2, "min_interval": 1.5,'
        ' "region": "eu"}, "quiet": {"url": "https://quiet.example"}}',
    )
    settings = Settings()
    assert settings.store_url("my-shop") == "https://shop.example"
    assert settings.store_settings("my-shop") == {"max_concurrent": 2, "min_interval": 1.5, "region": "eu"}
    assert settings.store_limits == {"my-shop": StoreLimit(max_concurrent=2, min_interval=1.5)}
    assert settings.store_url("unknown") == "" and settings.store_settings("unknown") == {}
    assert settings.store_url("demo").endswith("/demo-store")


# ---- a test store shaped like the README's example ------------------------------------------

ORDERS: list[dict[str, str]] = []


class _Shop(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if not self.path.startswith("/products/"):
            return self._send(404, "<h1>not found</h1>")
        self._send(
            200,
            '<!doctype html><title>Widget</title><span data-testid="price" data-price="12.50">12.50</span>'
            '<span data-testid="stock" data-stock="3">3 left</span>'
            '<form method="post" action="/order"><input name="card_number">'
            '<button id="place-order" type="submit">Place order</button></form>',
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        number = f"MS-{len(ORDERS) + 1}"
        ORDERS.append({"number": number, "body": body})
        self._send(200, f'<!doctype html><table><tr><td data-testid="order-number">{number}</td></table>')

    def _send(self, status: int, html: str) -> None:
        data = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def readme_bot() -> registry.StoreBot:
    """The README's example bot, exactly as written there (``...`` included), under a fresh name."""
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    [source] = [b for b in blocks if 'BOT = StoreBot(name="my-shop"' in b]
    namespace: dict[str, Any] = {"__name__": "readme_bot"}
    exec(compile(source, "README.md", "exec"), namespace)
    bot: registry.StoreBot = namespace["BOT"]
    return bot


async def test_the_readmes_example_bot_runs_as_written(db: Database, runtimes: Start, shop: str) -> None:
    bot = readme_bot()
    name = f"my-shop-{uuid.uuid4().hex[:6]}"
    registry.register(registry.StoreBot(name=name, run=bot.run, title=bot.title))
    rt = await runtimes(stores={name: {"url": shop + "/", "max_concurrent": 1}})
    task = await create(db, rt, store=name, product="widget", quantity=2)
    done = await until_status(db, task.id, "completed", "failed", "retrying", "unknown", timeout=60)
    assert done.status == "completed", done.error
    assert done.result is not None and done.result["orderNumber"].startswith("MS-")
    assert Decimal(str(done.result["total"])) == Decimal("25.00")
    assert any("card_number=" in order["body"] for order in ORDERS)
