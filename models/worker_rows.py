"""The workers' own rows: a worker's beat (``worker_seen``), an operator's drain request, and the
sweeper marking silent workers gone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import webhooks
from models.clock import db_now
from models.tables import Worker
from models.types import utcnow

DRAINING = "draining"  # worker status an operator sets: stop taking work, finish, exit


async def worker_seen(
    session: AsyncSession,
    *,
    worker: Worker,
    running: list[str],
    processed: int,
    status: str,
    browser: dict[str, Any] | None = None,
) -> bool:
    """Write the worker's row; True when an operator asked it to drain (``python -m workers drain``:
    the row says ``draining``, which the worker's own beats keep until it is gone)."""
    browser = browser or {}
    contexts = int(browser.get("contexts_open") or 0)
    memory = browser.get("pss_mb") or browser.get("rss_mb") or None
    now = utcnow()
    done = await session.execute(
        update(Worker)
        .where(col(Worker.id) == worker.id)
        .values(
            last_seen=db_now(),
            running=running,
            processed=processed,
            status=case((col(Worker.status) == DRAINING, DRAINING), else_=status)
            if status != "gone"
            else status,
            browser_contexts=contexts,
            browser_memory_mb=memory,
        )
        .returning(col(Worker.status))
    )
    row = done.first()
    if row is not None:
        return bool(row[0] == DRAINING)
    if row is None:
        session.add(
            Worker(
                id=worker.id,
                host=worker.host,
                pid=worker.pid,
                version=worker.version,
                concurrency=worker.concurrency,
                running=running,
                processed=processed,
                status=status,
                browser_contexts=contexts,
                browser_memory_mb=memory,
                started_at=worker.started_at,
                last_seen=now,
            )
        )
    return False


async def request_drain(session: AsyncSession, *, worker_id: str | None) -> list[str]:
    """Ask one live worker (or all, ``None``) to drain; the ids asked."""
    stmt = update(Worker).where(col(Worker.status).in_(("up", DRAINING)))
    if worker_id is not None:
        stmt = stmt.where(col(Worker.id) == worker_id)
    rows = await session.execute(stmt.values(status=DRAINING).returning(col(Worker.id)))
    return [str(r[0]) for r in rows]


async def mark_gone_workers(session: AsyncSession, *, timeout: float) -> int:
    cutoff = db_now(-timeout)
    rows = await session.execute(
        update(Worker)
        .where(col(Worker.status) != "gone", col(Worker.last_seen) < cutoff)
        .values(status="gone", running=[])
        .returning(col(Worker.id), col(Worker.host))
    )
    gone = rows.all()
    for worker_id, host in gone:  # admins' worker.lost hooks
        payload = {"worker": {"id": worker_id, "host": host}}
        await webhooks.enqueue(session, event="worker.lost", payload=payload)
    return len(gone)
