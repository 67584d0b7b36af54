"""Which products the demo store sells, so a task for an unknown one is refused at creation.

When this process serves the demo store (``TASKDECK_DEMO_STORE`` on, no ``TASKDECK_DEMO_STORE_URL``)
its catalogue is read from the store's own module. Otherwise the store's JSON API is asked
(``GET {store_base_url}/api/products``) and the answer kept for ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import SplitResult, unquote, urlsplit

import httpx

from models.settings import Settings
from webapp.errors import BadInput, Unavailable

DEMO = "demo"
URL_SCHEMES = {"http", "https", "ftp", "file", "data", "javascript", "mailto", "ws", "wss"}
_PRODUCT_PATH = re.compile(r"^(?P<base>.*)/products/(?P<slug>[^/]+)/?$")


def _split(product: str) -> SplitResult:
    try:
        parts = urlsplit(product)
        _ = parts.port  # raises for a malformed port
    except ValueError as exc:
        raise BadInput(f"product URL {product!r} is malformed ({exc})", field="product") from None
    return parts


def looks_like_url(product: str) -> bool:
    return "://" in product or _split(product).scheme.lower() in URL_SCHEMES


class DemoCatalogue:
    def __init__(self, settings: Settings, *, ttl: float = 10.0, timeout: float = 5.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self.timeout = timeout
        self._cached: tuple[float, list[str]] | None = None
        self._lock = asyncio.Lock()

    @property
    def in_process(self) -> bool:
        return bool(self.settings.demo_store) and not self.settings.demo_store_url

    async def slugs(self) -> list[str]:
        if self.in_process:
            from webapp.demo_store.state import CATALOGUE

            return [seed.slug for seed in CATALOGUE]
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
            slugs = await self._fetch()
            self._cached = (time.monotonic(), slugs)
            return slugs

    async def _fetch(self) -> list[str]:
        url = f"{self.settings.store_base_url().rstrip('/')}/api/products"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                return [str(p["slug"]) for p in response.json()]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise Unavailable(
                f"cannot check the product: the demo store's catalogue at {url} is not available ({exc})"
            ) from exc

    def slug_of(self, product: str) -> str:
        """The slug a demo-store product names (a slug, or a URL of a demo-store product page)."""
        if not looks_like_url(product):
            return product
        parts = _split(product)
        base = urlsplit(self.settings.store_base_url()).path.rstrip("/") or "/demo-store"
        match = _PRODUCT_PATH.match(parts.path)
        if match is None or match["base"] not in {base, "/demo-store"}:
            raise BadInput(
                f"product URL {product!r} is not a demo store product page (…{base}/products/<slug>)",
                field="product",
            )
        return unquote(match["slug"])

    async def check(self, product: str) -> None:
        """Raise ``BadInput`` unless ``product`` is a product of the demo store."""
        slug = self.slug_of(product)
        known = await self.slugs()
        if slug not in known:
            raise BadInput(
                f"unknown product {slug!r} in store {DEMO}; known: {', '.join(known)}", field="product"
            )


def check_url(product: str) -> None:
    """A product given as a URL must be an http(s) URL with a host."""
    if not looks_like_url(product):
        return
    parts = _split(product)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise BadInput(f"product URL {product!r} must be an http(s) URL", field="product")
