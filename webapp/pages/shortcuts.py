"""Keyboard shortcuts on every page drawn in ``theme.frame``:

    /   focus the search field (the tasks page's; elsewhere: go there and focus it)
    n   open the New-task dialog (elsewhere: go to the tasks page and open it)
    ?   this list, in a dialog

Keys typed into an input, a text area, a select or anything editable are left alone, and so are
keys with Ctrl, Alt or Meta (the browser's own shortcuts). The listener lives in the browser; a
page that is not the tasks page hands the wish on through ``sessionStorage`` (``td-shortcut``),
and the tasks page carries it out once its field or button exists. A link to ``/tasks#new`` opens
the New-task dialog the same way (the empty states' "Create a task").
"""

from __future__ import annotations

from nicegui import ui

SHORTCUTS = (
    ("/", "Search tasks"),
    ("n", "New task"),
    ("?", "Show these shortcuts"),
    ("Esc", "Close a dialog"),
)
HELP_EVENT = "td-shortcuts-help"

SCRIPT = f"""
<style>
  .td-kbd kbd {{ font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px;
                padding: 2px 8px; border: 1px solid #c7ccd4; border-bottom-width: 2px; border-radius: 5px; }}
</style>
<script>
(function () {{
  const SEARCH = "[data-testid=search] input, input[data-testid=search]";
  const NEW = "[data-testid=new-task]";
  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const act = {{
    "/": () => {{
      const f = document.querySelector(SEARCH); if (!f) return false; f.focus(); f.select(); return true;
    }},
    "n": () => {{ const b = document.querySelector(NEW); if (!b) return false; b.click(); return true; }},
  }};
  function later(key) {{  // not on this page: go to the tasks page, which does it when ready
    sessionStorage.setItem("td-shortcut", key);
    window.location.href = "/tasks";
  }}
  document.addEventListener("keydown", (e) => {{
    if (e.ctrlKey || e.altKey || e.metaKey || e.defaultPrevented || typing(e.target)) return;
    if (document.querySelector(".q-dialog")) return;  // a dialog is open: its keys are its own
    if (e.key === "?") {{ e.preventDefault(); emitEvent("{HELP_EVENT}"); return; }}
    if (!(e.key in act)) return;
    e.preventDefault();
    if (!act[e.key]()) later(e.key);
  }});
  let pending = sessionStorage.getItem("td-shortcut");
  if (location.hash === "#new") {{  // a link to /tasks#new: the New-task dialog, open
    history.replaceState(null, "", location.pathname + location.search);
    pending = "n";
  }}
  if (pending && pending in act) {{
    sessionStorage.removeItem("td-shortcut");
    let tries = 0;
    const ready = () => window.socket && window.socket.connected;  // a click before that is lost
    (function retry() {{ if (!(ready() && act[pending]()) && ++tries < 300) setTimeout(retry, 100); }})();
  }}
}})();
</script>
"""


def install() -> None:
    """In the page being built: the key listener and the ``?`` dialog."""
    ui.add_body_html(SCRIPT)
    with ui.dialog() as dialog, ui.card().classes("td-card min-w-[320px] gap-2") as card:
        card.props('data-testid="shortcuts"')
        ui.label("Keyboard shortcuts").classes("text-lg font-semibold text-grey-10")
        for key, what in SHORTCUTS:
            with ui.row().classes("w-full items-center justify-between gap-6 no-wrap"):
                ui.label(what).classes("text-grey-8")
                ui.html(f"<kbd>{key}</kbd>", sanitize=False).classes("td-kbd")
        ui.label("Not while you type in a field.").classes("text-xs text-grey-6")
        ui.button("Close", on_click=dialog.close).props("flat").classes("self-end")
    ui.on(HELP_EVENT, dialog.open)
