"""One attempt of one task, top to bottom: build context → run bot (bounded) → classify → record.

``classify`` is the one place where a bot's outcome becomes the task's next state.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from models import claims, stock, watch_claims
from models.clock import db_now
from models.states import TaskStatus
from models.tables import Task
from models.types import utcnow
from workers import bounds, checks, retry
from workers.bots import registry
from workers.bots.base import DEMO_PROFILE, BotContext, BotTask, Purchase
from workers.errors import BotError, BrowserLost, NotAvailableYet, PermanentError, RetryableError
from workers.handoff import Handoff
from workers.redact import Secrets
from workers.tracing import PageGuard

if TYPE_CHECKING:
    from workers.runtime import Running, WorkerRuntime

log = logging.getLogger(__name__)
S = TaskStatus
OPEN_PAGE_TIMEOUT = 30.0  # seconds to get a fresh context and page (a relaunch included)


class TaskLost(Exception):
    """This worker no longer owns the task (it was rescued elsewhere); stop without writing."""


@dataclass(frozen=True)
class Outcome:
    to: TaskStatus
    outcome: str  # what the attempt history says
    error: str | None = None
    values: dict[str, Any] | None = None


def classify(
    task: Task, exc: BaseException | None, *, stop_reason: str | None, settings: Any, bought: bool = False
) -> Outcome:
    """Map how the bot ended to exactly one next state. A purchase wins over any stop reason."""
    now = utcnow()
    monitor = task.mode == "monitor"
    checks = {"checks": task.checks + 1, "last_check_at": now} if monitor else {}
    if bought:
        return Outcome(
            S.COMPLETED,
            "completed",
            None,
            {"progress": 100, **checks, "last_check": "bought" if monitor else None},
        )
    if stop_reason == "cancel":
        return Outcome(S.CANCELLED, "cancelled", "cancelled by user")
    if stop_reason == "shutdown":
        return Outcome(
            S.QUEUED,
            "handed back",
            "worker shut down; handed back",
            {"attempt": task.attempt - 1, "queued_at": now, "kicked_at": now},
        )
    if exc is None:
        return Outcome(
            S.COMPLETED,
            "completed",
            None,
            {"progress": 100, **checks, "last_check": "bought" if monitor else None},
        )
    step = getattr(exc, "step", None) or task.step
    where = f' at step "{step}"' if step else ""
    if isinstance(exc, NotAvailableYet):
        observation = exc.observation[:500]
        if monitor:
            return Outcome(
                S.SCHEDULED,
                "not available",
                None,  # a normal wait, not an error: last_check says what the check saw
                {
                    "attempt": task.attempt - 1,
                    "last_check": observation,
                    **checks,
                    "run_at": db_now(task.check_every or 60),  # the database's clock, not ours
                },
            )
        return Outcome(S.FAILED, "failed", f"not available: {observation}")
    if isinstance(exc, PermanentError):
        text = bounds.first_line(exc)
        return Outcome(S.FAILED, "failed", f"{text}{where}" if step and step not in text else text, checks)
    if isinstance(exc, bounds.BotTimedOut):
        message = f"{exc}{where}"
    elif isinstance(exc, RetryableError | BotError):
        message = bounds.first_line(exc)
    else:  # a Playwright error names its own deadline ("Timeout 15000ms exceeded"); its call log goes
        message = f"{type(exc).__name__}: {bounds.first_line(exc)}{where}"
    if task.attempt >= task.max_attempts:
        return Outcome(
            S.FAILED, "failed", f"{message} (attempt {task.attempt} of {task.max_attempts})", checks
        )
    delay = (
        timedelta(seconds=exc.retry_after)
        if isinstance(exc, RetryableError) and exc.retry_after is not None
        else retry.backoff(
            retry.attempt_in_run(
                task.attempt, max_attempts=task.max_attempts, attempts_per_run=task.attempts_per_run
            ),
            base=task.backoff_base if task.backoff_base is not None else settings.backoff_base,
            cap=task.backoff_cap if task.backoff_cap is not None else settings.backoff_cap,
        )
    )
    return Outcome(S.RETRYING, "retrying", message, {"run_at": db_now(delay.total_seconds()), **checks})


def bot_task(task: Task, *, watch: bool = False) -> BotTask:
    return BotTask(
        id=str(task.id),
        name=task.name,
        store=task.store,
        product=task.product,
        quantity=task.quantity,
        max_price=task.max_price,
        mode=task.mode,
        attempt=task.attempt,
        watch=watch,
    )


async def execute(runtime: WorkerRuntime, task: Task, running: Running) -> None:
    """Run one claimed attempt and record exactly one outcome."""
    db, worker_id = runtime.db, runtime.worker_id
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
        if page is None or runtime.artifacts is None:
            return
        if guard is not None and not guard.may_photograph():
            log.info("task %s: screenshot %r skipped: secret fields on the page", task.id, label)
            return
        artifact = await runtime.artifacts.save_screenshot(str(task.id), page, label, attempt=task.attempt)
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
            profile, account = await runtime.profile_for(task), await runtime.account_for(task)
            if runtime.artifacts is not None:
                trace_path = runtime.artifacts.trace_path(str(task.id), attempt=task.attempt)
            browser_cm = runtime.browser_session(
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
            live = runtime.live_view(task, page)
            if live is not None:  # screencast while someone watches; paused around secrets
                await stack.enter_async_context(live.watching())
            handoff = Handoff(
                db=db,
                task=task,
                running=running,
                page=page,
                redis=runtime.redis,
                keys=runtime.live_keys(task.id),
                default_timeout=runtime.settings.attention_timeout,
                lost=TaskLost,
                say=say,
            )
            ctx = BotContext(
                task=bot_task(task, watch=listing is not None),
                page=page,
                store_url=runtime.store_url(task.store),
                progress=progress,
                log=say,
                checkpoint=checkpoint,
                screenshot=screenshot,
                checkpoints=frozenset(known),
                profile=profile,
                account=account,
                settings=runtime.store_settings(task.store),
                timeout_ms=runtime.settings.step_timeout * 1000,
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
                purchase = await bounds.run_bot(bot, running, timeout=runtime.settings.bot_timeout)
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
        from workers import recovery  # recovery builds on this module

        outcome, purchase = await recovery.settle(runtime, task, say=say)
        if purchase is not None:
            exc = None
    if outcome is None:
        outcome = classify(
            task, exc, stop_reason=running.stop_reason, settings=runtime.settings, bought=purchase is not None
        )
    if purchase is not None and not found:  # a monitor's bot that bought without saying so
        await in_stock()
    if exc is not None and outcome.to is not S.SCHEDULED:
        log.info("task %s attempt %s: %s", task.id, task.attempt, outcome.error)
    waited = monitor and outcome.to is S.SCHEDULED  # a check, not an attempt (workers/checks.py)
    if waited:
        await checks.trim_files(runtime, task, keep=screenshots[-1:])
    await runtime.record(
        task, outcome, purchase=purchase, screenshot=screenshots[-1] if screenshots else None
    )
    if waited:
        await checks.forget_attempt(runtime, task)
    else:
        await tell_screenshots()
