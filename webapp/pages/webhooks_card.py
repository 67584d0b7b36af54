"""The Settings page's Webhooks card: the signed-in user's hooks, a new one with its signing secret
shown once, "send test", the delivery log (status codes of every try) and deleting. The same
paths and rules as ``/api/webhooks``: only the viewer's own hooks; ``worker.lost`` for admins."""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from nicegui import events, ui
from pydantic import ValidationError

from models import webhooks
from models.access import Viewer
from models.errors import ValidationFailed
from models.schemas import WebhookCreate
from webapp.pages import theme
from webapp.pages.settings_card import list_card, shown_once
from webapp.pages.task_form import readable
from webapp.pages.tasks import confirm
from webapp.services import Services

COLUMNS: list[dict[str, Any]] = [
    {"name": "url", "label": "URL", "field": "url", "align": "left"},
    {"name": "events", "label": "Events", "field": "events", "align": "left"},
    {"name": "format", "label": "Format", "field": "format", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
LOG_COLUMNS: list[dict[str, Any]] = [
    {"name": "created", "label": "When", "field": "created", "align": "left"},
    {"name": "event", "label": "Event", "field": "event", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "codes", "label": "Tries (status codes)", "field": "codes", "align": "left"},
]
SLOT_ACTIONS = """
<q-td :props="props" auto-width>
  <q-btn flat dense round size="sm" icon="send" data-testid="webhook-test"
    @click.stop="() => $parent.$emit('test', props.row)"><q-tooltip>send test</q-tooltip></q-btn>
  <q-btn flat dense round size="sm" icon="receipt_long" data-testid="webhook-log"
    @click.stop="() => $parent.$emit('log', props.row)"><q-tooltip>deliveries</q-tooltip></q-btn>
  <q-btn flat dense round size="sm" color="negative" icon="delete" data-testid="webhook-delete"
    @click.stop="() => $parent.$emit('remove', props.row)"><q-tooltip>delete</q-tooltip></q-btn>
</q-td>
"""


class WebhooksCard:
    def __init__(self, services: Services, tz: tzinfo, viewer: Viewer) -> None:
        self.services = services
        self.tz = tz
        self.viewer = viewer

    def build(self) -> None:
        self.table = list_card(
            icon="webhook",
            title="Webhooks",
            new_label="New webhook",
            on_new=self.new_webhook,
            new_testid="new-webhook",
            help_text="Taskdeck POSTs your events here, signed: Taskdeck-Signature: "
            't=…,v1=HMAC-SHA256(secret, "t.body"). Failed deliveries are retried for 24 hours.',
            columns=COLUMNS,
            actions_slot=SLOT_ACTIONS,
            empty="No webhooks yet",
            testid="webhooks",
        )
        self.table.on("test", self.send_test)
        self.table.on("log", self.show_log)
        self.table.on("remove", self.remove)

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            rows = await webhooks.list_webhooks(session, viewer=self.viewer)
        self.table.rows = [
            {
                "id": str(r.id),
                "url": theme.truncate(r.url, 60),
                "events": r.events.replace(",", ", "),
                "format": r.format,
                "created": theme.fmt_time(r.created_at, self.tz, seconds=False),
            }
            for r in rows
        ]

    def new_webhook(self) -> None:
        choices = [e for e in webhooks.EVENTS if self.viewer.is_admin or e not in webhooks.ADMIN_EVENTS]
        with ui.dialog() as dialog, ui.card().classes("w-[560px] max-w-full p-6 gap-3") as card:
            card.props('data-testid="webhook-dialog"')
            ui.label("New webhook").classes("text-xl font-semibold")
            url = ui.input("URL", placeholder="https://example.com/taskdeck").classes("w-full")
            url.props('data-testid="webhook-url"')
            chosen = ui.select(
                choices, value=["task.failed", "purchase.created"], multiple=True, label="Events"
            )
            chosen.classes("w-full").props('use-chips data-testid="webhook-events"')
            fmt = ui.select(list(webhooks.FORMATS), value="json", label="Format").classes("w-full")
            fmt.props('data-testid="webhook-format"')
            with ui.row().classes("w-full justify-end") as buttons:
                ui.button("Cancel", on_click=dialog.close).props("flat")
                create = ui.button("Create").props('unelevated data-testid="webhook-create"')

            async def make() -> None:
                try:
                    data = WebhookCreate.model_validate(
                        {"url": (url.value or "").strip(), "events": chosen.value or [], "format": fmt.value}
                    )
                    async with self.services.db.begin() as session:
                        _, secret = await webhooks.register(
                            session, viewer=self.viewer, data=data, vault=self.services.vault
                        )
                except ValidationError as exc:
                    first = exc.errors()[0]
                    target = url if first["loc"] and first["loc"][0] == "url" else chosen
                    target.props.update({"error": True, "error-message": readable(dict(first))})
                    target.update()
                    return
                except ValidationFailed as exc:
                    chosen.props.update({"error": True, "error-message": str(exc)})
                    chosen.update()
                    return
                for element in (url, chosen, fmt):
                    element.disable()
                buttons.clear()
                note = "The signing secret, shown this once:"
                shown_once(card, dialog, note=note, label="Secret", value=secret, testid="webhook-secret")
                await self.refresh()

            create.on_click(make)
        dialog.on("hide", dialog.delete)  # the secret leaves the page with the dialog
        dialog.open()

    async def send_test(self, e: events.GenericEventArguments) -> None:
        log = await self.services.send_test_webhook(viewer=self.viewer, webhook_id=uuid.UUID(e.args["id"]))
        if log is None:
            ui.notify("That webhook is gone", type="warning")
        elif log.delivery.status == "delivered":
            ui.notify(f"Test delivered (HTTP {log.delivery.last_code})", type="positive")
        else:
            tried = log.attempts[-1] if log.attempts else None
            why = tried.error if tried is not None else "queued"
            ui.notify(f"Test not delivered: {why}; it is retried", type="warning")

    async def show_log(self, e: events.GenericEventArguments) -> None:
        async with self.services.db.session() as session:
            logs = await webhooks.list_deliveries(
                session, viewer=self.viewer, webhook_id=uuid.UUID(e.args["id"])
            )
        rows = [
            {
                "id": x.delivery.id,
                "created": theme.fmt_time(x.delivery.created_at, self.tz),
                "event": x.delivery.event,
                "status": x.delivery.status,
                "codes": ", ".join(
                    str(a.status_code) if a.status_code else (a.error or "?")[:40] for a in x.attempts
                )
                or "not tried yet",
            }
            for x in logs or []
        ]
        with ui.dialog() as dialog, ui.card().classes("w-[760px] max-w-full p-6 gap-3"):
            ui.label(f"Deliveries to {e.args.get('url', '')}").classes("text-lg font-semibold")
            ui.table(rows=rows, columns=LOG_COLUMNS, row_key="id", pagination=10).classes("w-full").props(
                'flat dense no-data-label="No deliveries yet" data-testid="webhook-deliveries"'
            )
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=dialog.close).props("flat")
        dialog.on("hide", dialog.delete)
        dialog.open()

    async def remove(self, e: events.GenericEventArguments) -> None:
        if not await confirm(
            f"Delete the webhook to {e.args.get('url', '')}? Its delivery log goes with it."
        ):
            return
        async with self.services.db.begin() as session:
            await webhooks.delete_webhook(session, viewer=self.viewer, webhook_id=uuid.UUID(e.args["id"]))
        ui.notify("Webhook deleted")
        await self.refresh()
