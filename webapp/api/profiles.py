"""``/api/profiles`` and ``/api/accounts``: checkout profiles and store logins, encrypted at rest.

Card number, expiry and CVC are write-only (the card comes back masked, the CVC never);
account passwords are write-only. Nothing secret is logged or written to events.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models.schemas import Camel
from models.tables import Account, Profile
from webapp.api.errors import BadInput, NotFound, api_router
from webapp.services import Services
from workers.bots import registry

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CardNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9 ]{12,23}$")]
Expiry = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^(0[1-9]|1[0-2])/[0-9]{2}$")]
Cvc = Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ProfileCreate(Camel):
    name: Text
    full_name: Text
    email: Email
    address: Address
    card_number: CardNumber
    card_expiry: Expiry
    card_cvc: Cvc


class ProfileUpdate(Camel):
    name: Text | None = None
    full_name: Text | None = None
    email: Email | None = None
    address: Address | None = None
    card_number: CardNumber | None = None
    card_expiry: Expiry | None = None
    card_cvc: Cvc | None = None


class AccountCreate(Camel):
    store: Annotated[str, Field(min_length=1, max_length=64)]
    login: Text
    password: Annotated[str, Field(min_length=1, max_length=200)]


class AccountUpdate(Camel):
    password: Annotated[str, Field(min_length=1, max_length=200)]


def _fields(body: ProfileCreate | ProfileUpdate) -> dict[str, Any]:
    data = body.model_dump(exclude={"name"}, exclude_none=True)
    if "card_number" in data:
        data["card_number"] = data["card_number"].replace(" ", "")
    return data


def create_profiles_router(services: Services) -> APIRouter:
    router = api_router(tags=["profiles"])
    vault = services.vault

    async def get_profile(session: Any, profile_id: uuid.UUID) -> Profile:
        profile = await session.get(Profile, profile_id)
        if profile is None:
            raise NotFound(f"no profile with id {profile_id}")
        return profile  # type: ignore[no-any-return]

    @router.post("/profiles", status_code=201, summary="Create a checkout profile")
    async def create_profile(body: ProfileCreate) -> dict[str, Any]:
        async with services.db.begin() as session:
            profile = await vault.create_profile(session, name=body.name, fields=_fields(body))
        return vault.profile_view(profile)

    @router.get("/profiles", summary="Checkout profiles (card masked)")
    async def list_profiles() -> dict[str, Any]:
        async with services.db.session() as session:
            rows = list(await session.scalars(select(Profile).order_by(Profile.name)))
        return {"data": [vault.profile_view(p) for p in rows], "count": len(rows)}

    @router.get("/profiles/{profile_id}", summary="One checkout profile (card masked)")
    async def read_profile(profile_id: uuid.UUID) -> dict[str, Any]:
        async with services.db.session() as session:
            return vault.profile_view(await get_profile(session, profile_id))

    @router.patch("/profiles/{profile_id}", summary="Change a checkout profile")
    async def update_profile(profile_id: uuid.UUID, body: ProfileUpdate) -> dict[str, Any]:
        async with services.db.begin() as session:
            profile = await get_profile(session, profile_id)
            fields = _fields(body)
            profile = await vault.update_profile(session, profile=profile, name=body.name, fields=fields)
        return vault.profile_view(profile)

    @router.delete("/profiles/{profile_id}", status_code=204, summary="Delete a checkout profile")
    async def delete_profile(profile_id: uuid.UUID) -> Response:
        async with services.db.begin() as session:
            if not await vault.delete(session, Profile, profile_id):
                raise NotFound(f"no profile with id {profile_id}")
        return Response(status_code=204)

    @router.post("/accounts", status_code=201, summary="Add a store login")
    async def create_account(body: AccountCreate) -> dict[str, Any]:
        if body.store not in registry.names():
            known = ", ".join(registry.names())
            raise BadInput(f"unknown store {body.store!r}; known stores: {known}", field="store")
        try:
            async with services.db.begin() as session:
                account = await vault.create_account(
                    session, store=body.store, login=body.login, password=body.password
                )
        except IntegrityError:
            raise BadInput(f"store {body.store} already has a login {body.login!r}", field="login") from None
        return vault.account_view(account)

    @router.get("/accounts", summary="Store logins (passwords never shown)")
    async def list_accounts() -> dict[str, Any]:
        async with services.db.session() as session:
            rows = list(await session.scalars(select(Account).order_by(Account.store, Account.login)))
            count = await session.scalar(select(func.count()).select_from(Account)) or 0
        return {"data": [vault.account_view(a) for a in rows], "count": count}

    @router.patch("/accounts/{account_id}", summary="Change a store login's password")
    async def update_account(account_id: uuid.UUID, body: AccountUpdate) -> dict[str, Any]:
        async with services.db.begin() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account with id {account_id}")
            await vault.set_password(session, account=account, password=body.password)
        return vault.account_view(account)

    @router.delete("/accounts/{account_id}", status_code=204, summary="Delete a store login")
    async def delete_account(account_id: uuid.UUID) -> Response:
        async with services.db.begin() as session:
            if not await vault.delete(session, Account, account_id):
                raise NotFound(f"no account with id {account_id}")
        return Response(status_code=204)

    return router
