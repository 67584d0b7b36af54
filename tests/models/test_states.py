"""The state machine, walked pair by pair, against the database's guarded UPDATE."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from models import sweeps
from models.db import Database
from models.errors import InvalidTransition
from models.moves import move
from models.schemas import TaskCreate
from models.settings import Settings
from models.states import ACTIONS, MOVES, TERMINAL, TaskStatus, can_move, sources_for
from models.tables import Task
from models.tasks import create_task
from models.types import utcnow

S = TaskStatus

EXPECTED_LEGAL = {
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.SCHEDULED),
    (S.PENDING, S.PAUSED),
    (S.PENDING, S.CANCELLED),
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.PAUSED),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.FAILED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.PAUSED),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.RETRYING),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.SCHEDULED),
    (S.RUNNING, S.QUEUED),
    (S.RUNNING, S.UNKNOWN),
    (S.RUNNING, S.ACTION_NEEDED),
    # waiting for a person: handed back, or ended as its run ends (or finished by hand)
    (S.ACTION_NEEDED, S.RUNNING),
    (S.ACTION_NEEDED, S.COMPLETED),
    (S.ACTION_NEEDED, S.RETRYING),
    (S.ACTION_NEEDED, S.FAILED),
    (S.ACTION_NEEDED, S.CANCELLED),
    (S.ACTION_NEEDED, S.SCHEDULED),
    (S.ACTION_NEEDED, S.QUEUED),
    (S.ACTION_NEEDED, S.UNKNOWN),
    (S.RETRYING, S.QUEUED),
    (S.RETRYING, S.PAUSED),
    (S.RETRYING, S.CANCELLED),
    (S.RETRYING, S.FAILED),
    (S.PAUSED, S.PENDING),
    (S.PAUSED, S.QUEUED),
    (S.PAUSED, S.FAILED),
    (S.PAUSED, S.SCHEDULED),
    (S.PAUSED, S.CANCELLED),
    (S.FAILED, S.QUEUED),
    (S.CANCELLED, S.QUEUED),
    (S.UNKNOWN, S.COMPLETED),
    (S.UNKNOWN, S.FAILED),
}
ALL_PAIRS = list(itertools.product(S, S))


def test_eleven_states_with_seed_names() -> None:
    assert {s.value for s in S} >= {"queued", "running", "completed", "failed", "cancelled", "unknown"}
    assert len(S) == 11


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_table(src: TaskStatus, dst: TaskStatus) -> None:
    assert can_move(src, dst) == ((src, dst) in EXPECTED_LEGAL)
    assert (src in sources_for(dst)) == ((src, dst) in EXPECTED_LEGAL)


def test_completed_is_final_and_actions_are_legal_moves() -> None:
    assert MOVES[S.COMPLETED] == frozenset()
    assert S.COMPLETED in TERMINAL
    targets = {
        "start": S.QUEUED,
        "pause": S.PAUSED,
        "retry": S.QUEUED,
        "cancel": S.CANCELLED,
        "mark-bought": S.COMPLETED,
        "mark-not-bought": S.FAILED,
        "finish": S.COMPLETED,
    }
    for action, target in targets.items():
        for src in ACTIONS[action] - {S.RUNNING, S.ACTION_NEEDED}:
            assert can_move(src, target), (action, src)
    assert S.RUNNING not in ACTIONS["delete"] and S.ACTION_NEEDED not in ACTIONS["delete"]
    assert can_move(S.ACTION_NEEDED, S.RUNNING) and S.ACTION_NEEDED in ACTIONS["resume"]  # a hand-back


def test_unknown_waits_for_a_person() -> None:
    """Nothing moves an unknown task by itself: only the two marks leave it, and no retry."""
    assert sources_for(S.UNKNOWN) == {S.RUNNING, S.ACTION_NEEDED}  # ended by its run
    assert MOVES[S.UNKNOWN] == {S.COMPLETED, S.FAILED}
    assert S.UNKNOWN not in ACTIONS["retry"] | ACTIONS["start"] | ACTIONS["cancel"]


async def test_every_pair_through_the_database(db: Database) -> None:
    """The guarded UPDATE lets exactly the legal pairs through."""
    async with db.begin() as session:
        task = await create_task(
            session, data=TaskCreate(name="t", store="noop", product="p", start="later"), settings=Settings()
        )
    for src, dst in ALL_PAIRS:
        async with db.begin() as session:
            await session.execute(update(Task).where(Task.id == task.id).values(status=src.value))
        async with db.begin() as session:
            if (src, dst) in EXPECTED_LEGAL:
                moved = await move(session, task_id=task.id, to=dst)
                assert moved.status == dst.value
            else:
                with pytest.raises(InvalidTransition) as err:
                    await move(session, task_id=task.id, to=dst)
                assert src.value in str(err.value)


def test_the_sweeps_take_their_source_states_from_the_moves() -> None:
    """Each sweep moves only what ``MOVES`` allows: dropping a move there narrows the sweep."""
    assert sweeps.STAGE_FROM == {S.SCHEDULED, S.RETRYING}
    assert sweeps.EXPIRE_FROM == {S.SCHEDULED, S.RETRYING, S.QUEUED}
    assert sweeps.RESCUE_FROM == {S.RUNNING, S.ACTION_NEEDED}
    assert all(can_move(src, S.QUEUED) for src in sweeps.STAGE_FROM)
    assert all(can_move(src, S.FAILED) for src in sweeps.EXPIRE_FROM)
    assert all(can_move(src, to) for src in sweeps.RESCUE_FROM for to in sweeps.RESCUE_TO)


def _stage(session: Any) -> Any:
    return sweeps.stage_due(session)


def _expire(session: Any) -> Any:
    return sweeps.expire_monitors(session)


def _rescue(session: Any) -> Any:
    return sweeps.rescue_stale(session, timeout=60)


# each sweep, the states it may move tasks out of, and the fields that make a task its business
SWEEPS = {
    "stage_due": (_stage, sweeps.STAGE_FROM, {"run_at": -3600}),
    "expire_monitors": (_expire, sweeps.EXPIRE_FROM, {"until": -3600}),
    "rescue_stale": (_rescue, sweeps.RESCUE_FROM, {"heartbeat_at": -3600}),
}


@pytest.mark.parametrize("name", list(SWEEPS))
async def test_each_sweep_moves_only_what_the_moves_allow(db: Database, name: str) -> None:
    """One task in every state, each due for the sweep; the sweep moves exactly those in its
    source states, and each to a state ``MOVES`` allows from there."""
    sweep, sources, due = SWEEPS[name]
    assert all(MOVES[src] for src in sources)
    placed = {}
    async with db.begin() as session:
        for src in S:
            task = await create_task(
                session,
                data=TaskCreate(name=src.value, store="noop", product="p", start="later"),
                settings=Settings(),
            )
            placed[task.id] = src
        for task_id, src in placed.items():
            times = {key: utcnow() + timedelta(seconds=offset) for key, offset in due.items()}
            await session.execute(update(Task).where(Task.id == task_id).values(status=src.value, **times))
    async with db.begin() as session:
        await sweep(session)
    async with db.session() as session:
        now = {task_id: status for task_id, status in await session.execute(select(Task.id, Task.status))}
    moved = {placed[t]: S(now[t]) for t in placed if now[t] != placed[t].value}
    assert set(moved) == set(sources), name
    assert all(can_move(src, dst) for src, dst in moved.items()), moved
