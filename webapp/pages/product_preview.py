"""The "New task" dialog's product preview: for stores whose bot can look a product up, a
"Preview" button (and leaving the product field, after a short pause) runs ``services.lookup`` in
a background task of the page and shows name, price, stock, image and a link; a newer request or
any edit of store or product cancels the running one. Its errors are shown under the product field
(``show_error``); a price above the task's max price is flagged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nicegui import background_tasks, context, events, ui

from webapp.pages import theme
from webapp.services import Services
from workers.bots.base import ProductInfo
from workers.errors import BotError, PermanentError

log = logging.getLogger(__name__)

PREVIEW_DELAY = 0.3  # seconds after the product field loses focus before the preview starts


class ProductPreview:
    def __init__(
        self,
        services: Services,
        *,
        previewable: set[str],
        product: ui.input,
        show_error: Callable[[str | None], None],
    ) -> None:
        """The spinner inside ``product`` and the Preview button beside it (in the current row)."""
        self.services = services
        self.previewable = previewable
        self.product = product
        self.show_error = show_error
        self.info: ProductInfo | None = None
        self.key: tuple[str, str] | None = None  # (store, product) shown or being looked up
        self.task: asyncio.Task[None] | None = None
        self.failed = False  # the product field shows the preview's error
        with product.add_slot("append"):
            self.spinner = ui.spinner(size="20px").props('data-testid="preview-spinner"')
            self.spinner.set_visibility(False)
        self.button = (
            ui.button("Preview", icon="visibility", on_click=self.look_up_now)
            .props('flat no-caps data-testid="preview-product"')
            .classes("mt-3")
        )

    def follow(self, *, store: ui.select, max_price: ui.number) -> None:
        """Watch the store and product (edits cancel, leaving the field previews) and the max price."""
        self.store, self.max_price = store, max_price
        store.on_value_change(self._product_changed)
        self.product.on_value_change(self._product_changed)
        self.product.on("blur", self._product_left)
        max_price.on_value_change(self._show_price_warning)
        context.client.on_delete(self._stop_preview)
        self._product_changed()

    def card(self) -> None:
        """The card that shows the product (in the dialog's grid, below the product field)."""
        with (
            ui.card()
            .classes("col-span-2 w-full p-3 gap-0 bg-grey-1")
            .props('flat bordered data-testid="preview"') as self.box,
            ui.row().classes("w-full items-center gap-4 no-wrap"),
        ):
            self.image = ui.element("img").classes("w-20 h-20 object-contain rounded bg-white")
            self.image.props('data-testid="preview-image" alt=""')
            with ui.column().classes("gap-1 min-w-0"):
                self.name = ui.label("").classes("font-semibold text-grey-10")
                self.name.props('data-testid="preview-name"')
                with ui.row().classes("items-center gap-2"):
                    self.price = ui.label("").props('data-testid="preview-price"')
                    self.over = ui.chip("", icon="warning", color="orange-2", text_color="orange-10")
                    self.over.props('dense square data-testid="preview-over-max"')
                self.stock = ui.label("").classes("text-sm").props('data-testid="preview-stock"')
                self.link = ui.link("Open the product page", "#", new_tab=True).classes("text-sm")
                self.link.props('data-testid="preview-link"')
        self.box.set_visibility(False)

    def _preview_request(self) -> tuple[str, str] | None:
        store = self.store.value or ""
        product = (self.product.value or "").strip()
        return (store, product) if store in self.previewable and product else None

    async def look_up_now(self) -> None:
        """The Preview button: look the product up (again) now."""
        key = self._preview_request()
        if key is None:
            self.show_error("required")
            return
        self._start_preview(key, delay=0)

    def _product_left(self) -> None:
        """Leaving the product field previews it once, unless it is already shown or on its way."""
        key = self._preview_request()
        if key is not None and key != self.key:
            self._start_preview(key, delay=PREVIEW_DELAY)

    def _product_changed(self, _: Any = None) -> None:
        """Store or product edited: what is shown (or being looked up) no longer applies."""
        self.cancel()
        self.key = None
        self.info = None
        self.box.set_visibility(False)
        self.button.set_visibility(self.store.value in self.previewable)
        if self.failed:
            self.failed = False
            self.show_error(None)

    def _start_preview(self, key: tuple[str, str], *, delay: float) -> None:
        self.cancel()
        self.key = key
        self.task = background_tasks.create(
            self._look_up(key, delay), name="taskdeck-preview", context=self.box
        )

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            self.key = None  # not shown: leaving the field may ask again
        self.task = None
        self._busy(False)

    def _stop_preview(self) -> None:
        """The page is gone: only stop the lookup."""
        if self.task is not None:
            self.task.cancel()

    async def _look_up(self, key: tuple[str, str], delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)  # a click into another field and back costs no lookup
        store, product = key
        self._busy(True)
        self.show_error(None)
        try:
            info = await self.services.lookup(store=store, product=product)
        except PermanentError as exc:  # unknown product, unknown store, no preview
            self._show_failure(str(exc))
        except (BotError, TimeoutError) as exc:
            self._show_failure(f"the store did not answer: {exc}" if str(exc) else "the store did not answer")
        except Exception:
            log.exception("product preview of %r at %s failed", product, store)
            self._show_failure("the preview failed (see the server log)")
        else:
            self._show_preview(info)
        finally:
            if asyncio.current_task() is self.task:
                self._busy(False)

    def _busy(self, busy: bool) -> None:
        if busy == self.spinner.visible:
            return
        self.spinner.set_visibility(busy)
        if busy:
            self.button.props("loading")
        else:
            self.button.props(remove="loading")

    def _show_failure(self, message: str) -> None:
        self.info = None
        self.box.set_visibility(False)
        self.show_error(message)
        self.failed = True

    def _show_preview(self, info: ProductInfo) -> None:
        self.info = info
        self.image.set_visibility(bool(info.image_url))
        self.image.props["src"] = info.image_url or ""
        self.name.set_text(info.name)
        self.price.set_text(theme.fmt_money(info.price) if info.price is not None else "price unknown")
        if info.available:
            self.stock.set_text("In stock")
            self.stock.classes(add="text-positive", remove="text-warning")
        else:
            self.stock.set_text("Out of stock — use monitor mode to wait for it")
            self.stock.classes(add="text-warning", remove="text-positive")
        self.link.props["href"] = info.canonical_url or ""
        self.link.set_visibility(bool(info.canonical_url))
        self._show_price_warning()
        self.box.set_visibility(True)

    def _show_price_warning(self, _: events.ValueChangeEventArguments | None = None) -> None:
        info, limit = self.info, self.max_price.value
        over = (
            info is not None
            and info.price is not None
            and limit is not None
            and info.price > Decimal(str(limit))
        )
        if over:
            self.over.set_text(f"above your max price of {theme.fmt_money(limit)}")
        self.over.set_visibility(over)
