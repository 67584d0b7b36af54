"""``/api/purchases`` and ``/api/purchases.csv``: your orders placed (an admin's: everyone's, or one
``owner``'s), newest first, narrowed by ``store`` and by days ``from``/``to`` (both included, in
the time zone ``tz``, UTC unless given). The CSV has every match (``webapp.purchases_csv``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from models import queries
from models.access import Viewer
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.params import Limit, Offset
from webapp.api.schemas import PurchaseList, PurchasePublic
from webapp.auth import ViewerDep
from webapp.errors import BadInput
from webapp.purchases_csv import FILENAME, csv_text
from webapp.services import Services
from webapp.validation import check_text


class CSVResponse(Response):
    media_type = "text/csv"


@dataclass
class PurchaseQuery:
    """The filter of both routes, from the query string."""

    store: Annotated[str | None, Query(max_length=64)] = None
    first: Annotated[date | None, Query(alias="from", description="first day (included)")] = None
    last: Annotated[date | None, Query(alias="to", description="last day (included)")] = None
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the days")] = "UTC"
    owner: Annotated[uuid.UUID | None, Query(description="admins: only this user's (a user id)")] = None

    def where(self) -> queries.PurchaseFilter:
        check_text(self.store, "store", where="query")
        check_text(self.tz, "tz", where="query")
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"tz: unknown time zone {self.tz!r}", field="tz", where="query") from None
        if self.first and self.last and self.last < self.first:
            raise BadInput("to: must not be before from", field="to", where="query")
        return queries.PurchaseFilter.days(
            first=self.first, last=self.last, tz=zone, store=self.store, owner=self.owner
        )


def create_purchases_router(services: Services) -> APIRouter:
    router = api_router(tags=["purchases"])

    @router.get(
        "/purchases",
        response_model=PurchaseList,
        summary="Purchases, newest first",
        responses=examples.answer(200, examples.PURCHASES),
    )
    async def list_purchases(
        viewer: ViewerDep,
        query: Annotated[PurchaseQuery, Depends()],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> PurchaseList:
        where = query.where()
        async with services.db.session() as session:
            rows, count = await queries.list_purchases(
                session, viewer=viewer, where=where, limit=limit, offset=offset
            )
        return PurchaseList(data=[PurchasePublic.model_validate(p) for p, _ in rows], count=count)

    @router.get(
        "/purchases.csv",
        response_class=CSVResponse,
        summary="Purchases as CSV, every match, newest first",
        responses={200: {"content": {"text/csv": {"example": examples.PURCHASES_CSV}}}},
    )
    async def purchases_csv(viewer: ViewerDep, query: Annotated[PurchaseQuery, Depends()]) -> CSVResponse:
        return CSVResponse(
            await export(services, viewer, query.where()),
            headers={"Content-Disposition": f'attachment; filename="{FILENAME}"'},
        )

    return router


async def export(services: Services, viewer: Viewer, where: queries.PurchaseFilter) -> str:
    async with services.db.session() as session:
        owners = await queries.owner_emails(session, viewer=viewer)
        return await csv_text(queries.each_purchase(session, viewer=viewer, where=where), owners)
