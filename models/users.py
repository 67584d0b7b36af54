"""Users and API tokens: create, find, check a password, issue and revoke tokens.

Passwords are hashed with argon2id (pwdlib). API tokens are ``td_`` + 32 random bytes
(URL-safe base64); only their SHA-256 is stored, so a token is shown once, when it is made.
Emails are stored lower-cased and trimmed, which makes the unique index case-insensitive.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.access import Viewer
from models.errors import TaskdeckError
from models.tables import ApiToken, User
from models.types import utcnow

TOKEN_PREFIX = "td_"
# NOTIFYed (empty payload) in the transaction that revokes a token or disables a user: web
# processes that remember token → user for a few seconds (webapp/token_cache.py) forget it
AUTH_CHANNEL = "taskdeck_auth"
_hasher = PasswordHash.recommended()
# a real hash to verify against when the email is unknown: the answer takes as long either way
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserExists(TaskdeckError):
    """a user with this email exists"""


class UserNotFound(TaskdeckError):
    """no such user"""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def viewer_of(user: User) -> Viewer:
    return Viewer(user_id=user.id, email=user.email, is_admin=user.is_admin)


async def create_user(session: AsyncSession, *, email: str, password: str, is_admin: bool = False) -> User:
    email = normalize_email(email)
    if await user_by_email(session, email) is not None:
        raise UserExists(f"a user with email {email} exists")
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    await session.flush()
    return user


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    row = await session.execute(select(User).where(col(User.email) == normalize_email(email)))
    return row.scalars().first()


async def require_user(session: AsyncSession, email: str) -> User:
    user = await user_by_email(session, email)
    if user is None:
        raise UserNotFound(f"no user with email {normalize_email(email)}")
    return user


async def user_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.execute(select(User).order_by(col(User.created_at)))).scalars())


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User | None:
    """The user when the password is right and the account enabled; ``None`` otherwise (which,
    the caller does not learn). Stamps ``last_login_at``; rehashes an outdated hash."""
    user = await user_by_email(session, email)
    # argon2 is deliberately slow: verify in a thread, off the web process's event loop
    if user is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return None
    ok, new_hash = await asyncio.to_thread(_hasher.verify_and_update, password, user.password_hash)
    if not ok or user.disabled:
        return None
    user.last_login_at = utcnow()
    if new_hash is not None:
        user.password_hash = new_hash
    await session.flush()
    return user


async def set_password(session: AsyncSession, *, email: str, password: str) -> User:
    user = await require_user(session, email)
    user.password_hash = hash_password(password)
    await session.flush()
    return user


async def set_disabled(session: AsyncSession, *, email: str, disabled: bool = True) -> User:
    user = await require_user(session, email)
    user.disabled = disabled
    await session.flush()
    await _announce(session)
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the plain token exists
    row: ApiToken


async def create_token(session: AsyncSession, *, owner_id: uuid.UUID, name: str) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(owner_id=owner_id, name=name, token_hash=token_digest(token))
    session.add(row)
    await session.flush()
    return IssuedToken(token=token, row=row)


async def list_tokens(session: AsyncSession, *, viewer: Viewer) -> list[ApiToken]:
    stmt = (
        select(ApiToken)
        .where(col(ApiToken.owner_id) == viewer.user_id)
        .order_by(col(ApiToken.created_at).desc())
    )
    return list((await session.execute(stmt)).scalars())


async def revoke_token(
    session: AsyncSession,
    *,
    token_id: uuid.UUID,
    viewer: Viewer | None = None,
    owner_id: uuid.UUID | None = None,
) -> bool:
    """Delete a token; with a viewer, only one of the viewer's own (admins: anyone's); with an
    ``owner_id``, only one of that user's."""
    stmt = select(ApiToken).where(col(ApiToken.id) == token_id)
    if viewer is not None:
        stmt = stmt.where(viewer.owner_filter(col(ApiToken.owner_id)))
    if owner_id is not None:
        stmt = stmt.where(col(ApiToken.owner_id) == owner_id)
    row = (await session.execute(stmt)).scalars().first()
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    await _announce(session)
    return True


async def _announce(session: AsyncSession) -> None:
    """Tell every web process, at commit, that a token or a user's standing changed."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(AUTH_CHANNEL, "")))


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    """The enabled user a bearer token belongs to; stamps the token's ``last_used_at``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    stmt = (
        select(User, col(ApiToken.id))
        .join(ApiToken, col(ApiToken.owner_id) == col(User.id))
        .where(col(ApiToken.token_hash) == token_digest(token), col(User.disabled).is_(False))
    )
    found = (await session.execute(stmt)).first()
    if found is None:
        return None
    user, token_id = found
    await session.execute(update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=utcnow()))
    return user  # type: ignore[no-any-return]


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)
