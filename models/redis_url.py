"""Which Redis ``REDIS_URL`` names, and a client for it: one Redis (``redis://``, ``rediss://``),
the current master of a Sentinel set (``redis+sentinel://[:pw@]host:port[,host:port…]/<master>[/db]``),
or, with ``TASKDECK_REDIS_CLUSTER=true``, a Redis Cluster reached through the node the URL names
(a cluster client: it learns the slot map and follows redirections).

Everything that talks to Redis outside taskiq's broker (readiness, metrics, the live view) connects
through ``connect`` so a Sentinel URL works everywhere, not only in the broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.sentinel import Sentinel

SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    master: str
    db: int = 0
    password: str | None = None
    sentinel_password: str | None = None


def redis_target(url: str) -> SentinelTarget | None:
    """The Sentinel set a ``redis+sentinel://`` URL names; None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "redis+sentinel":
        return None
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if userinfo else None
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        sentinels.append((name or host, int(port) if port else SENTINEL_PORT))
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not path:
        raise ValueError("REDIS_URL: redis+sentinel://host:port[,host:port…]/<master name>[/db] expected")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=sentinels,
        master=path[0],
        db=int(path[1]) if len(path) > 1 else 0,
        password=password or None,
        sentinel_password=next(iter(query.get("sentinel_password", [])), None),
    )


def connect(url: str, *, cluster: bool = False, **kwargs: Any) -> Redis:
    """A client for ``url``; with Sentinel, one that follows the current master; with
    ``cluster`` (``Settings.redis_cluster``), a cluster client (the same commands, per slot)."""
    if cluster:
        return RedisCluster.from_url(url, **kwargs)  # type: ignore[return-value]
    target = redis_target(url)
    if target is None:
        return Redis.from_url(url, **kwargs)
    sentinel_kwargs: dict[str, Any] = {
        k: v for k, v in kwargs.items() if k in ("socket_timeout", "socket_connect_timeout")
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    sentinel = Sentinel(target.sentinels, sentinel_kwargs=sentinel_kwargs, **kwargs)
    return sentinel.master_for(target.master, db=target.db, password=target.password)
