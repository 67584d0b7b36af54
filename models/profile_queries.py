"""The settings' rows as their viewer may read them: checkout profiles, store accounts, and the
users a viewer may name as owners.

Offered through ``models.queries`` (the one read layer), like every read of owned rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.access import Viewer, owned
from models.tables import Account, Profile, User


async def list_profiles(session: AsyncSession, *, viewer: Viewer) -> list[Profile]:
    order = (col(Profile.name), col(Profile.created_at), col(Profile.id))
    return list(
        await session.scalars(select(Profile).where(*owned(viewer, col(Profile.owner_id))).order_by(*order))
    )


async def get_profile(session: AsyncSession, profile_id: uuid.UUID, *, viewer: Viewer) -> Profile | None:
    return await session.scalar(
        select(Profile).where(col(Profile.id) == profile_id, *owned(viewer, col(Profile.owner_id)))
    )


async def profile_usable(session: AsyncSession, profile_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> bool:
    """A task may use its owner's profiles only (an admin's task too: the task's owner pays)."""
    found = await session.scalar(
        select(col(Profile.id)).where(col(Profile.id) == profile_id, col(Profile.owner_id) == owner_id)
    )
    return found is not None


async def list_accounts(session: AsyncSession, *, viewer: Viewer) -> list[Account]:
    order = (col(Account.store), col(Account.login), col(Account.id))
    return list(
        await session.scalars(select(Account).where(*owned(viewer, col(Account.owner_id))).order_by(*order))
    )


async def get_account(session: AsyncSession, account_id: uuid.UUID, *, viewer: Viewer) -> Account | None:
    return await session.scalar(
        select(Account).where(col(Account.id) == account_id, *owned(viewer, col(Account.owner_id)))
    )


async def owner_emails(session: AsyncSession, *, viewer: Viewer) -> dict[uuid.UUID, str]:
    """Users the viewer may name as owners (an admin: everyone; a user: themself), by id."""
    rows = await session.execute(
        select(col(User.id), col(User.email)).where(*owned(viewer, col(User.id))).order_by(col(User.email))
    )
    return {user_id: email for user_id, email in rows.all()}
