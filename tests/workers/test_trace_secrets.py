"""No card number, CVC or password in any artifact (real Chromium, the demo store, Postgres).

Checkout-with-profile and store-login tasks run with ``trace`` on — bought, sold out after the
form was posted, a store error after the post (then a retry that buys), a refused login — and
every artifact file is read, traces member by member, for the secrets as typed, JSON-escaped,
URL-encoded and base64-encoded. Events, task rows and log records are searched too.
"""

from __future__ import annotations

import logging
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import Account, TaskEvent
from tests.leaks import artifact_blobs, leaks, needles
from tests.workers.conftest import Start, attempts, create, until_status
from workers.bots import registry
from workers.bots.base import BotContext, Purchase
from workers.errors import PermanentError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CARD, CVC, EXPIRY, PASSWORD, WRONG = "4111111111111111", "987", "11/29", "s3cret-Pa55word", "n0t-my-Pa55"
NEEDLES = needles(card=CARD, cvc=CVC, expiry=EXPIRY, passwords=[PASSWORD, WRONG])


def check_traces_and_modes(root: Path, *, bought_zip: Path) -> None:
    traces = sorted(root.rglob("a*-trace.zip"))
    # every traced attempt kept its trace, the untraced task its failure trace: 6 in all
    assert len(traces) == 6, traces
    with zipfile.ZipFile(bought_zip) as archive:
        names = archive.namelist()
        # recorded before the login, between login and checkout form, and after the order
        assert {"trace.trace", "trace-part2.trace", "trace-part3.trace"} <= set(names), names
        story = b"".join(archive.read(n) for n in names if n.endswith(".trace"))
    assert b"add-to-cart" in story and b"order-number" in story  # the steps around the secrets
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no parts left behind

    for path in root.rglob("*"):  # readable by the worker's user only
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


async def events(db: Database, task_id: Any) -> list[TaskEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)))


@pytest.fixture
async def secret_runtime(runtimes: Start, demo_store: Any, db: Database) -> Any:
    rt = await runtimes(demo_store_url=demo_store.url, worker_concurrency=2, step_timeout=5)
    await demo_store.add_account("alice", PASSWORD)
    async with db.begin() as session:
        profile = await rt.vault.create_profile(
            session,
            name="Home",
            fields={
                "full_name": "Alice Buyer",
                "email": "alice@example.com",
                "address": "2 Side St",
                "card_number": CARD,
                "card_expiry": EXPIRY,
                "card_cvc": CVC,
            },
        )
        await rt.vault.create_account(session, store="demo", login="alice", password=PASSWORD)
    return rt, profile.id


async def test_no_secret_in_any_artifact_event_row_or_log(
    db: Database, secret_runtime: Any, demo_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rt, profile_id = secret_runtime
    root = Path(rt.settings.artifacts_dir)
    await demo_store.configure("collector-figure", requiresLogin=True, stock=50)

    async def run(product: str, *, trace: bool = True, **fields: Any) -> Any:
        task = await create(
            db, rt, store="demo", product=product, profile_id=profile_id, trace=trace,
            backoff_seconds=0.2, **fields,
        )  # fmt: skip
        return await until_status(db, task.id, "completed", "failed", timeout=90)

    bought = await run("collector-figure")
    assert bought.status == "completed", bought.error
    [order] = await demo_store.orders(str(bought.id))
    assert order["account"] == "alice"  # the password was typed, and worked

    await demo_store.configure("collector-figure", failNext=1)
    retried = await run("collector-figure")  # the store fails after the form post, the retry buys
    assert retried.status == "completed" and retried.attempt == 2, retried.error
    assert [a.outcome for a in await attempts(db, retried.id)][:1] == ["retrying"]

    await demo_store.configure("collector-figure", soldOutAtCheckout=True)
    sold_out = await run("collector-figure")
    assert sold_out.status == "failed" and "sold out" in (sold_out.error or ""), sold_out.error
    await demo_store.configure("sneaker-drop", soldOutAtCheckout=True)
    untraced = await run("sneaker-drop", trace=False)  # the default: a trace of the failure only
    assert untraced.status == "failed" and "sold out" in (untraced.error or ""), untraced.error

    async with db.begin() as session:
        account = await session.scalar(select(Account).where(Account.store == "demo"))
        assert account is not None
        await rt.vault.set_password(session, account=account, password=WRONG)
    await demo_store.configure("collector-figure", soldOutAtCheckout=False, stock=50)
    refused = await run("collector-figure")
    assert refused.status == "failed" and "login refused" in (refused.error or ""), refused.error

    tasks = [bought, retried, sold_out, untraced, refused]
    found: list[str] = []
    for where, blob in artifact_blobs(root):
        found += leaks(blob, where, NEEDLES)
    for task in tasks:
        found += leaks(repr(task.model_dump()).encode(), f"task {task.id}", NEEDLES)
        for event in await events(db, task.id):
            found += leaks(repr(event.model_dump()).encode(), f"event {event.id}", NEEDLES)
        shots = [a.step for a in rt.artifacts.list(str(task.id)) if a.kind == "screenshot"]
        if task in (bought, retried):  # step pictures are still taken, around the secrets too
            assert {"log-in", "checkout", "confirm"} <= set(shots), shots
    found += leaks(caplog.text.encode(), "the log", NEEDLES)
    assert not found, found
    assert "held secret values" not in caplog.text  # clean as recorded, not only once scrubbed

    check_traces_and_modes(root, bought_zip=root / str(bought.id) / "a1-trace.zip")


async def secret_then_fail(ctx: BotContext) -> Purchase:
    """Types a password and fails before the page moves on (a store that never answers)."""
    assert ctx.page is not None
    await ctx.page.set_content(
        '<form><label>Password <input id="pw" type="text" name="password"></label>'
        '<input name="card_number"></form>'
    )
    await ctx.screenshot("form")
    async with ctx.secret_input():
        await ctx.page.fill("#pw", PASSWORD)
        await ctx.page.fill("input[name=card_number]", CARD)
        await ctx.screenshot("filled")  # refused: inside a secret section
        raise PermanentError("the store never answered", step="place order")


registry.register(registry.StoreBot(name="secret-then-fail", run=secret_then_fail))


async def test_failure_inside_a_secret_section_blanks_the_fields_before_the_picture(
    db: Database, runtimes: Start
) -> None:
    rt = await runtimes()
    task = await create(db, rt, store="secret-then-fail", trace=True)
    done = await until_status(db, task.id, "failed", timeout=60)
    assert "never answered" in (done.error or "")
    listed = rt.artifacts.list(str(done.id))
    shots = {a.step: a.path for a in listed if a.kind == "screenshot"}
    assert sorted(shots) == ["failure", "form"]  # no picture of the filled form
    # the failure picture is the form as it was before anything was typed into it
    assert shots["failure"].read_bytes() == shots["form"].read_bytes()
    found: list[str] = []
    for where, blob in artifact_blobs(Path(rt.settings.artifacts_dir)):
        found += leaks(blob, where, NEEDLES)
    assert not found, found
    assert [a.kind for a in listed].count("trace") == 1
