"""The web process's side of the live view and the hand-off, in Redis (keys: ``models.live_keys``).

Only reads and short-lived keys: a viewer's presence, the newest frame of a task's capped frame
stream, whether the worker is casting or a secret is being typed, the control lease, and a
controller's input (added to the task's input stream, which the waiting worker reads and empties).
Callers check who may do what first (``webapp/handoff.py``, ``webapp/api/handoff.py``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from models import redis_url
from models.live_keys import CONTROL_TTL, INPUT_TTL, PRESENCE_TTL, LiveKeys

LOOK_BACK = 6  # stream entries read to find the newest frame past pause/resume markers
INPUT_KEPT = 100


@dataclass(frozen=True)
class Frame:
    number: int  # frames relayed for this task so far (the worker's counter when it was added)
    jpeg: bytes


@dataclass(frozen=True)
class CastState:
    casting: bool  # the worker is screencasting (someone watches)
    secret: bool  # a card, CVC or password is being typed: frames are paused
    produced: int  # frames the worker relayed so far


class LiveRelay:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def connect(cls, url: str, prefix: str, *, cluster: bool = False) -> LiveRelay:
        return cls(redis_url.connect(url, cluster=cluster), prefix)

    async def close(self) -> None:
        await self.redis.aclose()

    def keys(self, task_id: uuid.UUID) -> LiveKeys:
        return LiveKeys.of(self.prefix, task_id)

    # ---- watching -----------------------------------------------------------------------------

    async def watch(self, task_id: uuid.UUID) -> None:
        """Someone has the task page open (refreshed every ``PRESENCE_REFRESH`` s)."""
        await self.redis.set(self.keys(task_id).viewers, 1, ex=PRESENCE_TTL)

    async def latest(self, task_id: uuid.UUID) -> Frame | None:
        entries: Any = await self.redis.xrevrange(self.keys(task_id).frames, count=LOOK_BACK)
        for entry_id, fields in entries:
            if fields.get(b"kind") == b"frame" and b"jpeg" in fields:
                return Frame(number=_frame_number(entry_id), jpeg=fields[b"jpeg"])
        return None

    async def state(self, task_id: uuid.UUID) -> CastState:
        raw: Any = await self.redis.hgetall(self.keys(task_id).state)
        return CastState(
            casting=raw.get(b"casting") == b"1",
            secret=raw.get(b"secret") == b"1",
            produced=int(raw.get(b"produced") or 0),
        )

    # ---- control --------------------------------------------------------------------------------

    async def take_control(self, task_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """The control lease for ``user_id`` (taken, or renewed when they hold it); False when
        someone else holds it."""
        key, me = self.keys(task_id).control, str(user_id)
        if await self.redis.set(key, me, nx=True, ex=CONTROL_TTL):
            return True
        holder: Any = await self.redis.get(key)
        if holder is not None and holder.decode() == me:
            await self.redis.expire(key, CONTROL_TTL)
            return True
        return False

    async def controller(self, task_id: uuid.UUID) -> str | None:
        holder: Any = await self.redis.get(self.keys(task_id).control)
        return holder.decode() if holder is not None else None

    async def release(self, task_id: uuid.UUID, user_id: uuid.UUID) -> None:
        key = self.keys(task_id).control
        if await self.controller(task_id) == str(user_id):
            await self.redis.delete(key)

    async def send(self, task_id: uuid.UUID, event: dict[str, Any]) -> None:
        """One input event for the waiting worker (it deletes the entry once applied)."""
        key = self.keys(task_id).input
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in event.items()}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, fields, maxlen=INPUT_KEPT, approximate=True)  # type: ignore[arg-type]
            pipe.expire(key, INPUT_TTL)
            await pipe.execute()


def _frame_number(entry_id: bytes | str) -> int:
    """A frame's number: its stream id read as one increasing integer (ms and sequence)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    millis, _, seq = text.partition("-")
    return int(millis) * 1000 + int(seq or 0)
