"""Editing checkout profiles and store accounts: the one path the API's ``PATCH`` routes and the
Settings page both take (beside ``webapp.commands`` for tasks).

Secrets stay write-only: a field left out (or blank on the page) keeps its stored value, and
nothing here returns a secret. The viewer's own rows only (another user's id is ``NotFound``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from models import queries
from models.access import Viewer
from models.schemas import AccountUpdate, ProfileCreate, ProfileUpdate
from models.tables import Account, Profile
from webapp.errors import BadInput, NotFound

if TYPE_CHECKING:
    from webapp.services import Services


def profile_fields(update: ProfileCreate | ProfileUpdate) -> dict[str, Any]:
    """The sealed fields an update changes (the card number without its spaces, as stored)."""
    data = update.model_dump(exclude={"name"}, exclude_none=True)
    if "card_number" in data:
        data["card_number"] = data["card_number"].replace(" ", "")
    return data


async def edit_profile(
    services: Services, profile_id: uuid.UUID, update: ProfileUpdate, *, viewer: Viewer
) -> Profile:
    async with services.db.begin() as session:
        profile = await queries.get_profile(session, profile_id, viewer=viewer)
        if profile is None:
            raise NotFound(f"no profile with id {profile_id}")
        return await services.vault.update_profile(
            session, profile=profile, name=update.name, fields=profile_fields(update)
        )


async def edit_account(
    services: Services, account_id: uuid.UUID, update: AccountUpdate, *, viewer: Viewer
) -> Account:
    """A new login and/or password; a login the store already has for this user is 422."""
    try:
        async with services.db.begin() as session:
            account = await queries.get_account(session, account_id, viewer=viewer)
            if account is None:
                raise NotFound(f"no account with id {account_id}")
            if update.login is not None:
                account.login = update.login
                session.add(account)
            if update.password is not None:
                await services.vault.set_password(session, account=account, password=update.password)
            await session.flush()
    except IntegrityError:
        raise BadInput(f"this store already has a login {update.login!r}", field="login") from None
    return account
