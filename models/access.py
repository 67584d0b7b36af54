"""Who is asking: the one value every read and write of owned rows is given.

A ``Viewer`` is built by the web process from a session cookie or an API token
(``webapp/auth.py``) and passed to the query layer and the command path, which filter by
``owner_filter``. Workers act for the task's owner and need no viewer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: uuid.UUID
    email: str
    is_admin: bool = False

    def owner_filter(self, owner_column: Any) -> ColumnElement[bool]:
        """``owner_id = :me`` for a user; no restriction for an admin."""
        return true() if self.is_admin else owner_column == self.user_id

    def may_see(self, owner_id: uuid.UUID | None) -> bool:
        return self.is_admin or owner_id == self.user_id


def owned(viewer: Viewer, column: Any, owner: uuid.UUID | None = None) -> list[ColumnElement[bool]]:
    """The viewer's rows (an admin: all), narrowed to ``owner``'s when one is given."""
    filters = [viewer.owner_filter(column)]
    if owner is not None:
        filters.append(column == owner)
    return filters
