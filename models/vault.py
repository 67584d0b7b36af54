"""Checkout profiles and store accounts, encrypted at rest with Fernet.

The key comes from ``TASKDECK_SECRET_KEY`` (a Fernet key; every process that reads profiles
needs the same one) or, for a single-machine setup, from a key file created on first use
with mode 0600. Decrypted values live only in memory for the bot that needs them; ``repr`` of
the bot-facing objects masks them, and the API returns card numbers masked and never returns
passwords or CVCs.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.access import Viewer
from models.db import Database
from models.errors import TaskdeckError
from models.secrets import DEMO_PROFILE, CheckoutProfile, StoreAccount
from models.tables import Account, Profile
from models.types import utcnow

PROFILE_FIELDS = ("full_name", "email", "address", "card_number", "card_expiry", "card_cvc")


class VaultError(TaskdeckError):
    """A secret could not be decrypted: was TASKDECK_SECRET_KEY changed?"""


def load_key(secret_key: str | None, key_file: Path) -> bytes:
    if secret_key:
        key = secret_key.encode()
        Fernet(key)  # raises ValueError on a malformed key
        return key
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def mask_card(number: str | None) -> str | None:
    return f"•••• {number[-4:]}" if number else None


class Vault:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._fernet = Fernet(key)

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise VaultError() from None

    # ---- profiles ---------------------------------------------------------------------

    async def create_profile(
        self, session: AsyncSession, *, name: str, fields: dict[str, Any], owner_id: uuid.UUID | None = None
    ) -> Profile:
        data = {k: fields.get(k) or "" for k in PROFILE_FIELDS}
        profile = Profile(
            name=name,
            secret=self.seal(data),
            card_last4=(data["card_number"] or "")[-4:] or None,
            owner_id=owner_id,
        )
        session.add(profile)
        await session.flush()
        return profile

    async def update_profile(
        self, session: AsyncSession, *, profile: Profile, name: str | None, fields: dict[str, Any]
    ) -> Profile:
        data = self.open(profile.secret)
        data.update({k: v for k, v in fields.items() if k in PROFILE_FIELDS and v is not None})
        if name is not None:
            profile.name = name
        profile.secret = self.seal(data)
        profile.card_last4 = (data.get("card_number") or "")[-4:] or None
        profile.updated_at = utcnow()
        session.add(profile)
        await session.flush()
        return profile

    def profile_view(self, profile: Profile) -> dict[str, Any]:
        """What the API may show: no CVC, the card masked."""
        data = self.open(profile.secret)
        return {
            "id": str(profile.id),
            "name": profile.name,
            "fullName": data.get("full_name"),
            "email": data.get("email"),
            "address": data.get("address"),
            "cardNumber": mask_card(data.get("card_number")),
            "cardExpiry": data.get("card_expiry"),
            "createdAt": profile.created_at.isoformat(),
            "updatedAt": profile.updated_at.isoformat(),
        }

    async def checkout_profile(self, profile_id: uuid.UUID, *, owner_id: uuid.UUID | None) -> CheckoutProfile:
        """The task owner's profile; the demo profile if it is gone (or not the owner's)."""
        async with self.db.session() as session:
            profile = await session.scalar(
                select(Profile).where(col(Profile.id) == profile_id, col(Profile.owner_id) == owner_id)
            )
        if profile is None:
            return DEMO_PROFILE
        data = self.open(profile.secret)
        return CheckoutProfile(**{k: data.get(k) or "" for k in PROFILE_FIELDS})

    # ---- accounts ---------------------------------------------------------------------

    async def create_account(
        self,
        session: AsyncSession,
        *,
        store: str,
        login: str,
        password: str,
        owner_id: uuid.UUID | None = None,
    ) -> Account:
        account = Account(
            store=store, login=login, secret=self.seal({"password": password}), owner_id=owner_id
        )
        session.add(account)
        await session.flush()
        return account

    async def set_password(self, session: AsyncSession, *, account: Account, password: str) -> None:
        account.secret = self.seal({"password": password})
        session.add(account)
        await session.flush()

    @staticmethod
    def account_view(account: Account) -> dict[str, Any]:
        return {
            "id": str(account.id),
            "store": account.store,
            "login": account.login,
            "password": "********",
            "createdAt": account.created_at.isoformat(),
        }

    async def store_account(self, store: str, *, owner_id: uuid.UUID | None) -> StoreAccount | None:
        """The task owner's newest login at ``store``, if any."""
        async with self.db.session() as session:
            account = await session.scalar(
                select(Account)
                .where(col(Account.store) == store, col(Account.owner_id) == owner_id)
                .order_by(col(Account.created_at).desc())
            )
        if account is None:
            return None
        return StoreAccount(login=account.login, password=self.open(account.secret)["password"])

    @staticmethod
    async def delete(
        session: AsyncSession, model: type[Profile] | type[Account], item_id: uuid.UUID, *, viewer: Viewer
    ) -> bool:
        """Delete one of the viewer's profiles or accounts; False when there is none by that id."""
        result = await session.execute(
            delete(model)
            .where(col(model.id) == item_id, viewer.owner_filter(col(model.owner_id)))
            .returning(col(model.id))
        )
        return result.first() is not None
