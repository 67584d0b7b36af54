"""The look shared by every page: ``frame(title)`` (header, navigation, live indicator), the
colour of each task state, and formatting of times and money.

Times are shown in the browser's time zone: a one-line script stores it in the ``td_tz`` cookie
(URL-encoded, ``America%2FNew_York``; ``browser_zone`` decodes it), read on the next page build
(UTC until then). Every page names its zone once, at its foot (``data-testid="time-zone"``). Lists
show relative times ("3 min ago", ``fmt_ago``) with the exact time on hover (``fmt_exact``);
``when`` and ``when_slot`` make such a table column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from nicegui import ui

from models.states import TaskStatus
from webapp.auth import page_viewer
from webapp.pages import appearance, notifications, shortcuts
from webapp.pages.updates import HubWatch

# Quasar colour names per state, used by badges, chips, cards and the chart.
STATUS_COLORS: dict[str, str] = {
    TaskStatus.PENDING: "grey-6",
    TaskStatus.SCHEDULED: "indigo-5",
    TaskStatus.QUEUED: "blue-6",
    TaskStatus.RUNNING: "cyan-8",
    TaskStatus.ACTION_NEEDED: "deep-orange-7",  # the bot waits for a person
    TaskStatus.RETRYING: "orange-8",
    TaskStatus.PAUSED: "blue-grey-5",
    TaskStatus.COMPLETED: "green-7",
    TaskStatus.FAILED: "red-7",
    TaskStatus.CANCELLED: "brown-5",
    TaskStatus.UNKNOWN: "purple-8",  # money in doubt: stands out from every other state
}
STATUS_ICONS: dict[str, str] = {
    TaskStatus.PENDING: "radio_button_unchecked",
    TaskStatus.SCHEDULED: "schedule",
    TaskStatus.QUEUED: "hourglass_empty",
    TaskStatus.RUNNING: "autorenew",
    TaskStatus.ACTION_NEEDED: "front_hand",
    TaskStatus.RETRYING: "replay",
    TaskStatus.PAUSED: "pause_circle",
    TaskStatus.COMPLETED: "check_circle",
    TaskStatus.FAILED: "error",
    TaskStatus.CANCELLED: "cancel",
    TaskStatus.UNKNOWN: "help",
}
ACTION_ICONS: dict[str, str] = {
    "start": "play_arrow",
    "pause": "pause",
    "resume": "play_circle",
    "cancel": "stop",
    "retry": "replay",
    "delete": "delete",
    "mark-bought": "shopping_cart_checkout",
    "mark-not-bought": "remove_shopping_cart",
    "take-over": "pan_tool_alt",
    "finish": "shopping_cart_checkout",
}
# a person's decisions on an unknown task: asked for on the task page, never a one-click row action
# (and the hand-off's take-over / finish, offered by the task page's live view)
DECISIONS = ("mark-bought", "mark-not-bought", "take-over", "finish")
DOUBT_TEXT = "An order may have been placed — check the store"
# the same as JavaScript object literals for slot templates (inside double-quoted attributes)
STATUS_COLORS_JS = json.dumps({str(k): v for k, v in STATUS_COLORS.items()}).replace('"', "'")
ACTION_ICONS_JS = json.dumps(ACTION_ICONS).replace('"', "'")

NAV = (
    ("Tasks", "/tasks", "list_alt"),
    ("Queue", "/queue", "monitor_heart"),
    ("Failures", "/failures", "report"),
    ("Purchases", "/purchases", "receipt_long"),
    ("Watches", "/watches", "visibility"),
    ("Settings", "/settings", "settings"),
)

_HEAD = """
<style>
  body { background: #f5f6f8; }
  .td-live .td-state { display: none; }
  .td-live .td-dot { width: 9px; height: 9px; border-radius: 50%; background: #4ade80;
                     box-shadow: 0 0 0 3px rgba(74, 222, 128, .25); }
  .td-live:not(.hub-down) .td-state.on { display: inline; }
  .td-live.hub-down .td-state.hub { display: inline; }
  .td-live.hub-down .td-dot { background: #fbbf24; box-shadow: 0 0 0 3px rgba(251, 191, 36, .25); }
  body.td-offline .td-live .td-state { display: none !important; }
  body.td-offline .td-live .td-state.off { display: inline !important; }
  body.td-offline .td-live .td-dot { background: #f87171; box-shadow: 0 0 0 3px rgba(248, 113, 113, .25); }
  .td-card { border-radius: 10px; box-shadow: 0 1px 2px rgba(0,0,0,.06), 0 1px 8px rgba(0,0,0,.04); }
  .td-mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
  .td-table tbody tr { cursor: pointer; }
  .td-table th { font-weight: 600; color: #555; }
  @media (max-width: 1279px) { .td-wide { display: none !important; } }
  @media (max-width: 767px) { .td-live .td-live-text { display: none !important; } }
  @media (min-width: 1280px) { .td-narrow { display: none !important; } }
</style>
"""
_BODY = """
<script>
  document.cookie = "td_tz=" + encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone)
    + "; path=/; max-age=31536000; SameSite=Lax";
  (function watchSocket() {
    if (!window.socket) { setTimeout(watchSocket, 100); return; }
    const offline = (off) => document.body.classList.toggle("td-offline", off);
    window.socket.on("connect", () => offline(false));
    window.socket.on("disconnect", () => offline(true));
    offline(!window.socket.connected);
  })();
</script>
"""


@contextmanager
def frame(title: str, watch: HubWatch, *, section: str | None = None) -> Iterator[ui.column]:
    """Header with navigation and the live indicator; yields the page's content column.

    The indicator is green while the browser's socket and the server's live hub are both up,
    amber while the hub reconnects to Postgres, red while the browser has lost the server.
    """
    ui.page_title(f"{title} · Taskdeck")
    ui.add_head_html(_HEAD)
    ui.add_body_html(_BODY)
    ui.colors(primary="#3b5bdb")
    appearance.apply()
    shortcuts.install()
    current = section or title
    with (
        ui.header(elevated=False)
        .classes("items-center no-wrap bg-slate-900 text-white px-3 md:px-6 py-2 gap-1")
        .props('data-testid="header"')
    ):
        nav_menu(current)
        with ui.link(target="/tasks").classes("flex items-center gap-2 no-underline text-white mr-2 md:mr-6"):
            ui.icon("shopping_cart_checkout", size="26px").classes("text-amber-400")
            ui.label("Taskdeck").classes("text-xl font-semibold tracking-tight")
        with ui.element("nav").classes("td-wide flex items-center gap-1 no-wrap"):
            for label, path, icon in NAV:
                link = ui.link(target=path).classes(
                    "flex items-center gap-1 px-3 py-1 rounded no-underline text-sm "
                    + ("bg-white/15 text-white" if label == current else "text-slate-300 hover:text-white")
                )
                with link:
                    ui.icon(icon, size="18px")
                    ui.label(label)
            with ui.link(target="/demo-store/", new_tab=True).classes(
                "flex items-center gap-1 px-3 py-1 no-underline text-sm text-slate-300 hover:text-white"
            ):
                ui.icon("storefront", size="18px")
                ui.label("Demo store")
                ui.icon("open_in_new", size="14px")
        ui.space()
        indicator = ui.element("div").classes("td-live flex items-center gap-2 text-sm text-slate-300")
        indicator.props('data-testid="live"')
        with indicator:
            ui.element("span").classes("td-dot")
            ui.html(
                '<span class="td-state on">Live</span><span class="td-state hub">Reconnecting…</span>'
                '<span class="td-state off">Offline</span>',
                sanitize=False,
                tag="span",
            ).classes("td-live-text")
            ui.tooltip("Changes appear here as they happen")
        _set_hub_state(indicator, watch.connected)
        watch.changed.subscribe(lambda connected: _set_hub_state(indicator, connected))
        viewer = page_viewer()
        if watch.inbox is not None and viewer is not None:
            notifications.bell(watch.inbox, viewer)
        appearance.toggle()
        user_menu()
    with ui.column().classes("w-full max-w-[1400px] mx-auto px-3 md:px-6 py-5 gap-5") as content:
        yield content
    with content:
        ui.label(f"Times in {zone_name(page_zone())}").classes("text-xs text-grey-6").props(
            'data-testid="time-zone"'
        )


def nav_menu(current: str) -> None:
    """Below 1280 px the navigation folds into this menu button (``td-narrow``/``td-wide``: CSS,
    since Quasar's ``hidden`` is ``!important`` and beats Tailwind's ``md:flex``)."""
    with (
        ui.button(icon="menu")
        .props('flat round dense color=white data-testid="nav-menu" aria-label="Menu"')
        .classes("td-narrow"),
        ui.menu().props('data-testid="nav-menu-list"'),
    ):
        for label, path, icon in NAV:
            with (
                ui.menu_item(on_click=lambda path=path: ui.navigate.to(path)).classes(
                    "font-semibold" if label == current else ""
                ),
                ui.row().classes("items-center gap-3 no-wrap"),
            ):
                ui.icon(icon, size="20px").classes("text-grey-7")
                ui.label(label)
        with (
            ui.menu_item(on_click=lambda: ui.navigate.to("/demo-store/", new_tab=True)),
            ui.row().classes("items-center gap-3 no-wrap"),
        ):
            ui.icon("storefront", size="20px").classes("text-grey-7")
            ui.label("Demo store")


LOGOUT_FORM = (
    '<form method="post" action="/logout" class="m-0">'
    '<button type="submit" data-testid="logout" class="w-full text-left px-4 py-2 hover:bg-slate-100">'
    "Sign out</button></form>"
)


def user_menu() -> None:
    """The signed-in user's email (and an admin badge) with a menu to sign out."""
    viewer = page_viewer()
    if viewer is None:
        return
    with ui.button(icon="account_circle").props("flat no-caps dense color=white").classes("ml-3") as button:
        button.props('data-testid="user-menu"')
        ui.label(viewer.email).classes("ml-1 text-sm td-wide max-w-[180px] truncate").props(
            'data-testid="user-email"'
        )
        if viewer.is_admin:
            ui.badge("admin", color="amber-8").classes("ml-2 td-wide").props('data-testid="admin-badge"')
        with ui.menu():
            ui.html(LOGOUT_FORM, sanitize=False)


def _set_hub_state(indicator: ui.element, connected: bool) -> None:
    if connected:
        indicator.classes(remove="hub-down")
    else:
        indicator.classes(add="hub-down")


def status_badge(status: str, *, big: bool = False) -> ui.badge:
    badge = ui.badge(status, color=STATUS_COLORS.get(status, "grey"))
    badge.props('data-testid="status"')
    badge.classes("text-base px-3 py-1" if big else "")
    return badge


def set_status_badge(badge: ui.badge, status: str) -> None:
    badge.set_text(status)
    badge.props(f"color={STATUS_COLORS.get(status, 'grey')}")


def card(title: str | None = None, *, icon: str | None = None) -> ui.card:
    """A white card with an optional title row; use as a context manager."""
    c = ui.card().classes("td-card w-full p-4 gap-3")
    if title:
        with c, ui.row().classes("items-center gap-2"):
            if icon:
                ui.icon(icon, size="20px").classes("text-grey-7")
            ui.label(title).classes("text-base font-semibold text-grey-9")
    return c


# ---- formatting -----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def browser_zone(request: Request | None) -> tzinfo:
    """The browser's time zone from the ``td_tz`` cookie (URL-encoded by the page), else UTC."""
    name = unquote(request.cookies.get("td_tz") or "") if request is not None else ""
    return (_zone(name) if name else None) or ZoneInfo("UTC")


def page_zone() -> tzinfo:
    """``browser_zone`` of the page being built."""
    try:
        request: Request | None = ui.context.client.request
    except RuntimeError:  # no request (a page built outside one)
        request = None
    return browser_zone(request)


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def fmt_time(value: datetime | None, tz: tzinfo, *, seconds: bool = True) -> str:
    if value is None:
        return "—"
    local = value.astimezone(tz)
    now = datetime.now(tz)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return clock if local.date() == now.date() else f"{local:%Y-%m-%d} {clock}"


def fmt_exact(value: datetime | None, tz: tzinfo) -> str:
    """The full local time with its zone's abbreviation: ``2026-11-30 11:03:14 EST``."""
    if value is None:
        return "—"
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def fmt_ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, for lists people scan: "just now", "3 min ago", "5 h ago", "2 days ago"
    (and "in 4 min" for a time ahead)."""
    if value is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now" if not ahead else "in a moment"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size or unit == "min":
            n = max(1, round(seconds / size))
            text = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            return f"in {text}" if ahead else f"{text} ago"
    raise AssertionError("unreachable")


def when(name: str, value: datetime | None, tz: tzinfo, now: datetime | None = None) -> dict[str, str]:
    """A list's time cells: ``name`` relative ("3 min ago"), ``name_exact`` the full local time for
    the hover (``when_slot``)."""
    return {name: fmt_ago(value, now), f"{name}_exact": fmt_exact(value, tz) if value else ""}


def when_slot(name: str) -> str:
    """The ``body-cell-<name>`` slot of a ``when`` column: the relative time, the exact one on hover."""
    return (
        f'<q-td :props="props"><span class="text-grey-8" data-testid="{name}-when" '
        f':title="props.row.{name}_exact">{{{{ props.value }}}}</span></q-td>'
    )


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 task``, ``2 tasks``, ``0 tasks`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def fmt_money(value: Decimal | float | int | None, currency: str | None = "USD") -> str:
    if value is None:
        return "—"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency or "", "")
    amount = f"{Decimal(str(value)):,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency or ''}".strip()


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    value = float(value)
    if value < 120:
        return f"{value:g} s"
    if value < 7200:
        return f"{value / 60:g} min"
    return f"{value / 3600:g} h"


def truncate(text: str | None, length: int = 60) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"
