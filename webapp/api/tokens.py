"""``/api/tokens``: the caller's own API tokens. A token is shown once, when it is made; only its
SHA-256 is kept. Another user's token id answers 404, as an unknown one does (admins included:
a token is a personal credential; ``python -m webapp tokens revoke ID`` revokes anyone's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import ConfigDict, StringConstraints

from models import users
from models.schemas import Camel
from models.tables import ApiToken
from webapp.api import examples
from webapp.api.errors import NotFound, api_router
from webapp.api.schemas import CamelOut
from webapp.auth import ViewerDep
from webapp.services import Services

TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TokenCreate(Camel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "ci"}]})

    name: TokenName


class TokenPublic(CamelOut):
    id: uuid.UUID
    name: str
    created: datetime
    last_used: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenPublic:
        return cls(id=row.id, name=row.name, created=row.created_at, last_used=row.last_used_at)


class TokenCreated(TokenPublic):
    token: str  # shown this once


class TokenList(CamelOut):
    data: list[TokenPublic]
    count: int


def create_tokens_router(services: Services) -> APIRouter:
    router = api_router(tags=["tokens"])

    @router.get(
        "/tokens",
        response_model=TokenList,
        summary="Your API tokens (never the token itself)",
        responses=examples.answer(200, {"data": [examples.TOKEN], "count": 1}),
    )
    async def list_tokens(viewer: ViewerDep) -> TokenList:
        async with services.db.session() as session:
            rows = await users.list_tokens(session, viewer=viewer)
        return TokenList(data=[TokenPublic.of(r) for r in rows], count=len(rows))

    @router.post(
        "/tokens",
        status_code=201,
        response_model=TokenCreated,
        summary="Make an API token (shown once)",
        responses=examples.answer(201, {**examples.TOKEN, "token": "td_3q2-example-shown-once"}),
    )
    async def create_token(body: TokenCreate, viewer: ViewerDep) -> TokenCreated:
        async with services.db.begin() as session:
            issued = await users.create_token(session, owner_id=viewer.user_id, name=body.name)
            public = TokenPublic.of(issued.row)
        return TokenCreated(**public.model_dump(), token=issued.token)

    @router.delete("/tokens/{token_id}", status_code=204, summary="Revoke one of your API tokens")
    async def revoke_token(token_id: uuid.UUID, viewer: ViewerDep) -> Response:
        async with services.db.begin() as session:
            if not await users.revoke_token(session, token_id=token_id, owner_id=viewer.user_id):
                raise NotFound(f"no token with id {token_id}")
        services.tokens.clear()  # this process at once; others through the NOTIFY
        return Response(status_code=204)

    return router
