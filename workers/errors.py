"""How a bot says what should happen next.

BotError
├── RetryableError   transient: try again after a backoff while attempts are left
├── PermanentError   trying again cannot help: the task fails now
│   └── NobodyCame   the bot asked for a person (ctx.needs_attention) and nobody came in time
└── NotAvailableYet  monitor mode: not in stock yet; check again later, no attempt used
BrowserLost          the Chromium under the task died; retried on a fresh browser
"""

from __future__ import annotations


class BotError(Exception):
    """The bot stopped."""

    def __init__(self, message: str | None = None, *, step: str | None = None) -> None:
        super().__init__(message or self.__doc__)
        self.step = step


class RetryableError(BotError):
    """A transient failure; the task is retried."""

    def __init__(
        self, message: str | None = None, *, step: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, step=step)
        self.retry_after = retry_after


class PermanentError(BotError):
    """A failure that another attempt cannot fix."""


class NobodyCame(PermanentError):
    """Nobody took over in time."""


class NotAvailableYet(BotError):
    """The product is not available yet."""

    def __init__(
        self, message: str | None = None, *, step: str | None = None, observation: str | None = None
    ) -> None:
        super().__init__(message, step=step)
        self.observation = observation or str(self)


class BrowserLost(RetryableError):
    """The browser went away during the task."""
