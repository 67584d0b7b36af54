"""The one secret a deployment holds, and the secrets derived from it.

``TASKDECK_SECRET_KEY`` (a Fernet key) encrypts profiles and accounts (``models.vault``). The
dashboard's cookie-signing secret is derived from it with HMAC-SHA256 under its own label, so the
vault key itself is never used as a cookie secret and no constant ever is.

Embedded SQLite mode creates the key file on first use, as before; with Postgres (a real
deployment, several processes) a missing key is a start-up error that says how to make one.
"""

from __future__ import annotations

import hashlib
import hmac

from models.errors import TaskdeckError
from models.settings import Settings
from models.vault import load_key

MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
COOKIE_LABEL = b"taskdeck/session-cookie/v1"


class MissingSecretKey(TaskdeckError):
    """TASKDECK_SECRET_KEY is not set."""

    def __init__(self, key_file: object) -> None:
        super().__init__(
            f"TASKDECK_SECRET_KEY is not set and the key file {key_file} does not exist. "
            f"Make a key once with\n    {MAKE_KEY}\n(or: python -m webapp secret-key) "
            "and give the same one to the webapp and every worker as TASKDECK_SECRET_KEY "
            "(or write it to the file named by TASKDECK_SECRET_KEY_FILE). "
            "Keep it: profiles and accounts cannot be read without it."
        )


def secret_key(settings: Settings) -> bytes:
    """The deployment's key: set, or read from the key file; created only in SQLite mode."""
    if not settings.secret_key and not settings.is_sqlite and not settings.secret_key_file.exists():
        raise MissingSecretKey(settings.secret_key_file)
    return load_key(settings.secret_key, settings.secret_key_file)


def derive(key: bytes, label: bytes) -> str:
    """A secret of its own for ``label``: HMAC-SHA256(key, label), hex."""
    return hmac.new(key, label, hashlib.sha256).hexdigest()


def cookie_secret(key: bytes) -> str:
    return derive(key, COOKIE_LABEL)
