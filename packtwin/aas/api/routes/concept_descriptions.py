"""Concept Description Repository service (public: concept descriptions carry no passport data)."""

from __future__ import annotations

from basyx.aas import model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import decode_model
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.api.routes.common import body_bytes, locked, no_content, ok, paged
from packtwin.aas.api.state import reader, writer


def _get(request: Request) -> model.ConceptDescription:
    state, _ = reader(request)
    cd_id = decode_id(request.path_params["cdIdentifier"], "cdIdentifier")
    try:
        obj = state.repo.get(cd_id)
    except KeyError:
        obj = None
    if not isinstance(obj, model.ConceptDescription):
        raise not_found(f"concept description {cd_id!r}")
    return obj


async def get_all(request: Request) -> Response:
    state, _ = reader(request)
    q = request.query_params
    id_short = q.get("idShort")
    case_of = decode_id(q["isCaseOf"], "isCaseOf") if q.get("isCaseOf") else None
    ds_ref = decode_id(q["dataSpecificationRef"], "dataSpecificationRef") if q.get("dataSpecificationRef") else None
    out = []
    for cd in state.repo.concept_descriptions():
        if id_short and cd.id_short != id_short:
            continue
        if case_of and not any(k.value == case_of for ref in cd.is_case_of for k in ref.key):
            continue
        if ds_ref and not any(k.value == ds_ref for e in cd.embedded_data_specifications
                              for k in e.data_specification.key):
            continue
        out.append(cd)
    return paged(out, request)


async def get_one(request: Request) -> Response:
    return ok(_get(request))


async def post(request: Request) -> Response:
    raw = await body_bytes(request)
    state = writer(request)
    cd = decode_model(raw, model.ConceptDescription)

    def write() -> None:
        try:
            state.repo.add(cd)
        except KeyError:
            raise ApiError(409, f"an identifiable with id {cd.id!r} already exists") from None
    await locked(state, write)
    return ok(cd, 201)


async def put(request: Request) -> Response:
    raw = await body_bytes(request)
    state = writer(request)
    old = _get(request)
    cd = decode_model(raw, model.ConceptDescription)
    if cd.id != old.id:
        raise ApiError(400, f"body id {cd.id!r} differs from the addressed concept description {old.id!r}")
    await locked(state, lambda: state.repo.replace(cd))
    return no_content()


async def delete(request: Request) -> Response:
    state = writer(request)
    ident = _get(request).id
    await locked(state, lambda: state.repo.delete(ident))
    return no_content()


def routes() -> list[Route]:
    one = "/concept-descriptions/{cdIdentifier}"
    return [
        Route("/concept-descriptions", get_all, methods=["GET"]),
        Route("/concept-descriptions", post, methods=["POST"]),
        Route(one, get_one, methods=["GET"]),
        Route(one, put, methods=["PUT"]),
        Route(one, delete, methods=["DELETE"]),
    ]
