"""``/docs`` (Swagger UI) and ``/redoc`` served with their assets from a Python package, no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so without internet ``/docs`` is blank.
The assets come from the ``fastapi-offline`` package (its ``static`` folder: Swagger UI 5, which
reads OpenAPI 3.1, and ReDoc), mounted at ``/docs-assets``; FastAPI's HTML builders point there.
ReDoc's bundle asks a CDN for its "powered by" logo; the bundle is served with that address
swapped for an inline image (``redoc_bundle``), so nothing leaves the machine.
``install`` runs before ``ui.run``, which is then called without ``fastapi_docs`` (that would add
the CDN pages again); the schema stays at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
OPENAPI = "/openapi.json"


def assets_dir() -> str:
    return str(files("fastapi_offline") / "static")


REDOC = "redoc.standalone.js"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
INLINE_LOGO = (  # the same place in the side menu, drawn here: a small "Redocly" word
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='60' height='14'%3E"
    "%3Ctext x='0' y='11' font-family='sans-serif' font-size='11' fill='%23888'%3E"
    "Redocly%3C/text%3E%3C/svg%3E"
)


def redoc_bundle() -> bytes:
    """ReDoc's standalone script with its one outside image made inline."""
    bundle = (files("fastapi_offline") / "static" / REDOC).read_text(encoding="utf-8")
    assert REDOC_LOGO in bundle, "ReDoc's logo address moved: check /redoc offline"
    return bundle.replace(REDOC_LOGO, INLINE_LOGO).encode()


def _page(request: Request, build: Callable[..., HTMLResponse], **assets: Any) -> HTMLResponse:
    """One of FastAPI's docs pages, its schema and assets under this app's root path."""
    root = request.scope.get("root_path", "")
    urls = {name: f"{root}{ASSETS}/{file}" for name, file in assets.items()}
    return build(openapi_url=f"{root}{OPENAPI}", title="Taskdeck API", **urls)


def install(app: Any) -> None:
    """Serve ``/openapi.json``, ``/docs``, ``/redoc`` and their assets on ``app`` (NiceGUI's)."""
    app.title = "Taskdeck"
    app.openapi_url = OPENAPI
    app.docs_url = app.redoc_url = None
    app.setup()  # adds the /openapi.json route (FastAPI's pages stay off: no docs_url)
    redoc_js = redoc_bundle()

    @app.get(f"{ASSETS}/{REDOC}", include_in_schema=False)  # before the mount, which it overrides
    async def redoc_script() -> Response:
        return Response(redoc_js, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return _page(
            request,
            get_swagger_ui_html,
            swagger_js_url="swagger-ui-bundle.js",
            swagger_css_url="swagger-ui.css",
            swagger_favicon_url="favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return _page(
            request,
            partial(get_redoc_html, with_google_fonts=False),
            redoc_js_url=REDOC,
            redoc_favicon_url="favicon.png",
        )
