"""The Settings page's API tokens card: the signed-in user's tokens, a new one shown once (with a
copy button), and revoking. The same rules as ``/api/tokens``: only the viewer's own tokens."""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from nicegui import events, ui

from models import users
from models.access import Viewer
from webapp.pages import theme
from webapp.pages.settings_card import list_card, shown_once
from webapp.pages.tasks import confirm
from webapp.services import Services

COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "last_used", "label": "Last used", "field": "last_used", "align": "left"},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
SLOT_REVOKE = """
<q-td :props="props" auto-width>
  <q-btn flat dense round size="sm" color="negative" icon="block" data-testid="token-revoke"
    @click.stop="() => $parent.$emit('revoke', props.row)"><q-tooltip>revoke</q-tooltip></q-btn>
</q-td>
"""


class TokensCard:
    def __init__(self, services: Services, tz: tzinfo, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer

    def build(self) -> None:
        self.table = list_card(
            icon="vpn_key",
            title="API tokens",
            new_label="New token",
            on_new=self.new_token,
            new_testid="new-token",
            help_text="For scripts: send Authorization: Bearer <token>. "
            "A token is shown once, when it is made.",
            columns=COLUMNS,
            actions_slot=SLOT_REVOKE,
            empty="No tokens yet",
            testid="tokens",
        )
        self.table.on("revoke", self.revoke)

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            rows = await users.list_tokens(session, viewer=self.viewer)
        self.table.rows = [
            {
                "id": str(r.id),
                "name": r.name,
                "created": theme.fmt_time(r.created_at, self.tz, seconds=False),
                "last_used": theme.fmt_time(r.last_used_at, self.tz, seconds=False),
            }
            for r in rows
        ]

    def new_token(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-[520px] max-w-full p-6 gap-3") as card:
            card.props('data-testid="token-dialog"')
            ui.label("New API token").classes("text-xl font-semibold")
            name = ui.input("Name", placeholder="e.g. my script").classes("w-full")
            with ui.row().classes("w-full justify-end") as buttons:
                ui.button("Cancel", on_click=dialog.close).props("flat")
                create = ui.button("Create").props('unelevated data-testid="token-create"')

            async def make() -> None:
                label = (name.value or "").strip()
                if not label or len(label) > 100:
                    name.props.update({"error": True, "error-message": "1 to 100 characters"})
                    return
                async with self.services.db.begin() as session:
                    issued = await users.create_token(session, owner_id=self.viewer.user_id, name=label)
                name.disable()
                buttons.clear()
                note = "Copy it now: it is not shown again."
                shown_once(card, dialog, note=note, label="Token", value=issued.token, testid="token-value")
                await self.refresh()

            create.on_click(make)
        dialog.on("hide", dialog.delete)  # the token leaves the page with the dialog
        dialog.open()

    async def revoke(self, e: events.GenericEventArguments) -> None:
        name = e.args.get("name", "")
        if not await confirm(f"Revoke the token “{name}”? Whatever uses it stops working."):
            return
        async with self.services.db.begin() as session:
            await users.revoke_token(session, token_id=uuid.UUID(e.args["id"]), owner_id=self.viewer.user_id)
        self.services.tokens.clear()  # this process at once; others through the NOTIFY
        ui.notify(f"Token “{name}” revoked")
        await self.refresh()
