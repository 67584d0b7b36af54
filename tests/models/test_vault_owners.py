"""A task's bot gets its owner's checkout profile and store login, never another user's."""

from __future__ import annotations

from cryptography.fernet import Fernet

from models.db import Database
from models.secrets import DEMO_PROFILE
from models.vault import Vault
from tests.conftest import AuthUser

CARD = {"full_name": "Ann", "email": "a@x.io", "address": "1 Way", "card_number": "5555444433331111",
        "card_expiry": "01/31", "card_cvc": "987"}  # fmt: skip


async def test_a_task_uses_its_owners_profile_and_login_only(
    db: Database, api_user: AuthUser, second_user: AuthUser
) -> None:
    a, b = api_user, second_user
    vault = Vault(db, Fernet.generate_key())
    async with db.begin() as session:
        profile = await vault.create_profile(session, name="A's", fields=CARD, owner_id=a.id)
        await vault.create_account(session, store="demo", login="ann", password="pw", owner_id=a.id)
    mine = await vault.checkout_profile(profile.id, owner_id=a.id)
    assert mine.card_number == CARD["card_number"]
    assert await vault.checkout_profile(profile.id, owner_id=b.id) == DEMO_PROFILE
    login = await vault.store_account("demo", owner_id=a.id)
    assert login is not None and login.login == "ann"
    assert await vault.store_account("demo", owner_id=b.id) is None
