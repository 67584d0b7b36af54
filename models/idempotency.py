"""Idempotency keys of ``POST /api/tasks``: the answer given to a key, kept 24 hours.

A request with an ``Idempotency-Key`` is answered from here when the same user sent the same
key before: the same body (by the SHA-256 of its canonical JSON) gets the stored answer again,
another body is refused. The row is inserted in the transaction that creates the tasks, under a
unique key (user, key): of two concurrent requests with one key, one commits and the other's
insert fails, rolling its tasks back, and it then answers from the committed row. Rows older
than ``TTL`` are pruned whenever a key is recorded; across web processes, the database decides.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.tables import IdempotencyKey
from models.types import utcnow

TTL = timedelta(hours=24)


def body_hash(body: Any) -> str:
    """SHA-256 of ``body``'s canonical JSON: key order and spacing do not matter."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    body_hash: str
    status_code: int
    response: Any


async def find(session: AsyncSession, *, owner_id: uuid.UUID, key: str) -> Stored | None:
    """The answer recorded for this user's key in the last ``TTL``, if any."""
    row = (
        await session.execute(
            select(IdempotencyKey).where(
                col(IdempotencyKey.owner_id) == owner_id,
                col(IdempotencyKey.key) == key,
                col(IdempotencyKey.created_at) > utcnow() - TTL,
            )
        )
    ).scalar_one_or_none()
    return None if row is None else Stored(row.body_hash, row.status_code, row.response)


async def prune(session: AsyncSession) -> int:
    """Delete keys older than ``TTL`` (everyone's); returns how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) <= utcnow() - TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record(
    session: AsyncSession, *, owner_id: uuid.UUID, key: str, body_hash: str, status_code: int, response: Any
) -> None:
    """Insert the key's row (flushed: a concurrent twin raises ``IntegrityError`` here)."""
    session.add(
        IdempotencyKey(
            owner_id=owner_id, key=key, body_hash=body_hash, status_code=status_code, response=response
        )
    )
    await session.flush()
