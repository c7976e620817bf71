"""Submodel Repository service: the list of submodels (filters, modifiers) and ``/submodels/{id}``, ``/submodel``."""

from __future__ import annotations

from basyx.aas import model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api import paths, valueonly
from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import decode_model, to_dict
from packtwin.aas.api.errors import ApiError
from packtwin.aas.api.routes import submodels
from packtwin.aas.api.routes.common import body_bytes, locked, ok, paged
from packtwin.aas.api.state import reader, writer
from packtwin.aas.api.views import metadata, parse_extent, parse_level, shape


def _filtered(request: Request) -> list[model.Submodel]:
    state, role = reader(request)
    q = request.query_params
    id_short = q.get("idShort")
    semantic = decode_id(q["semanticId"], "semanticId") if q.get("semanticId") else None
    out = []
    for sm in state.view.submodels(role):
        if id_short and sm.id_short != id_short:
            continue
        if semantic and not (sm.semantic_id and any(k.value == semantic for k in sm.semantic_id.key)):
            continue
        out.append(sm)
    return out


async def get_submodels(request: Request) -> Response:
    q = request.query_params
    deep, with_blob = parse_level(q.get("level")), parse_extent(q.get("extent"))
    return paged(_filtered(request), request, lambda sm: shape(to_dict(sm), deep, with_blob, 1))


async def get_submodels_metadata(request: Request) -> Response:
    return paged(_filtered(request), request, lambda sm: metadata(to_dict(sm)))


async def get_submodels_value(request: Request) -> Response:
    items = _filtered(request)
    with_blob = parse_extent(request.query_params.get("extent"))
    parse_level(request.query_params.get("level"))
    return paged(items, request,
                 lambda sm: valueonly.collection_value(sm.submodel_element, with_blob))


async def get_submodels_reference(request: Request) -> Response:
    return paged(_filtered(request), request, model.ModelReference.from_referable)


async def get_submodels_path(request: Request) -> Response:
    """GetPathItemsResult is a flat list of idShortPaths (Part 2 schema), so the page is over the paths."""
    deep = parse_level(request.query_params.get("level"))
    out: list[str] = []
    for sm in _filtered(request):
        for el in sm.submodel_element:
            out.extend(paths.walk_paths(el, str(el.id_short), deep))
    return paged(out, request)


async def post_submodel(request: Request) -> Response:
    raw = await body_bytes(request)
    state = writer(request)
    sm = decode_model(raw, model.Submodel)

    def write() -> None:
        try:
            state.repo.add(sm)
        except KeyError:
            raise ApiError(409, f"an identifiable with id {sm.id!r} already exists") from None
    await locked(state, write)
    return ok(sm, 201)


def repository_routes() -> list[Route]:
    return [
        Route("/submodels", get_submodels, methods=["GET"]),
        Route("/submodels", post_submodel, methods=["POST"]),
        Route("/submodels/$metadata", get_submodels_metadata, methods=["GET"]),
        Route("/submodels/$value", get_submodels_value, methods=["GET"]),
        Route("/submodels/$reference", get_submodels_reference, methods=["GET"]),
        Route("/submodels/$path", get_submodels_path, methods=["GET"]),
        *submodels.make_routes("/submodels/{submodelIdentifier}", submodels.by_path_param, deletable=True),
    ]


def service_routes(prefix: str = "/submodel") -> list[Route]:
    return submodels.make_routes(prefix, submodels.fixed)
