"""The create / edit dialog of a watch: name, quantity, profile, how often and until when, and its
listings (store, product, max price), each previewed from its store's lookup as it is typed.

Create goes through ``webapp.watch_commands.create_watch`` (the API's path); a refusal shows its
message in the dialog. Editing changes what a watching watch allows (name, ``checkEvery``,
``until``, its listings: a listing added starts its monitor, one removed stops it, a kept one takes
its new max price) through ``watch_commands.edit_watch``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from nicegui import background_tasks, ui
from pydantic import ValidationError

from models import queries
from models.access import Viewer
from models.errors import TaskdeckError
from models.vault import mask_card
from models.watch_schemas import WatchCreate, WatchUpdate
from models.watch_tables import Watch
from webapp import watch_commands
from webapp.pages.task_form import DEMO_PROFILE, DEMO_PROFILE_LABEL, readable
from webapp.services import Services
from workers.bots import registry

log = logging.getLogger(__name__)


@dataclass
class ListingFields:
    store: ui.select
    product: ui.input
    max_price: ui.number
    preview: ui.label
    row: ui.row
    looked_up: tuple[str, str] | None = None
    task: asyncio.Task[None] | None = field(default=None)


def _where(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if str(part)]
    return f"{'.'.join(loc)}: " if loc else ""


class WatchDialog:
    """One dialog per page, for a new watch or (``edit``) an existing one."""

    def __init__(
        self,
        services: Services,
        tz: tzinfo,
        *,
        viewer: Viewer,
        on_saved: Callable[[Watch], Awaitable[None]],
    ) -> None:
        self.services, self.tz, self.viewer, self.on_saved = services, tz, viewer, on_saved
        self.stores = registry.names()
        self.editing: uuid.UUID | None = None
        self.listings: list[ListingFields] = []
        self.added = 0  # listing rows drawn since the dialog opened (their test ids stay unique)
        zone = getattr(tz, "key", "UTC")
        with ui.dialog() as self.dialog, ui.card().classes("w-[760px] max-w-full p-6 gap-3"):
            self.title = ui.label("New watch").classes("text-xl font-semibold")
            self.error = ui.label("").classes("text-negative text-sm").props('data-testid="watch-error"')
            self.error.set_visibility(False)
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
                self.name = ui.input("Name", placeholder="Nova GPU anywhere under 700").props(
                    'autofocus data-testid="watch-name"'
                )
                self.quantity = ui.number("Quantity", value=1, step=1).props('data-testid="watch-quantity"')
                self.check_every = ui.number("Check every (s)", value=30).props(
                    'data-testid="watch-check-every"'
                )
                self.until = ui.input(f"Until ({zone}, optional)").props(
                    'type=datetime-local stack-label data-testid="watch-until"'
                )
                self.profile = ui.select(
                    {DEMO_PROFILE: DEMO_PROFILE_LABEL}, label="Checkout profile", value=DEMO_PROFILE
                ).classes("col-span-2")
            ui.label("Listings — the first in stock at or under its max price buys").classes(
                "text-sm text-grey-7 pt-2"
            )
            self.rows = ui.column().classes("w-full gap-1").props('data-testid="watch-listings"')
            self.add_button = ui.button("Add listing", icon="add", on_click=lambda: self.add_listing()).props(
                'flat no-caps data-testid="add-listing"'
            )
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat")
                self.submit = ui.button("Create watch", icon="visibility", on_click=self.save).props(
                    'unelevated data-testid="save-watch"'
                )

    # ---- listings ---------------------------------------------------------------------------

    def add_listing(
        self,
        store: str | None = None,
        product: str = "",
        max_price: float | None = None,
        *,
        existing: bool = False,
    ) -> None:
        index, self.added = self.added, self.added + 1
        with self.rows, ui.row().classes("w-full items-start gap-2 no-wrap") as row:
            store_field = ui.select(
                self.stores, label="Store", value=store or ("demo" if "demo" in self.stores else None)
            ).classes("w-32")
            product_field = ui.input(
                "Product", value=product, placeholder="slug or product page URL"
            ).classes("grow")
            price_field = ui.number("Max price", value=max_price, step=0.01).classes("w-32")
            remove = ui.button(icon="close").props("flat round dense")
            preview = ui.label("").classes("text-xs text-grey-7 w-56 pt-4")
        store_field.props(f'data-testid="listing-store-{index}"')
        product_field.props(f'data-testid="listing-product-{index}"')
        price_field.props(f'data-testid="listing-max-price-{index}"')
        preview.props(f'data-testid="listing-preview-{index}"')
        fields = ListingFields(store_field, product_field, price_field, preview, row)
        remove.on_click(lambda: self.remove_listing(fields))
        remove.props(f'data-testid="remove-listing-{index}"')
        product_field.on("blur", lambda: self._preview(fields))
        store_field.on_value_change(lambda: self._preview(fields))
        if existing:  # an existing listing keeps its store and product (remove it, or add another)
            store_field.disable()
            product_field.disable()
        self.listings.append(fields)

    def remove_listing(self, fields: ListingFields) -> None:
        if len(self.listings) <= 1:
            return
        self.listings.remove(fields)
        self.rows.remove(fields.row)

    def _preview(self, fields: ListingFields) -> None:
        key = (str(fields.store.value or ""), str(fields.product.value or "").strip())
        if not all(key) or key == fields.looked_up:
            return
        fields.looked_up = key
        fields.preview.set_text("looking it up…")
        if fields.task is not None:
            fields.task.cancel()
        fields.task = background_tasks.create(self._look_up(fields, *key), name="taskdeck-watch-preview")

    async def _look_up(self, fields: ListingFields, store: str, product: str) -> None:
        try:
            info = await self.services.lookup(store=store, product=product)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            fields.preview.set_text(f"no preview: {str(exc).splitlines()[0][:120]}")
            fields.preview.classes(replace="text-xs text-negative w-56 pt-4")
            return
        price = f"{info.price:.2f}" if info.price is not None else "no price"
        fields.preview.set_text(f"{info.name} · {price} · {'in stock' if info.available else 'out of stock'}")
        fields.preview.classes(replace="text-xs text-grey-8 w-56 pt-4")

    # ---- open / save ------------------------------------------------------------------------

    async def _load_profiles(self) -> None:
        async with self.services.db.session() as session:
            rows = await queries.list_profiles(session, viewer=self.viewer)
        options = {DEMO_PROFILE: DEMO_PROFILE_LABEL} | {
            str(p.id): " · ".join(filter(None, (p.name, mask_card(p.card_last4)))) for p in rows
        }
        self.profile.set_options(
            options, value=self.profile.value if self.profile.value in options else DEMO_PROFILE
        )

    def _reset(self) -> None:
        self.error.set_visibility(False)
        self.rows.clear()
        self.listings = []
        self.added = 0

    async def open_new(self) -> None:
        self.editing = None
        self._reset()
        self.title.set_text("New watch")
        self.submit.set_text("Create watch")
        self.quantity.enable()
        self.profile.enable()
        self.add_button.set_visibility(True)
        await self._load_profiles()
        self.add_listing()
        self.add_listing()
        self.dialog.open()

    async def open_edit(self, watch: Watch, listings: list[Any]) -> None:
        self.editing = watch.id
        self._reset()
        self.title.set_text("Edit watch")
        self.submit.set_text("Save")
        self.name.set_value(watch.name)
        self.quantity.set_value(watch.quantity)
        self.quantity.disable()
        self.profile.disable()
        self.check_every.set_value(watch.check_every)
        self.until.set_value(
            watch.until.astimezone(self.tz).strftime("%Y-%m-%dT%H:%M") if watch.until else ""
        )
        self.add_button.set_visibility(True)
        for row in listings:
            self.add_listing(
                row.listing.store, row.listing.product, float(row.listing.max_price), existing=True
            )
        self.dialog.open()

    def _until(self) -> datetime | None:
        text = str(self.until.value or "").strip()
        if not text:
            return None
        return datetime.fromisoformat(text).replace(tzinfo=self.tz)

    def _show(self, message: str) -> None:
        self.error.set_text(message)
        self.error.set_visibility(True)

    def _listings(self) -> list[dict[str, Any]]:
        return [
            {"store": f.store.value or "", "product": f.product.value or "", "max_price": f.max_price.value}
            for f in self.listings
        ]

    async def save(self) -> None:
        try:
            until = self._until()
        except ValueError:
            self._show("until: not a date and time")
            return
        try:
            if self.editing is None:
                data = WatchCreate.model_validate(
                    {
                        "name": self.name.value or "",
                        "quantity": int(self.quantity.value or 0),
                        "profile_id": self.profile.value or None,
                        "check_every": self.check_every.value,
                        "until": until,
                        "listings": self._listings(),
                    }
                )
                watch = await watch_commands.create_watch(self.services, data, viewer=self.viewer)
            else:
                update = WatchUpdate.model_validate(
                    {
                        "name": self.name.value or "",
                        "check_every": self.check_every.value,
                        "until": until,
                        "listings": self._listings(),
                    }
                )
                watch = await watch_commands.edit_watch(
                    self.services, self.editing, update, viewer=self.viewer
                )
        except ValidationError as exc:
            self._show("; ".join(_where(dict(e)) + readable(dict(e)) for e in exc.errors()[:3]))
            return
        except TaskdeckError as exc:
            self._show(str(exc))
            return
        self.dialog.close()
        await self.on_saved(watch)
