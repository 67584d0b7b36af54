"""Empty states with a next step: what a list page shows when it has no rows ("No purchases yet —
create a task"), instead of a bare "No data".

``on_table`` fills a ``ui.table``'s ``no-data`` slot; ``block`` draws the same in any container
(cards, menus). Each has ``data-testid="empty"`` and the next step as a link (``empty-action``).
"""

from __future__ import annotations

import html

from nicegui import ui

# the next step of most empty lists: the tasks page with its New-task dialog open (``shortcuts``)
NEW_TASK = {"action": "Create a task", "href": "/tasks#new"}


def _markup(icon: str, text: str, action: str | None, href: str | None, click: str | None = None) -> str:
    """``href``: the next step is another page; ``click``: it is the button with that test id."""
    if click:  # the page's own button (e.g. "Add profile" above the table)
        href = "#"
        onclick = f" onclick=\"document.querySelector('[data-testid={click}]').click(); return false\""
    else:
        onclick = ""
    link = (
        f'<a href="{html.escape(href)}"{onclick} class="text-primary font-medium" data-testid="empty-action">'
        f"{html.escape(action)}</a>"
        if action and href
        else ""
    )
    return (
        '<div class="w-full flex flex-col items-center gap-1 py-6 text-center" data-testid="empty">'
        f'<i class="q-icon notranslate material-icons text-grey-5" style="font-size: 36px">{icon}</i>'
        f'<div class="text-grey-8">{html.escape(text)}</div>{link}</div>'
    )


def on_table(
    table: ui.table,
    *,
    icon: str,
    text: str,
    action: str | None = None,
    href: str | None = None,
    click: str | None = None,
) -> None:
    """The table's empty state (replaces an earlier one: call again when the reason changes)."""
    table.add_slot("no-data", _markup(icon, text, action, href, click))
    table.update()


def block(*, icon: str, text: str, action: str | None = None, href: str | None = None) -> ui.html:
    """The empty state as an element of the current container."""
    return ui.html(_markup(icon, text, action, href), sanitize=False).classes("w-full")
