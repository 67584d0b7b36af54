"""Dark mode: follows the browser (``prefers-color-scheme``) until the header's toggle is used;
the choice then sticks in the ``td_theme`` cookie (``dark`` or ``light``) for every page after.

Quasar's dark mode puts ``body--dark`` on the body and darkens its own components; ``DARK_CSS``
re-colours the few light-only classes the pages use (grey text, white and grey backgrounds).
It sits in the ``overrides`` cascade layer, whose ``!important`` beats Quasar's colour classes
(those live in a later layer, and for important declarations the earlier layer wins).
"""

from __future__ import annotations

from typing import Any

from nicegui import context, ui

COOKIE = "td_theme"
CHOICES = {"dark": True, "light": False}

DARK_CSS = """
<style>
@layer overrides {
  body.body--dark { background: #0f1217 !important; color: #e5e7eb; }
  body.body--dark .q-card, body.body--dark .q-table__card, body.body--dark .q-menu,
  body.body--dark .q-dialog .q-card { background: #1a1e26 !important; color: #e5e7eb; }
  body.body--dark .td-card { box-shadow: 0 0 0 1px #2b313c !important; }
  body.body--dark .text-grey-10, body.body--dark .text-grey-9, body.body--dark .text-slate-900 {
    color: #e8eaee !important; }
  body.body--dark .text-grey-8, body.body--dark .text-grey-7, body.body--dark .text-slate-600 {
    color: #b3bac5 !important; }
  body.body--dark .text-grey-6, body.body--dark .text-grey-5 { color: #8d95a1 !important; }
  body.body--dark .bg-white { background: #1a1e26 !important; }
  body.body--dark .bg-grey-1, body.body--dark .bg-grey-2, body.body--dark .bg-grey-3,
  body.body--dark .bg-slate-100 { background: #262b35 !important; }
  body.body--dark .bg-red-1 { background: #3a1e21 !important; }
  body.body--dark .border-gray-200, body.body--dark .border-slate-300 { border-color: #343b47 !important; }
  body.body--dark .td-table th { color: #b3bac5 !important; }
  body.body--dark .hover\\:bg-slate-100:hover { background: #262b35 !important; }
  body.body--dark a.text-primary, body.body--dark .text-primary { color: #8ea2ff !important; }
}
body.body--dark .td-when-light, body:not(.body--dark) .td-when-dark { display: none !important; }
</style>
"""
# ECharts draws on a canvas, out of CSS's reach: a chart marked ``td-chart`` takes ECharts' own
# "dark" theme while the body is dark (and "default" otherwise), when it is created and when the
# toggle or the browser flips the body's class. Charts keep a transparent background (the card's).
CHARTS_JS = """
<script>
(() => {
  const follow = () => {
    const theme = document.body.classList.contains("body--dark") ? "dark" : "default";
    for (const el of document.querySelectorAll(".td-chart")) {
      const chart = getElement(el)?.chart;
      if (chart && chart.tdTheme !== theme) {
        chart.setTheme(theme);
        chart.tdTheme = theme;
      }
    }
  };
  const start = () => new MutationObserver(follow).observe(document.body, {
    attributes: true, attributeFilter: ["class"], childList: true, subtree: true,
  });
  document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", start) : start();
})();
</script>
"""
TOGGLE_JS = f"""() => {{
  const dark = !document.body.classList.contains("body--dark");
  setDark(dark);
  document.cookie = "{COOKIE}=" + (dark ? "dark" : "light") + "; path=/; max-age=31536000; SameSite=Lax";
}}"""


def preference() -> bool | None:
    """The page's request's ``td_theme`` choice: True dark, False light, None follow the browser."""
    try:
        cookie = context.client.request.cookies.get(COOKIE, "")
    except (RuntimeError, AttributeError):  # no request (a test's simulated page)
        return None
    return CHOICES.get(cookie)


def apply() -> None:
    """In the page being built: the dark mode it starts in, and the CSS for dark."""
    ui.add_head_html(DARK_CSS + CHARTS_JS)
    ui.dark_mode(preference())


def toggle() -> ui.button:
    """The header's light/dark switch (client side: no round trip, the cookie for later pages)."""
    button = ui.button(on_click=None).props(
        'flat round dense color=white data-testid="theme-toggle" aria-label="Toggle dark mode"'
    )
    with button:
        ui.icon("dark_mode").classes("td-when-light")
        ui.icon("light_mode").classes("td-when-dark")
        ui.tooltip("Dark or light (follows your system until you choose)")
    button.on("click", js_handler=TOGGLE_JS)
    return button


def chart(options: dict[str, Any]) -> ui.echart:
    """An ECharts chart in the page's light or dark theme, following the toggle (``CHARTS_JS``);
    ``options`` keep ``backgroundColor: transparent`` so the card shows through in both."""
    return ui.echart(options).classes("td-chart")
