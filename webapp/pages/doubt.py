"""The task page's banner for an ``unknown`` task: an order may have been placed, and a person
checks the store and says what they found — "Mark bought" (with the order number the store
shows) or "Mark not bought" (the task fails; it may be retried)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from webapp.pages import theme
from webapp.pages.tasks import confirm

Act = Callable[..., Awaitable[None]]  # act(action, *, order_number=None)


class DoubtBanner:
    def __init__(self, act: Act) -> None:
        self.act = act
        self.row = ui.row().classes(
            "w-full items-center gap-3 p-4 rounded bg-purple-1 text-purple-10 border-l-4 border-purple-8"
        )
        with self.row.props('data-testid="unknown-banner"'):
            ui.icon("help", size="32px").classes("text-purple-8")
            with ui.column().classes("gap-0 grow"):
                ui.label(theme.DOUBT_TEXT).classes("text-lg font-semibold")
                self.reason = ui.label("").classes("text-sm")
            ui.button("Mark bought", icon=theme.ACTION_ICONS["mark-bought"], on_click=self._ask_order).props(
                'unelevated no-caps color=purple-8 data-testid="mark-bought"'
            )
            ui.button(
                "Mark not bought", icon=theme.ACTION_ICONS["mark-not-bought"], on_click=self._not_bought
            ).props('outline no-caps color=purple-8 data-testid="mark-not-bought"')
        self.row.set_visibility(False)
        with ui.dialog() as self.dialog, ui.card().classes("w-96"):
            ui.label("Mark bought").classes("text-lg font-semibold")
            ui.label("The order number the store shows for this task:").classes("text-sm text-grey-8")
            self.number = (
                ui.input("Order number").props('autofocus data-testid="order-number"').classes("w-full")
            )
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Mark bought", on_click=self._bought).props(
                    'unelevated no-caps color=purple-8 data-testid="confirm-mark-bought"'
                )

    def show(self, reason: str | None) -> None:
        """Visible with ``reason`` while the task is unknown; hidden (None) otherwise."""
        self.reason.set_text(reason or "")
        self.row.set_visibility(reason is not None)

    def _ask_order(self) -> None:
        self.number.set_value("")
        self.dialog.open()

    async def _bought(self) -> None:
        number = (self.number.value or "").strip()
        if not number:
            ui.notify("Give the store's order number", type="warning")
            return
        self.dialog.close()
        await self.act("mark-bought", order_number=number)

    async def _not_bought(self) -> None:
        if await confirm("No order was placed for this task? It becomes failed; you can retry it."):
            await self.act("mark-not-bought")
