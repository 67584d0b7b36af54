"""What the Settings page's list cards share (API tokens, webhooks): a header with an icon, a
title and a "New …" button, a line of help, and a table of the viewer's things with a slot of
row actions; and the dialog ending that shows a secret once, with a copy button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from webapp.pages import empty as empty_state
from webapp.pages import theme


def list_card(
    *,
    icon: str,
    title: str,
    new_label: str,
    on_new: Callable[[], Any],
    new_testid: str,
    help_text: str,
    columns: list[dict[str, Any]],
    actions_slot: str,
    empty: str,
    testid: str,
) -> ui.table:
    """Build the card; returns its table (rows filled by the card's ``refresh``)."""
    with theme.card().classes(remove="p-4 gap-3", add="p-0 gap-0"):
        with ui.row().classes("w-full items-center gap-2 px-4 pt-3 pb-1"):
            ui.icon(icon, size="20px").classes("text-grey-7")
            ui.label(title).classes("text-base font-semibold text-grey-9")
            ui.space()
            ui.button(new_label, icon="add", on_click=on_new).props(
                f'unelevated no-caps data-testid="{new_testid}"'
            )
        ui.label(help_text).classes("text-sm text-grey-7 px-4")
        table = (
            ui.table(rows=[], columns=columns, row_key="id", pagination=10)
            .classes("w-full")
            .props(f'flat square no-data-label="{empty}" data-testid="{testid}"')
        )
        table.add_slot("body-cell-actions", actions_slot)
        empty_state.on_table(table, icon=icon, text=empty, action=new_label, click=new_testid)
    return table


def shown_once(card: ui.card, dialog: ui.dialog, *, note: str, label: str, value: str, testid: str) -> None:
    """The end of a "new" dialog: ``value`` (a token, a signing secret) read-only with Copy and
    Done (test ids ``<testid>``, ``<testid>-copy``, ``<testid>-done``); the caller deletes the
    dialog when it hides, so the value leaves the page with it."""
    with card:
        ui.label(note).classes("text-sm text-grey-8")
        ui.input(label, value=value).props(f'readonly outlined data-testid="{testid}"').classes(
            "w-full td-mono"
        )
        with ui.row().classes("w-full justify-end"):
            ui.button("Copy", icon="content_copy", on_click=lambda: ui.clipboard.write(value)).props(
                f'flat data-testid="{testid}-copy"'
            )
            ui.button("Done", on_click=dialog.close).props(f'unelevated data-testid="{testid}-done"')
