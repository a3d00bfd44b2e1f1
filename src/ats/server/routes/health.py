"""Liveness with the database checked."""

from __future__ import annotations

from fastapi import APIRouter

from ats import __version__
from ats.models import iso, now_ms
from ats.server import wire
from ats.server.body import JsonRoute
from ats.server.deps import Svc
from ats.server.responses import JSON

router = APIRouter(tags=["health"], route_class=JsonRoute)


@router.get("/health", summary="Server and database status", responses=wire.answers(wire.Health))
async def health(svc: Svc) -> JSON:
    await svc.store.upkeep.ping()
    return JSON(
        {
            "status": "ok",
            "timestamp": iso(now_ms()),
            "version": __version__,
            "database": svc.store.kind,
        }
    )
