"""The app factory of the AAS Part 2 HTTP API; other features mount their routes on the same app.

``create_app(repo, settings, extra_routes=[...])`` serves the API under ``settings.api_prefix`` (``/api/v3.0``) and
mounts ``extra_routes`` (the SPARQL endpoint, the dashboard, server-sent events) at the root. Those routes can apply
the same roles with :func:`packtwin.aas.api.auth.resolve_role`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from basyx.aas.adapter.aasx import DictSupplementaryFileContainer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from packtwin.aas.api.auth import AuthConfig
from packtwin.aas.api.errors import ApiError, error_response
from packtwin.aas.api.registry import DescriptorStore
from packtwin.aas.api.routes import (
    concept_descriptions,
    description,
    discovery,
    registry,
    serialization,
    shells,
    submodel_repository,
)
from packtwin.aas.api.state import ApiState
from packtwin.aas.api.views import AccessView
from packtwin.aas.repository import Repository
from packtwin.settings import Settings, load_settings

logger = logging.getLogger(__name__)


class _CatchAll:
    """Any unexpected exception becomes a 500 Result body inside the CORS layer (so it carries CORS headers too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(500, "internal server error")(scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.text, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: "no such resource", 405: "method not allowed on this resource"}.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, text, dict(exc.headers or {}))


def api_routes(state: ApiState) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        *shells.repository_routes(),
        *submodel_repository.repository_routes(),
        *concept_descriptions.routes(),
        *serialization.routes(),
        *description.routes(),
        *registry.routes(),
        *discovery.routes(),
    ]
    if state.service_aas_id:
        routes += shells.service_routes("/aas")
    if state.service_submodel_id:
        routes += submodel_repository.service_routes("/submodel")
    # The bound single service also at the API root, e.g. for the IDTA test engine with --remove-path-prefix.
    if state.root_service == "aas":
        routes += shells.service_routes("")
    elif state.root_service == "submodel":
        routes += submodel_repository.service_routes("")
    return routes


def create_app(
    repo: Repository,
    settings: Settings | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    auth: AuthConfig | None = None,
    files: DictSupplementaryFileContainer | None = None,
    service_aas_id: str | None = None,
    service_submodel_id: str | None = None,
    root_service: str | None = None,
    descriptors: DescriptorStore | None = None,
) -> Starlette:
    settings = settings or load_settings()
    if root_service not in (None, "aas", "submodel"):
        raise ValueError(f"root_service must be 'aas' or 'submodel', not {root_service!r}")
    if (root_service == "aas" and not service_aas_id) or (root_service == "submodel" and not service_submodel_id):
        raise ValueError(f"root_service {root_service!r} needs the identifiable it serves")
    if auth is None:
        auth = AuthConfig.load(settings.api_keys_file or None, settings.jwt_secret, settings.jwt_audience)
    state = ApiState(
        repo=repo, settings=settings, auth=auth, view=AccessView(repo),
        files=files if files is not None else DictSupplementaryFileContainer(),
        service_aas_id=service_aas_id, service_submodel_id=service_submodel_id, root_service=root_service,
        descriptors=descriptors if descriptors is not None else DescriptorStore(),
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app = Starlette(
        routes=[Mount(settings.api_prefix, routes=api_routes(state)), *extra_routes],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["Location", "WWW-Authenticate"], max_age=600),
            Middleware(_CatchAll),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.api = state
    app.state.auth = auth
    return app
