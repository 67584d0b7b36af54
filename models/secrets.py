"""The vault's decrypted values as a bot receives them: a checkout profile and a store login.

They live in ``models`` (the vault builds them; workers hand them to bots); ``repr`` masks the
secrets so a log line or a traceback never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CheckoutProfile:
    full_name: str
    email: str
    address: str
    card_number: str
    card_expiry: str
    card_cvc: str

    def __repr__(self) -> str:  # never print card data
        return f"CheckoutProfile(full_name={self.full_name!r}, card=****{self.card_number[-4:]})"


@dataclass(frozen=True, kw_only=True)
class StoreAccount:
    login: str
    password: str

    def __repr__(self) -> str:
        return f"StoreAccount(login={self.login!r}, password=***)"


DEMO_PROFILE = CheckoutProfile(
    full_name="Demo Buyer",
    email="buyer@example.com",
    address="1 Demo Street, Testville",
    card_number="4242424242424242",
    card_expiry="12/30",
    card_cvc="123",
)
