"""Delivering webhooks: a loop in every worker (in the web process when embedded).

Each pass claims due ``webhook_delivery`` rows (``models.webhooks.claim_due``: ``FOR UPDATE
SKIP LOCKED`` on Postgres, so many workers share the work), POSTs them with httpx and records
the try (status code, error, duration). A 2xx delivers; anything else is tried again after
``backoff(tries)`` (``TASKDECK_WEBHOOK_RETRY_BASE`` doubling, at most an hour) until the delivery
is ``TASKDECK_WEBHOOK_RETRY_FOR`` (24 h) old. The state is in the database, so a restart loses
nothing: a stopping worker finishes the POSTs under way and records them, and a row claimed by
a worker that died is due again after its in-flight window (the POST's timeout + 30 s).

Signature, as Stripe does it: ``Taskdeck-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"{t}.{body}" under the hook's secret>`` (``sign``/``verify``). Logs never name the URL (a
Discord or Slack URL is itself a credential) nor the secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from contextlib import suppress

import httpx

from models import webhooks
from models.db import Database
from models.settings import Settings
from models.vault import Vault
from workers.retry import backoff
from workers.webhook_formats import render

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Taskdeck-Signature"
BATCH = 20
RETRY_CAP = 3600.0
IN_FLIGHT_SLACK = 30.0  # a claimed row is due again this long after the POST's timeout


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """What a receiver does: the ``v1`` matches and ``t`` is recent (replays are refused)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).partition(",v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSender:
    def __init__(self, *, db: Database, vault: Vault, settings: Settings) -> None:
        self.db = db
        self.vault = vault
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False)
        self._stopping = asyncio.Event()

    async def close(self) -> None:
        await self.client.aclose()

    def stop(self) -> None:
        """Claim nothing more; the pass under way finishes and records its tries."""
        self._stopping.set()

    async def run(self, interval: float) -> None:
        """Deliver what is due until ``stop``; a failing pass is logged and the next one tries again."""
        while not self._stopping.is_set():
            sent = 0
            try:
                sent = await self.send_due()
            except Exception as exc:
                log.warning("webhook delivery pass failed: %s", exc)
            if sent < BATCH:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    async def send_due(self) -> int:
        async with self.db.begin() as session:
            due = await webhooks.claim_due(
                session, limit=BATCH, in_flight=self.settings.webhook_timeout + IN_FLIGHT_SLACK
            )
        await asyncio.gather(*(self.send(d) for d in due))
        return len(due)

    async def send(self, due: webhooks.Due) -> str:
        """POST one claimed delivery and record the try; returns the delivery's status."""
        body = json.dumps(render(due), separators=(",", ":"), default=str).encode()
        code: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            secret = self.vault.open(due.sealed_secret)["secret"]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Taskdeck-Webhooks/1",
                "Taskdeck-Event": due.event,
                "Taskdeck-Delivery": str(due.id),
                SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            }
            response = await self.client.post(due.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
        except Exception as exc:  # a sealed secret that no longer opens, a malformed URL
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = round((time.monotonic() - started) * 1000)
        retry_in = backoff(due.tries, base=self.settings.webhook_retry_base, cap=RETRY_CAP).total_seconds()
        for _ in range(3):  # the database may blink; the in-flight window covers the rest
            with suppress(Exception):
                async with self.db.begin() as session:
                    return await webhooks.record_try(
                        session,
                        due=due,
                        status_code=code,
                        error=error,
                        duration_ms=duration,
                        retry_in=retry_in,
                        retry_for=self.settings.webhook_retry_for,
                    )
            await asyncio.sleep(0.5)
        log.warning("webhook delivery %s: could not record try %s", due.id, due.tries)
        return ""
