"""The Redis stream's figures (length, unacknowledged doorbells) for ``/metrics`` and ``/api/queue``."""

from __future__ import annotations

from models import redis_url
from webapp.services import Services


async def queue_figures(services: Services) -> dict[str, int]:
    settings = services.settings
    if not settings.redis_url:
        return {}
    client = redis_url.connect(
        settings.redis_url, cluster=settings.redis_cluster, socket_connect_timeout=3, socket_timeout=3
    )
    try:
        length = await client.xlen(settings.queue_name)
        pending = 0
        try:
            summary = await client.xpending(settings.queue_name, f"{settings.queue_name}-workers")
            pending = int(summary.get("pending", 0))
        except Exception:  # no group yet
            pending = 0
        return {"stream_length": int(length), "unacknowledged": pending}
    except Exception:
        return {}  # Redis away: /readyz says so; the database figures still answer
    finally:
        await client.aclose()
