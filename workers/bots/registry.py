"""Store bots, registered by name.

Bundled bots register with ``@bot("name")``; installed packages add theirs through the
``taskdeck.bots`` entry-point group, whose entries point at a ``StoreBot`` (or a module that
registers with the decorator on import). A name registered twice is an error at start-up; an
unknown store is an ``UnknownStore`` (a 4xx at creation, a permanent failure at run time).

Optional bundled stores are hidden unless the process's settings turn them on: ``configure(noop=...)``
is called with ``settings.noop_enabled`` by the webapp and by every worker, so both agree which
stores exist. A hidden store is unknown everywhere (listing, creation, execution).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from workers.bots.base import BotContext, ProductInfo, Purchase
from workers.errors import PermanentError

Run = Callable[[BotContext], Awaitable[Purchase]]
Lookup = Callable[[BotContext], Awaitable[ProductInfo]]
# the order the store holds for ``ctx.task.id`` (its reference), None when it says there is none;
# raises when the store cannot be asked. ``ctx.page`` is None: it may run after the browser died.
LookupOrder = Callable[[BotContext], Awaitable[Purchase | None]]

ENTRY_POINT_GROUP = "taskdeck.bots"
BUNDLED = ("workers.bots.demo", "workers.bots.noop")
OPTIONAL = frozenset({"noop"})  # hidden unless configure() turns them on


class UnknownStore(PermanentError):
    """No bot is registered for this store."""


class DuplicateStore(RuntimeError):
    """Two bots were registered under one store name."""


@dataclass(frozen=True, kw_only=True)
class StoreBot:
    name: str
    run: Run
    lookup: Lookup | None = None
    lookup_order: LookupOrder | None = None
    needs_browser: bool = True
    title: str = ""


_bots: dict[str, StoreBot] = {}
_loaded = False
_hidden: frozenset[str] = OPTIONAL


def configure(*, noop: bool) -> None:
    """Offer (or hide) the ``noop`` store in this process: ``noop=settings.noop_enabled``."""
    global _hidden
    _hidden = OPTIONAL - {"noop"} if noop else OPTIONAL


def register(spec: StoreBot) -> StoreBot:
    existing = _bots.get(spec.name)
    if existing is not None and existing != spec:
        raise DuplicateStore(f"store {spec.name!r} is registered twice")
    _bots[spec.name] = spec
    return spec


def bot(
    name: str,
    *,
    lookup: Lookup | None = None,
    lookup_order: LookupOrder | None = None,
    needs_browser: bool = True,
    title: str = "",
) -> Callable[[Run], Run]:
    """Register ``run`` as the bot of store ``name``."""

    def decorate(run: Run) -> Run:
        register(
            StoreBot(
                name=name,
                run=run,
                lookup=lookup,
                lookup_order=lookup_order,
                needs_browser=needs_browser,
                title=title or name,
            )
        )
        return run

    return decorate


def load() -> dict[str, StoreBot]:
    """Import the bundled bots and every ``taskdeck.bots`` entry point, once; the stores offered."""
    global _loaded
    if not _loaded:
        for module in BUNDLED:
            importlib.import_module(module)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            target = ep.load()
            if isinstance(target, StoreBot):
                register(target)
        _loaded = True
    return {name: spec for name, spec in _bots.items() if name not in _hidden}


def get(name: str) -> StoreBot:
    bots = load()
    try:
        return bots[name]
    except KeyError:
        raise UnknownStore(f"unknown store {name!r}; known stores: {', '.join(sorted(bots))}") from None


def names() -> list[str]:
    return sorted(load())
