"""``/api/watches``: one product watched at several stores, bought once at the first listing in
stock at or under its maximum price.

Reads go through ``models.watch_queries`` and writes through ``webapp.watch_commands``, both with
the caller's viewer: another user's watch answers 404 like an unknown one.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from models import watch_queries
from models.access import Viewer
from models.tables import Watch
from models.watch_schemas import (
    ListingPublic,
    ObservationPublic,
    WatchCreate,
    WatchDetail,
    WatchHistory,
    WatchList,
    WatchPublic,
    WatchPurchase,
    WatchUpdate,
    public_fields,
)
from webapp import watch_commands
from webapp.api import examples
from webapp.api.errors import api_router
from webapp.api.params import Limit, Offset, WatchId
from webapp.auth import ViewerDep
from webapp.services import Services


def summary(row: watch_queries.WatchRow) -> WatchPublic:
    return WatchPublic(**public_fields(row.watch), best_price=row.best_price, last_change=row.last_change)


def create_watches_router(services: Services) -> APIRouter:
    router = api_router(prefix="/watches", tags=["watches"])
    db = services.db

    async def detail(watch_id: uuid.UUID, viewer: Viewer) -> WatchDetail:
        async with db.session() as session:
            row = await watch_queries.get_watch(session, watch_id, viewer=viewer)
            listings = await watch_queries.watch_listings(session, watch_id, viewer=viewer)
            purchase = await watch_queries.watch_purchase(session, watch_id, viewer=viewer)
        return WatchDetail(
            **summary(row).model_dump(),
            listings=[
                ListingPublic.model_validate(
                    {
                        **{
                            k: getattr(r.listing, k)
                            for k in ListingPublic.model_fields
                            if hasattr(r.listing, k)
                        },
                        "task_status": r.task_status,
                        "last_check_at": r.last_check_at,
                    }
                )
                for r in listings
            ],
            purchase=WatchPurchase.model_validate(purchase, from_attributes=True) if purchase else None,
        )

    @router.post(
        "",
        status_code=201,
        response_model=WatchDetail,
        summary="Watch a product at several stores; buy it once",
        responses=examples.answer(201, examples.WATCH_DETAIL),
    )
    async def create_watch(body: WatchCreate, viewer: ViewerDep) -> WatchDetail:
        """One monitor task per listing starts checking now; the first listing in stock at or
        under its ``maxPrice`` buys ``quantity``, and every other listing stops."""
        watch: Watch = await watch_commands.create_watch(services, body, viewer=viewer)
        return await detail(watch.id, viewer)

    @router.get(
        "",
        response_model=WatchList,
        summary="Your watches, newest first",
        responses=examples.answer(200, examples.WATCH_LIST),
    )
    async def list_watches(
        viewer: ViewerDep,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> WatchList:
        async with db.session() as session:
            rows, count = await watch_queries.list_watches(session, viewer=viewer, limit=limit, offset=offset)
        return WatchList(data=[summary(row) for row in rows], count=count)

    @router.get(
        "/{id}",
        response_model=WatchDetail,
        summary="A watch with its listings and its purchase",
        responses=examples.answer(200, examples.WATCH_DETAIL),
    )
    async def get_watch(watch_id: WatchId, viewer: ViewerDep) -> WatchDetail:
        return await detail(watch_id, viewer)

    @router.patch(
        "/{id}",
        response_model=WatchDetail,
        summary="Change a watching watch",
        responses=examples.answer(200, examples.WATCH_DETAIL),
    )
    async def edit_watch(watch_id: WatchId, body: WatchUpdate, viewer: ViewerDep) -> WatchDetail:
        """Name, ``checkEvery``, ``until`` and the listings, while it is ``watching`` (409
        otherwise, or while a changed listing's check is running: try again). ``listings`` is the
        whole new set — a new one starts checking, a missing one stops — or ``maxPrices`` changes
        prices only."""
        await watch_commands.edit_watch(services, watch_id, body, viewer=viewer)
        return await detail(watch_id, viewer)

    @router.get(
        "/{id}/history",
        response_model=WatchHistory,
        summary="Price and stock of each listing whenever either changed",
        responses=examples.answer(200, examples.WATCH_HISTORY),
    )
    async def history(watch_id: WatchId, viewer: ViewerDep) -> WatchHistory:
        async with db.session() as session:
            rows = await watch_queries.watch_history(session, watch_id, viewer=viewer)
        return WatchHistory(data=[ObservationPublic.model_validate(r, from_attributes=True) for r in rows])

    @router.post(
        "/{id}/cancel",
        response_model=WatchDetail,
        summary="Stop watching",
        responses=examples.answer(200, {**examples.WATCH_DETAIL, "status": "cancelled"}),
    )
    async def cancel(watch_id: WatchId, viewer: ViewerDep) -> WatchDetail:
        """``watching`` or ``buying`` → ``cancelled`` (409 otherwise); every listing stops (a
        purchase already in flight ends as the store says)."""
        await watch_commands.cancel_watch(services, watch_id, viewer=viewer)
        return await detail(watch_id, viewer)

    @router.delete("/{id}", status_code=204, response_class=Response, summary="Delete a watch that has ended")
    async def delete(watch_id: WatchId, viewer: ViewerDep) -> Response:
        """With its listings, history and tasks (its purchase stays); 409 while it watches."""
        await watch_commands.delete_watch(services, watch_id, viewer=viewer)
        return Response(status_code=204)

    return router
