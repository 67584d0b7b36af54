"""API tokens: ``/api/tokens`` in process, and the Settings page's Tokens card in Chromium (a token
made there works over the API until it is revoked there)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import Browser, expect

from models.db import Database
from tests.conftest import AuthUser, StartWebapp, sign_in
from tests.webapp.test_api import Api, api, api_app

__all__ = ["api", "api_app"]  # the fixture, shared with test_api.py


async def test_create_list_and_revoke_your_own_tokens(api: Api, second_user: AuthUser) -> None:
    made = await api.http.post("/api/tokens", json={"name": "  nightly export "})
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"id", "name", "created", "lastUsed", "token"}
    assert body["name"] == "nightly export" and body["token"].startswith("td_") and body["lastUsed"] is None
    token = body["token"]

    used = await api.http.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert used.status_code == 200
    listed = (await api.http.get("/api/tokens")).json()
    mine = next(t for t in listed["data"] if t["id"] == body["id"])
    assert set(mine) == {"id", "name", "created", "lastUsed"} and mine["lastUsed"] is not None
    assert token not in str(listed)
    assert listed["count"] == len(listed["data"])

    # another user neither sees nor revokes it
    theirs = (await api.http.get("/api/tokens", headers=second_user.headers)).json()
    assert body["id"] not in {t["id"] for t in theirs["data"]}
    foreign = await api.http.delete(f"/api/tokens/{body['id']}", headers=second_user.headers)
    assert foreign.status_code == 404
    assert (await api.http.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})).status_code == 200

    assert (await api.http.delete(f"/api/tokens/{body['id']}")).status_code == 204
    assert (await api.http.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await api.http.delete(f"/api/tokens/{body['id']}")).status_code == 404
    assert (await api.http.delete(f"/api/tokens/{uuid.uuid4()}")).status_code == 404
    assert (await api.http.delete("/api/tokens/nope")).status_code == 422


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": 3}, []])
async def test_bad_token_requests_are_422(api: Api, body: object) -> None:
    r = await api.http.post("/api/tokens", json=body)
    assert r.status_code == 422, r.text


async def test_a_token_made_on_the_settings_page_works_until_revoked_there(
    browser: Browser, start_webapp: StartWebapp, db: Database, pg_url: str, api_user: AuthUser
) -> None:
    web = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=None)
    url = web.url or ""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await context.new_page()
        await sign_in(page, url, api_user)
        await expect(page.get_by_test_id("user-email")).to_have_text(api_user.email)
        await page.goto(f"{url}/settings")
        await page.get_by_test_id("new-token").click()
        dialog = page.get_by_test_id("token-dialog")
        await dialog.get_by_label("Name").fill("browser-made")
        await dialog.get_by_test_id("token-create").click()
        shown = dialog.get_by_label("Token")
        await expect(shown).to_have_value(re.compile(r"^td_\S{40,}$"))
        token = await shown.input_value()
        await expect(dialog.get_by_test_id("token-value-copy")).to_be_visible()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, timeout=15, headers=headers) as http:
            assert (await http.get("/api/tasks")).status_code == 200
            await dialog.get_by_role("button", name="Done").click()
            await expect(dialog).to_have_count(0)  # the dialog, and the token with it, is gone
            row = page.get_by_test_id("tokens").locator("tbody tr").filter(has_text="browser-made")
            await expect(row).to_have_count(1)
            await row.get_by_test_id("token-revoke").click()
            await page.get_by_test_id("confirm").click()
            await expect(row).to_have_count(0)
            assert (await http.get("/api/tasks")).status_code == 401
        # signing out from the header's menu ends the session, and sends this browser's other
        # open pages to /login too (their live pushes stop)
        other = await context.new_page()
        await other.goto(f"{url}/queue")
        await expect(other.get_by_test_id("user-email")).to_have_text(api_user.email)
        await page.get_by_test_id("user-menu").click()
        await page.get_by_test_id("logout").click()
        await page.wait_for_url("**/login")
        await other.wait_for_url("**/login")
        await page.goto(f"{url}/settings")
        assert "/login?next=" in page.url
    finally:
        await context.close()
