"""``/settings``: checkout profiles and store accounts, the secrets a bot checks out and logs in with.

Secrets are write-only here as in the API: the tables show what ``Vault.profile_view`` (card
masked, no CVC) and ``Vault.account_view`` (no password) give, and nothing else. The Add dialogs
are built for one use and deleted when they close, so nothing typed into them stays in the page.
Input is checked by the API's own ``ProfileCreate`` and ``AccountCreate``; their errors are shown
next to their fields.

The viewer's own only (read through ``models.queries``; rows they add are theirs). Not live: only
this page changes these rows, and each change re-reads its table. The API tokens card is
``tokens_card.py``, the webhooks card ``webhooks_card.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from typing import Any

from nicegui import events, ui
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from models import queries
from models.access import Viewer
from models.schemas import AccountCreate, AccountUpdate, ProfileCreate, ProfileUpdate
from models.tables import Account, Profile
from models.vault import VaultError
from webapp import secrets_commands
from webapp.errors import BadInput
from webapp.pages import settings_card, theme
from webapp.pages.task_form import readable
from webapp.pages.tasks import confirm
from webapp.pages.tokens_card import TokensCard
from webapp.pages.updates import HubWatch
from webapp.pages.webhooks_card import WebhooksCard
from webapp.services import Services
from workers.bots import registry

MASKED_PASSWORD = "••••••••"

PROFILE_COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
    {"name": "full_name", "label": "Full name", "field": "full_name", "align": "left"},
    {"name": "email", "label": "Email", "field": "email", "align": "left"},
    {"name": "card", "label": "Card", "field": "card", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
ACCOUNT_COLUMNS: list[dict[str, Any]] = [
    {"name": "store", "label": "Store", "field": "store", "align": "left", "sortable": True},
    {"name": "login", "label": "Login", "field": "login", "align": "left", "sortable": True},
    {"name": "password", "label": "Password", "field": "password", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
SLOT_MONO = '<q-td :props="props"><span class="td-mono" data-testid="masked">{{ props.value }}</span></q-td>'
SLOT_DELETE = """
<q-td :props="props" auto-width>
  <q-btn flat dense round size="sm" color="grey-8" icon="edit" data-testid="row-edit"
    @click.stop="() => $parent.$emit('edit', props.row)"><q-tooltip>edit</q-tooltip></q-btn>
  <q-btn flat dense round size="sm" color="negative" icon="delete" data-testid="row-delete"
    @click.stop="() => $parent.$emit('remove', props.row)"><q-tooltip>delete</q-tooltip></q-btn>
