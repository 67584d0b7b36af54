"""``/api/profiles`` and ``/api/accounts``: checkout profiles and store logins, encrypted at rest.

Card number, expiry and CVC are write-only (the card comes back masked, the CVC never);
account passwords are write-only. Nothing secret is logged or written to events. Each belongs to
the user who created it: reads go through ``models.queries`` with the caller's viewer, and
another user's id answers 404 like an unknown one.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.exc import IntegrityError

from models import queries
from models.access import Viewer
from models.schemas import AccountCreate, AccountUpdate, ProfileCreate, ProfileUpdate
from models.tables import Account, Profile
from webapp import secrets_commands
from webapp.api import examples
from webapp.api.errors import BadInput, NotFound, api_router
from webapp.auth import ViewerDep
from webapp.services import Services
from workers.bots import registry


def _fields(body: ProfileCreate) -> dict[str, Any]:
    return secrets_commands.profile_fields(body)


def create_profiles_router(services: Services) -> APIRouter:
    router = api_router(tags=["profiles"])
    vault = services.vault

    async def get_profile(session: Any, profile_id: uuid.UUID, viewer: Viewer) -> Profile:
        profile = await queries.get_profile(session, profile_id, viewer=viewer)
        if profile is None:
            raise NotFound(f"no profile with id {profile_id}")
        return profile

    async def get_account(session: Any, account_id: uuid.UUID, viewer: Viewer) -> Account:
        account = await queries.get_account(session, account_id, viewer=viewer)
        if account is None:
            raise NotFound(f"no account with id {account_id}")
        return account

    @router.post(
        "/profiles",
        status_code=201,
        summary="Create a checkout profile",
        responses=examples.answer(201, examples.PROFILE),
    )
    async def create_profile(body: ProfileCreate, viewer: ViewerDep) -> dict[str, Any]:
        async with services.db.begin() as session:
            profile = await vault.create_profile(
                session, name=body.name, fields=_fields(body), owner_id=viewer.user_id
            )
        return vault.profile_view(profile)

    @router.get(
        "/profiles",
        summary="Checkout profiles (card masked)",
        responses=examples.answer(200, {"data": [examples.PROFILE], "count": 1}),
    )
    async def list_profiles(viewer: ViewerDep) -> dict[str, Any]:
        async with services.db.session() as session:
            rows = await queries.list_profiles(session, viewer=viewer)
        return {"data": [vault.profile_view(p) for p in rows], "count": len(rows)}

    @router.get(
        "/profiles/{profile_id}",
        summary="One checkout profile (card masked)",
        responses=examples.answer(200, examples.PROFILE),
    )
    async def read_profile(profile_id: uuid.UUID, viewer: ViewerDep) -> dict[str, Any]:
        async with services.db.session() as session:
            return vault.profile_view(await get_profile(session, profile_id, viewer))

    @router.patch(
        "/profiles/{profile_id}",
        summary="Change a checkout profile",
        responses=examples.answer(200, examples.PROFILE),
    )
    async def update_profile(profile_id: uuid.UUID, body: ProfileUpdate, viewer: ViewerDep) -> dict[str, Any]:
        """Only the fields sent change; secrets left out keep their stored value."""
        profile = await secrets_commands.edit_profile(services, profile_id, body, viewer=viewer)
        return vault.profile_view(profile)

    @router.delete("/profiles/{profile_id}", status_code=204, summary="Delete a checkout profile")
    async def delete_profile(profile_id: uuid.UUID, viewer: ViewerDep) -> Response:
        async with services.db.begin() as session:
            if not await vault.delete(session, Profile, profile_id, viewer=viewer):
                raise NotFound(f"no profile with id {profile_id}")
        return Response(status_code=204)

    @router.post(
        "/accounts",
        status_code=201,
        summary="Add a store login",
        responses=examples.answer(201, examples.ACCOUNT),
    )
    async def create_account(body: AccountCreate, viewer: ViewerDep) -> dict[str, Any]:
        if body.store not in registry.names():
            known = ", ".join(registry.names())
            raise BadInput(f"unknown store {body.store!r}; known stores: {known}", field="store")
        try:
            async with services.db.begin() as session:
                account = await vault.create_account(
                    session,
                    store=body.store,
                    login=body.login,
                    password=body.password,
                    owner_id=viewer.user_id,
                )
        except IntegrityError:
            raise BadInput(f"store {body.store} already has a login {body.login!r}", field="login") from None
        return vault.account_view(account)

    @router.get(
        "/accounts",
        summary="Store logins (passwords never shown)",
        responses=examples.answer(200, {"data": [examples.ACCOUNT], "count": 1}),
    )
    async def list_accounts(viewer: ViewerDep) -> dict[str, Any]:
        async with services.db.session() as session:
            rows = await queries.list_accounts(session, viewer=viewer)
        return {"data": [vault.account_view(a) for a in rows], "count": len(rows)}

    @router.patch(
        "/accounts/{account_id}",
        summary="Change a store login (login and/or password)",
        responses=examples.answer(200, examples.ACCOUNT),
    )
    async def update_account(account_id: uuid.UUID, body: AccountUpdate, viewer: ViewerDep) -> dict[str, Any]:
        """A new login and/or password; what is left out stays."""
        account = await secrets_commands.edit_account(services, account_id, body, viewer=viewer)
        return vault.account_view(account)

    @router.delete("/accounts/{account_id}", status_code=204, summary="Delete a store login")
    async def delete_account(account_id: uuid.UUID, viewer: ViewerDep) -> Response:
        async with services.db.begin() as session:
            if not await vault.delete(session, Account, account_id, viewer=viewer):
                raise NotFound(f"no account with id {account_id}")
        return Response(status_code=204)

    return router
