"""Routes of the dashboard: the static app at ``/``, ``/events`` (server-sent events) and ``/dashboard/api/*``.

The JSON endpoints read the live view (:class:`packtwin.demo.live.LiveFleet`) and the time-series store. Per-cell
states of charge and health are passport values of the ``legitimateInterest`` access group (IDTA 02035-5 Product
Condition), so those endpoints need a role cleared for that group; the passport itself is read by the browser
through the AAS API with the caller's own credentials.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from packtwin.aas.api.auth import resolve_role
from packtwin.aas.api.errors import ApiError
from packtwin.demo.live import LiveFleet
from packtwin.ontology import catalog
from packtwin.submodels.access import AccessGroup, Role
from packtwin.timeseries.base import TimeSeriesStore, downsample
from packtwin.web.events import EventHub

STATIC = Path(__file__).with_name("static")
MAX_POINTS = 240
MIN_FADE_PCT = 0.5  # capacity change over the trend before a remaining-useful-life fit means anything


@dataclass
class Dashboard:
    live: LiveFleet
    timeseries: TimeSeriesStore
    hub: EventHub
    # What runs (for the status line); called on every status request.
    status: Callable[[], dict[str, Any]]
    # Demo accounts {role: api key} handed to loopback browsers so a visitor can "sign in as" a role; None otherwise.
    accounts: dict[str, str] | None = None
    rated_capacity_ah: float = 5.0
    eol_soh_pct: float = 80.0
    # The demo's simulator ages cells this many times faster than they cycle: the cycle axis of the fade and RUL
    # counts cycles as the ageing sees them (full-equivalent cycles × this factor).
    cycle_scale: float = 1.0


def _role(conn: HTTPConnection) -> Role:
    key = conn.query_params.get("key")
    if key is not None:  # EventSource cannot send headers: the key may come as a query parameter
        auth = conn.app.state.auth
        for known, role in auth.api_keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return role
        raise ApiError(401, "unknown API key")
    return resolve_role(conn)


def _cleared(conn: HTTPConnection) -> Role:
    role = _role(conn)
    if role.clearance < AccessGroup.LEGITIMATE_INTEREST:
        raise ApiError(401 if role is Role.ANONYMOUS else 403,
                       "live states of charge and health are legitimate-interest data; sign in")
    return role


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


def _clean(values: np.ndarray) -> list[float | None]:
    return [round(float(v), 4) if math.isfinite(v) else None for v in values]


def dashboard_routes(d: Dashboard) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def session(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if d.accounts is None or not client.startswith("127."):
            return _json({"accounts": {}})
        return _json({"accounts": d.accounts})

    async def status(request: Request) -> Response:
        return _json(d.status())

    async def overview(request: Request) -> Response:
        _cleared(request)
        return _json(d.live.overview())

    async def pack(request: Request) -> Response:
        _cleared(request)
        doc = d.live.pack(request.path_params["pack_id"])
        if doc is None:
            raise ApiError(404, "no such pack in the live fleet")
        return _json(doc)

    async def cell(request: Request) -> Response:
        _cleared(request)
        serial = request.path_params["serial"]
        try:
            pack_id, module, cell_no = serial.rsplit("-", 2)
            index = (int(module[1:]) - 1) * d.live.cells_per_module + int(cell_no[1:]) - 1
        except ValueError:
            raise ApiError(400, f"{serial!r} is not a cell serial PACK-Mmm-Cccc") from None
        try:
            window = float(request.query_params.get("window", "1800"))
        except ValueError:
            raise ApiError(400, "window must be a number of seconds") from None
        doc = await asyncio.to_thread(_cell_history, d, pack_id, index, max(window, 10.0))
        if doc is None:
            raise ApiError(404, "no such cell in the live fleet")
        doc["serial"] = serial
        return _json(doc)

    async def queries(request: Request) -> Response:
        return _json([{"name": q.name, "who": q.who, "question": q.question, "needs": q.needs, "sparql": q.sparql}
                      for q in catalog.QUERIES])

    async def events(request: Request) -> Response:
        _cleared(request)
        return StreamingResponse(d.hub.stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return [
        Route("/", index),
        Route("/events", events),
        Route("/dashboard/api/session", session),
        Route("/dashboard/api/status", status),
        Route("/dashboard/api/overview", overview),
        Route("/dashboard/api/packs/{pack_id}", pack),
        Route("/dashboard/api/cells/{serial}", cell),
        Route("/dashboard/api/queries", queries),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _cell_history(d: Dashboard, pack_id: str, index: int, window: float) -> dict[str, Any] | None:
    trend = d.live.cell_trend(pack_id, index)
    if trend is None:
        return None
    trend["cycles"] = [c * d.cycle_scale for c in trend["cycles"]]
    extent = d.timeseries.extent(pack_id)
    out: dict[str, Any] = {"pack_id": pack_id, "index": index, "soc_now_pct": trend["soc_pct"],
                           "cycle_scale": d.cycle_scale}
    if extent is not None:
        t_end = extent[2]
        series = d.timeseries.frames(pack_id, t_end - window, t_end + 1)
        bucket = max(window / MAX_POINTS, 1e-3)
        if len(series):
            t, v = downsample(series.t, series.cell_voltage_v[:, index], bucket)
            _, i = downsample(series.t, series.current_a, bucket)
            out["voltage"] = {"t": _clean(t), "v": _clean(v)}
            out["current"] = {"t": _clean(t), "v": _clean(i)}
        if len(series.temperature_t):
            n_sensors = series.temperature_c.shape[1]
            n_cells = series.cell_voltage_v.shape[1] if len(series) else index + 1
            sensor = min(index * n_sensors // max(n_cells, 1), n_sensors - 1)
            tt, tv = downsample(series.temperature_t, series.temperature_c[:, sensor], bucket)
            out["temperature"] = {"t": _clean(tt), "v": _clean(tv), "sensor": sensor + 1}
    out["soc"] = {"t": trend["t"], "v": [None if v is None else v for v in _soc_trend(d, pack_id, index)]}
    out["soh"] = {"t": trend["t"], "v": _clean(np.asarray(trend["soh_pct"])), "cycles": trend["cycles"]}
    out["capacity"] = {"cycles": trend["cycles"], "v": _clean(np.asarray(trend["capacity_ah"]))}
    out["rul"] = _rul(d, trend)
    return out


def _soc_trend(d: Dashboard, pack_id: str, index: int) -> list[float | None]:
    with d.live.lock:
        p = d.live.packs[pack_id]
        return [None] * len(p.trend_t) if not p.trend_soc else [round(100.0 * float(r[index]), 3)
                                                                  for r in p.trend_soc]


def _rul(d: Dashboard, trend: dict[str, Any]) -> dict[str, Any]:
    """Remaining useful life from the cell's capacity estimates against full-equivalent cycles, with its interval."""
    from packtwin.analytics.rul import CapacityHistory, fit_and_predict

    cycles = np.asarray(trend["cycles"], dtype=float)
    cap = np.asarray(trend["capacity_ah"], dtype=float)
    eol = d.rated_capacity_ah * d.eol_soh_pct / 100.0
    try:
        if len(cycles) < 4 or np.ptp(cycles) <= 0:
            raise ValueError("needs capacity estimates over at least a fraction of a cycle")
        fade_pct = 100.0 * (np.nanmax(cap) - np.nanmin(cap)) / d.rated_capacity_ah if np.isfinite(cap).any() else 0.0
        if not fade_pct >= MIN_FADE_PCT:
            # A fit through a flat line extrapolates nothing but its prior: say so instead of showing a number.
            raise ValueError(f"no measurable capacity fade yet ({fade_pct:.2f} % so far, {MIN_FADE_PCT} % needed)")
        res = fit_and_predict(CapacityHistory(cycles, cap), eol, samples=500)
    except ValueError as exc:
        return {"available": False, "reason": str(exc), "eol_capacity_ah": eol}
    doc = res.to_dict()
    doc["available"] = True
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in doc.items()}