</q-td>
"""

# (field, label, password-type); the order of the Add dialogs
PROFILE_FIELDS = (
    ("name", "Profile name", False),
    ("full_name", "Full name", False),
    ("email", "Email", False),
    ("address", "Address", False),
    ("card_number", "Card number", True),
    ("card_expiry", "Expiry (MM/YY)", True),
    ("card_cvc", "CVC", True),
)
ACCOUNT_FIELDS = (("login", "Login", False), ("password", "Password", True))
# what a field's pattern means, for a "does not match the pattern" error
PATTERN_HINTS = {
    "email": "not an email address",
    "card_number": "12 to 19 digits (spaces allowed)",
    "card_expiry": "MM/YY, e.g. 07/29",
    "card_cvc": "3 or 4 digits",
}


def field_errors(exc: ValidationError, fields: list[str]) -> dict[str, str]:
    """{field: message in words} for a model whose fields all have their own input."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = str(error["loc"][0]) if error.get("loc") else ""
        field = next((f for f in fields if loc in (f, _camel(f))), None)
        if field is None:
            continue
        if error.get("input") in (None, ""):
            message = "required"
        elif error["type"] == "string_pattern_mismatch":
            message = PATTERN_HINTS.get(field, "has the wrong format")
        else:
            message = readable(dict(error))
        found.setdefault(field, message)
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class FormDialog:
    """A one-use dialog of text inputs, validated by ``model``; ``save`` gets the valid model and
    returns {field: message} for problems only the database can find (or nothing)."""

    def __init__(
        self,
        title: str,
        *,
        fields: tuple[tuple[str, str, bool], ...],
        model: type[BaseModel],
        save: Callable[[Any], Awaitable[dict[str, str]]],
        testid: str,
        extra: Callable[[], dict[str, Any]] | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.save = save
        self.editing = values is not None  # an edit: a blank field keeps what is stored
        with ui.dialog() as self.dialog, ui.card().classes("w-[520px] max-w-full p-6 gap-3") as card:
            card.props(f'data-testid="{testid}"')
            ui.label(title).classes("text-xl font-semibold")
            self.inputs: dict[str, Any] = extra() if extra else {}
            for name, label, secret in fields:
                text = ui.input(label, password=secret, password_toggle_button=secret).classes("w-full")
                if secret:
                    text.props("autocomplete=off")
                if self.editing and secret:
                    text.props('hint="leave blank to keep it"')
                text.value = (values or {}).get(name, "")
                self.inputs[name] = text
            for name, element in self.inputs.items():
                element.props(f'data-testid="field-{name}"')
                element.on_value_change(lambda _, n=name: self._error(n, None))
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat")
                self.submit = ui.button("Save", icon="save", on_click=self._submit).props(
                    'unelevated data-testid="save"'
                )
        self.dialog.on("hide", self.dialog.delete)  # nothing typed here outlives the dialog
        self.dialog.open()

    async def _submit(self) -> None:
        raw = {name: element.value or "" for name, element in self.inputs.items()}
        if self.editing:
            raw = {name: value for name, value in raw.items() if value.strip()}
        try:
            body = self.model.model_validate(raw)
        except ValidationError as exc:
            self._show(field_errors(exc, list(self.inputs)))
            return
        self.submit.props("loading")
        try:
            problems = await self.save(body)
        finally:
            self.submit.props(remove="loading")
        if problems:
            self._show(problems)
        else:
            self.dialog.close()

    def _show(self, errors: dict[str, str]) -> None:
        for name in self.inputs:
            self._error(name, errors.get(name))

    def _error(self, name: str, message: str | None) -> None:
        element = self.inputs[name]
        if message is None:
            element.props(remove="error error-message")
        else:
            element.props.update({"error": True, "error-message": message})


class SettingsView:
    def __init__(self, services: Services, tz: tzinfo, *, viewer: Viewer, stores: list[str]) -> None:
        self.services = services
        self.viewer = viewer
        self.vault = services.vault
        self.tz = tz
        self.stores = stores

    # ---- layout ---------------------------------------------------------------------------

    def build(self) -> None:
        ui.label("Settings").classes("text-2xl font-semibold text-grey-10")
        self.profiles = settings_card.list_card(
            title="Checkout profiles",
            icon="badge",
            new_label="Add profile",
            on_new=self.add_profile,
            new_testid="add-profile",
            help_text="What a bot fills in at checkout. Tasks without one use the built-in demo profile.",
            columns=PROFILE_COLUMNS,
            actions_slot=SLOT_DELETE,
            empty="No profiles yet",
            testid="profiles",
        )
        self.profiles.add_slot("body-cell-card", SLOT_MONO)
        self.profiles.on("remove", self.delete_profile)
        self.profiles.on("edit", self.edit_profile)
        self.accounts = settings_card.list_card(
            title="Store accounts",
            icon="key",
            new_label="Add account",
            on_new=self.add_account,
            new_testid="add-account",
            help_text="Logins for stores that need one; a bot uses its store's newest.",
            columns=ACCOUNT_COLUMNS,
            actions_slot=SLOT_DELETE,
            empty="No accounts yet",
            testid="accounts",
        )
        self.accounts.add_slot("body-cell-password", SLOT_MONO)
        self.accounts.on("remove", self.delete_account)
        self.accounts.on("edit", self.edit_account)

    # ---- reading --------------------------------------------------------------------------

    async def refresh(self) -> None:
        async with self.services.db.session() as session:
            profiles = await queries.list_profiles(session, viewer=self.viewer)
            accounts = await queries.list_accounts(session, viewer=self.viewer)
        self.profiles.rows = [self._profile_row(p) for p in profiles]
        self.accounts.rows = [self._account_row(a) for a in accounts]

    def _profile_row(self, profile: Profile) -> dict[str, Any]:
        try:
            view = self.vault.profile_view(profile)
        except VaultError:
            unreadable = "(cannot be decrypted: was TASKDECK_SECRET_KEY changed?)"
            view = {"id": str(profile.id), "name": profile.name, "fullName": unreadable}
        return {
            "id": view["id"],
            "name": view["name"],
            "full_name": view.get("fullName") or "",
            "email": view.get("email") or "",
            "card": view.get("cardNumber") or "—",
            "address": view.get("address") or "",
            "created": theme.fmt_time(profile.created_at, self.tz, seconds=False),
        }

    def _account_row(self, account: Account) -> dict[str, Any]:
        view = self.vault.account_view(account)
        return {
            "id": view["id"],
            "store": view["store"],
            "login": view["login"],
            "password": MASKED_PASSWORD,
            "created": theme.fmt_time(account.created_at, self.tz, seconds=False),
        }

    # ---- profiles -------------------------------------------------------------------------

    def add_profile(self) -> None:
        FormDialog(
            "Add checkout profile",
            fields=PROFILE_FIELDS,
            model=ProfileCreate,
            save=self._save_profile,
            testid="profile-dialog",
        )

    async def _save_profile(self, body: ProfileCreate) -> dict[str, str]:
        fields = body.model_dump(exclude={"name"})
        fields["card_number"] = fields["card_number"].replace(" ", "")  # as the API stores it
        async with self.services.db.begin() as session:
            profile = await self.vault.create_profile(
                session, name=body.name, fields=fields, owner_id=self.viewer.user_id
            )
        ui.notify(f"Profile “{profile.name}” saved", type="positive", position="bottom-right")
        await self.refresh()
        return {}

    async def delete_profile(self, e: events.GenericEventArguments) -> None:
        name = e.args.get("name", "")
        if not await confirm(
            f"Delete profile “{name}”? Tasks that use it fall back to the built-in demo profile."
        ):
            return
        async with self.services.db.begin() as session:
            found = await self.vault.delete(session, Profile, uuid.UUID(e.args["id"]), viewer=self.viewer)
        ui.notify(f"Profile “{name}” deleted" if found else f"Profile “{name}” was already gone")
        await self.refresh()

    def edit_profile(self, e: events.GenericEventArguments) -> None:
        row, profile_id = e.args, uuid.UUID(e.args["id"])
        shown = {"name": row.get("name", ""), "full_name": row.get("full_name", "")}
        shown |= {"email": row.get("email", ""), "address": row.get("address", "")}

        async def save(body: ProfileUpdate) -> dict[str, str]:
            await secrets_commands.edit_profile(self.services, profile_id, body, viewer=self.viewer)
            ui.notify(f"Profile “{body.name or shown['name']}” saved", type="positive")
            await self.refresh()
            return {}

        FormDialog(
            "Edit checkout profile (card fields: blank keeps them)",
            fields=PROFILE_FIELDS,
            model=ProfileUpdate,
            save=save,
            testid="profile-dialog",
            values=shown,
        )

    # ---- accounts -------------------------------------------------------------------------

    def add_account(self) -> None:
        FormDialog(
            "Add store account",
            fields=ACCOUNT_FIELDS,
            model=AccountCreate,
            save=self._save_account,
            testid="account-dialog",
            extra=lambda: {
                "store": ui.select(
                    self.stores,
                    label="Store",
                    value="demo" if "demo" in self.stores else next(iter(self.stores), None),
                ).classes("w-full")
            },
        )

    async def _save_account(self, body: AccountCreate) -> dict[str, str]:
        if body.store not in self.stores:
            return {"store": f"unknown store; known: {', '.join(self.stores)}"}
        try:
            async with self.services.db.begin() as session:
                await self.vault.create_account(
                    session,
                    store=body.store,
                    login=body.login,
                    password=body.password,
                    owner_id=self.viewer.user_id,
                )
        except IntegrityError:
            return {"login": f"{body.store} already has an account {body.login!r}"}
        ui.notify(f"Account {body.login} at {body.store} saved", type="positive", position="bottom-right")
        await self.refresh()
        return {}

    def edit_account(self, e: events.GenericEventArguments) -> None:
        account_id = uuid.UUID(e.args["id"])

        async def save(body: AccountUpdate) -> dict[str, str]:
            try:
                await secrets_commands.edit_account(self.services, account_id, body, viewer=self.viewer)
            except BadInput as exc:
                return {"login": str(exc)}
            ui.notify("Account saved", type="positive")
            await self.refresh()
            return {}

        FormDialog(
            f"Edit the {e.args.get('store', '')} account (password: blank keeps it)",
            fields=ACCOUNT_FIELDS,
            model=AccountUpdate,
            save=save,
            testid="account-dialog",
            values={"login": e.args.get("login", "")},
        )

    async def delete_account(self, e: events.GenericEventArguments) -> None:
        what = f"{e.args.get('login', '')} at {e.args.get('store', '')}"
        if not await confirm(f"Delete the account {what}?"):
            return
        async with self.services.db.begin() as session:
            found = await self.vault.delete(session, Account, uuid.UUID(e.args["id"]), viewer=self.viewer)
        ui.notify(f"Account {what} deleted" if found else f"Account {what} was already gone")
        await self.refresh()


async def render(services: Services, watch: HubWatch, tz: tzinfo, *, viewer: Viewer) -> None:
    stores = await asyncio.to_thread(registry.names)  # the first call scans entry points
    with theme.frame("Settings", watch):
        view = SettingsView(services, tz, viewer=viewer, stores=stores)
        view.build()
        await view.refresh()
        tokens = TokensCard(services, tz, viewer)
        tokens.build()
        await tokens.refresh()
        hooks = WebhooksCard(services, tz, viewer)
        hooks.build()
        await hooks.refresh()
