"""A ``ui.table`` paged on the server: the page reads one page of rows and QTable asks for another
with its ``request`` event, so the server owns the pagination.

QTable still emits ``update:pagination`` once as it mounts, an echo of the prop it was given.
``ui.table``'s own handler stores that echo as a change, which sends the whole table (every row of
the page) back to each page just opened, right after its first draw. ``server_paged`` keeps a
listener bound in the browser (QTable follows its ``pagination`` prop only while one is) that
sends nothing.
"""

from __future__ import annotations

from typing import TypeVar

from nicegui import ui

T = TypeVar("T", bound=ui.table)


def server_paged(table: T) -> T:
    """``table`` without the server-side ``update:pagination`` handler (see the module's doc)."""
    for key, listener in list(table._event_listeners.items()):
        if listener.type == "update:pagination":
            del table._event_listeners[key]
    table.on("update:pagination", js_handler="() => {}")
    return table
