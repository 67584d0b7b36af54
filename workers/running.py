"""One run of a claimed task, as its worker tracks it (``WorkerRuntime.running``, by lease).

The heartbeat stops a run (``lost``, ``cancel``), shutdown hands it back (``shutdown``); the
executor, the bot's time limit (``workers/bounds.py``) and the hand-off (``workers/handoff.py``)
read and move what is here. It imports nothing of the worker, so each of them can.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from models.tables import Task


@dataclass
class Running:
    task: Task
    bot: asyncio.Future[Any] | None = None
    stop_reason: str | None = None  # "cancel" | "lost" | "shutdown"
    checkpointed: bool = False  # past the irreversible click: a cancel or shutdown waits for its answer
    deadline: asyncio.Timeout | None = None  # the bot's time limit (a wait for a person moves it out)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.checkpointed and reason != "lost":
            return
        if self.bot is not None and not self.bot.done():
            self.bot.cancel()
