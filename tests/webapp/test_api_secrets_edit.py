"""Editing profiles and accounts over the API: what is left out (a secret included) stays."""

from __future__ import annotations

from tests.conftest import AuthUser
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]


async def test_account_login_and_password_change_apart(api: Api, api_user: AuthUser) -> None:
    made = await api.http.post("/api/accounts", json={"store": "demo", "login": "ann", "password": "one"})
    account_id = made.json()["id"]
    vault = api.services.vault
    renamed = await api.http.patch(f"/api/accounts/{account_id}", json={"login": "ann@work"})
    assert renamed.status_code == 200 and renamed.json()["login"] == "ann@work"
    stored = await vault.store_account("demo", owner_id=api_user.id)
    assert stored is not None and (stored.login, stored.password) == ("ann@work", "one")  # kept
    assert (await api.http.patch(f"/api/accounts/{account_id}", json={"password": "two"})).status_code == 200
    stored = await vault.store_account("demo", owner_id=api_user.id)
    assert stored is not None and (stored.login, stored.password) == ("ann@work", "two")
    empty = await api.http.patch(f"/api/accounts/{account_id}", json={})
    assert empty.status_code == 422 and "login" in empty.json()["detail"]
    other = await api.http.post("/api/accounts", json={"store": "demo", "login": "bob", "password": "x"})
    clash = await api.http.patch(f"/api/accounts/{other.json()['id']}", json={"login": "ann@work"})
    assert clash.status_code == 422, clash.text
    assert clash.json()["errors"][0]["field"] == "login"
