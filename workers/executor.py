"""One attempt of one task, top to bottom: build context → run bot (bounded) → classify → record.

It gets the worker as a ``RunContext`` (``workers/context.py``) and the run as a ``Running``;
``classify`` (``workers/outcome.py``) is the one place where a bot's ending becomes the task's
next state.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from typing import Any

from models import claims, stock, watch_claims
from models.states import TaskStatus
from models.tables import Task
from workers import bounds, checks, recovery
from workers.bots import registry
from workers.bots.base import DEMO_PROFILE, BotContext, Purchase
from workers.context import RunContext, bot_task
from workers.errors import BrowserLost, NotAvailableYet
from workers.handoff import Handoff
from workers.outcome import Outcome, classify
from workers.redact import Secrets
from workers.running import Running
from workers.tracing import PageGuard

log = logging.getLogger(__name__)
S = TaskStatus
OPEN_PAGE_TIMEOUT = 30.0  # seconds to get a fresh context and page (a relaunch included)


class TaskLost(Exception):
    """This worker no longer owns the task (it was rescued elsewhere); stop without writing."""


async def execute(context: RunContext, task: Task, running: Running) -> None:
    """Run one claimed attempt and record exactly one outcome."""
    db, worker_id = context.db, context.worker_id
    known = list(task.checkpoints or [])
    screenshots: list[str] = []
    untold: list[tuple[str, str]] = []  # screenshots (label, name) not written as events yet
    monitor = task.mode == "monitor"
    page_ref: dict[str, Any] = {}

    async def write(fn: Any, **kwargs: Any) -> Any:
        async with db.begin() as session:
            return await fn(session, **kwargs)

    async def progress(step: str, percent: int) -> None:
        if not await write(claims.progress, task=task, worker_id=worker_id, step=step, percent=percent):
            raise TaskLost()

    async def say(message: str) -> None:
        log.info("task %s: %s", task.id, message)
        await write(claims.log, task_id=task.id, message=message)

    listing = None
    if task.mode == "monitor":  # a monitor may be a listing of a watch
        async with db.session() as reading:
            listing = await watch_claims.listing_of(reading, task.id)

    async def checkpoint(name: str) -> None:
        async with db.begin() as session:  # a watch's listing claims the watch with its checkpoint
            if listing is not None and not await watch_claims.claim(
                session, task_id=task.id, watch_id=listing.watch_id
            ):
                raise NotAvailableYet(
                    "another listing of this watch is buying",
                    step="place order",
                    observation="another listing of this watch is buying",
                )
            if not await claims.checkpoint(session, task=task, worker_id=worker_id, name=name, known=known):
                raise TaskLost()
        if name not in known:
            known.append(name)
        running.checkpointed = True  # from here on a cancel or shutdown waits for the answer

    async def observe(price: Any, in_stock: bool) -> None:
        if listing is None:
            return
        async with db.begin() as session:
            await watch_claims.observe(
                session, task_id=task.id, listing=listing, price=price, in_stock=in_stock
            )
            elsewhere = in_stock and await watch_claims.held_elsewhere(
                session, task_id=task.id, watch_id=listing.watch_id
            )
        if elsewhere:  # another listing is buying: keep checking, but start no checkout here
            raise NotAvailableYet(
                "another listing of this watch is buying",
                step="check stock",
                observation="in stock, but another listing of this watch is buying",
            )

    async def screenshot(label: str) -> None:
        page, guard = page_ref.get("page"), page_ref.get("guard")
        if page is None or context.artifacts is None:
            return
        if guard is not None and not guard.may_photograph():
            log.info("task %s: screenshot %r skipped: secret fields on the page", task.id, label)
            return
        artifact = await context.artifacts.save_screenshot(str(task.id), page, label, attempt=task.attempt)
        if artifact is not None:
            screenshots.append(artifact.name)
            untold.append((label, artifact.name))
            if not monitor:  # a monitor's check is told once it was more than a wait
                await tell_screenshots()

    async def tell_screenshots() -> None:
        while untold:
            label, name = untold.pop(0)
            await write(
                claims.log,
                task_id=task.id,
                kind="artifact",
                step=label,
                message=f"screenshot {label}",
                data={"name": name, "kind": "screenshot"},
            )

    found: list[str] = []  # what this run told about the stock (monitor.in_stock once per run)

    async def in_stock(observation: str = stock.IN_STOCK) -> None:
        if task.mode == "monitor" and not found:
            found.append(observation)
            await write(stock.mark_in_stock, task=task, observation=observation)

    exc: BaseException | None = None
    purchase: Purchase | None = None
    try:
        spec = registry.get(task.store)
        browser_cm: AbstractAsyncContextManager[Any] = nullcontext(None)
        trace_path = None
        profile, account = DEMO_PROFILE, None
        if spec.needs_browser:
            profile, account = await context.profile_for(task), await context.account_for(task)
            if context.artifacts is not None:
                trace_path = context.artifacts.trace_path(str(task.id), attempt=task.attempt)
            browser_cm = context.browser_session(
                trace=task.trace, trace_path=trace_path, secrets=Secrets.of(profile, account)
            )
        async with AsyncExitStack() as stack:
            try:  # a browser that dies while the context opens must not hang the attempt
                session = await asyncio.wait_for(stack.enter_async_context(browser_cm), OPEN_PAGE_TIMEOUT)
            except TimeoutError:
                raise BrowserLost(f"no browser page within {OPEN_PAGE_TIMEOUT:g} s") from None
            page = session.page if session is not None else None
            guard = session.guard if session is not None else PageGuard(None, None)
            page_ref.update(page=page, guard=guard)
            live = context.live_view(task, page)
            if live is not None:  # screencast while someone watches; paused around secrets
                await stack.enter_async_context(live.watching())
            handoff = Handoff(
                db=db,
                task=task,
                running=running,
                page=page,
                redis=context.redis,
                keys=context.live_keys(task.id),
                default_timeout=context.settings.attention_timeout,
                lost=TaskLost,
                say=say,
            )
            ctx = BotContext(
                task=bot_task(task, watch=listing is not None),
                page=page,
                store_url=context.store_url(task.store),
                progress=progress,
                log=say,
                checkpoint=checkpoint,
                screenshot=screenshot,
                checkpoints=frozenset(known),
                profile=profile,
                account=account,
                settings=context.store_settings(task.store),
                timeout_ms=context.settings.step_timeout * 1000,
                secret_input=live.secret(guard.section) if live is not None else guard.section,
                needs_attention=handoff.needs_attention,
                in_stock=in_stock,
                observe=observe,
            )
            bot = asyncio.ensure_future(spec.run(ctx))
            running.bot = bot
            if running.stop_reason is not None:  # stopped (shutdown, cancel) while the page opened
                bot.cancel()
            try:  # hard: a bot past its limit is abandoned after a short grace (workers/bounds.py)
                purchase = await bounds.run_bot(bot, running, timeout=context.settings.bot_timeout)
            except Exception as bot_exc:
                if monitor and isinstance(bot_exc, NotAvailableYet):
                    exc = bot_exc  # a monitor's normal wait: its page closes as after a success (no trace)
                else:
                    worth = bounds.worth_a_failure_screenshot(bot_exc, monitor=monitor)
                    if page is not None and worth and not isinstance(bot_exc, TaskLost):
                        await screenshot("failure")
                    raise
            finally:
                running.bot = None
                page_ref.clear()
    except asyncio.CancelledError:
        if running.stop_reason is None:  # the worker itself is being torn down
            raise
    except TaskLost:
        running.stop_reason = "lost"
    except Exception as caught:  # every other ending is classified below
        exc = caught
    if running.stop_reason == "lost":
        log.warning("task %s: lost ownership; another worker has it now", task.id)
        return
    outcome: Outcome | None = None
    if exc is not None and known:  # past a checkpoint an error is never a plain failure
        outcome, purchase = await recovery.settle(context, task, say=say)
        if purchase is not None:
            exc = None
    if outcome is None:
        outcome = classify(
            task, exc, stop_reason=running.stop_reason, settings=context.settings, bought=purchase is not None
        )
    if purchase is not None and not found:  # a monitor's bot that bought without saying so
        await in_stock()
    if exc is not None and outcome.to is not S.SCHEDULED:
        log.info("task %s attempt %s: %s", task.id, task.attempt, outcome.error)
    waited = monitor and outcome.to is S.SCHEDULED  # a check, not an attempt (workers/checks.py)
    if waited:
        await checks.trim_files(context, task, keep=screenshots[-1:])
    await context.record(
        task, outcome, purchase=purchase, screenshot=screenshots[-1] if screenshots else None
    )
    if waited:
        await checks.forget_attempt(context, task)
    else:
        await tell_screenshots()
