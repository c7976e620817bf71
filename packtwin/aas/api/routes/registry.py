"""AAS Registry and Submodel Registry services: descriptors of the shells here plus registered external ones."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.api.registry import (
    SHELL,
    SUBMODEL,
    shell_descriptor,
    submodel_descriptor,
    validate_descriptor,
)
from packtwin.aas.api.routes.common import body_json, no_content, ok, paged
from packtwin.aas.api.state import ApiState, reader, writer
from packtwin.aas.api.views import submodel_refs
from packtwin.submodels.access import Role


def _base(request: Request) -> str:
    state: ApiState = request.app.state.api
    return f"{request.url.scheme}://{request.url.netloc}{state.settings.api_prefix}"


def _own_shell_descriptors(request: Request, state: ApiState, role: Role) -> list[dict]:
    base = _base(request)
    out = []
    for shell in state.view.shells(role):
        subs = []
        for ref in submodel_refs(shell):
            try:
                sm = state.repo.get_submodel(ref.key[0].value)
            except KeyError:
                continue  # referenced but not held here
            # Descriptors carry only the submodel's id, idShort, semanticId and description: no copy needed.
            if state.view.submodel_visible(sm, role):
                subs.append(sm)
        out.append(shell_descriptor(shell, subs, base))
    return out


def _all_shell_descriptors(request: Request) -> list[dict]:
    state, role = reader(request)
    own = _own_shell_descriptors(request, state, role)
    q = request.query_params
    kind, asset_type = q.get("assetKind"), q.get("assetType")
    if kind is not None and kind not in ("Type", "Instance", "Role", "NotApplicable"):
        raise ApiError(400, "assetKind must be Type, Instance, Role or NotApplicable")
    asset_type = decode_id(asset_type, "assetType") if asset_type else None
    items = own + state.descriptors.all(SHELL)
    return [d for d in items if (kind is None or d.get("assetKind") == kind)
            and (asset_type is None or d.get("assetType") == asset_type)]


def _shell_descriptor(request: Request) -> dict:
    aas_id = decode_id(request.path_params["aasIdentifier"], "aasIdentifier")
    state, role = reader(request)
    if aas_id in state.repo:
        for d in _own_shell_descriptors(request, state, role):
            if d["id"] == aas_id:
                return d
    found = state.descriptors.get(SHELL, aas_id)
    if found is None:
        raise not_found(f"shell descriptor {aas_id!r}")
    return found


def _all_submodel_descriptors(request: Request) -> list[dict]:
    state, role = reader(request)
    base = _base(request)
    return ([submodel_descriptor(sm, base) for sm in state.repo.submodels() if state.view.submodel_visible(sm, role)]
            + state.descriptors.all(SUBMODEL))


async def get_shell_descriptors(request: Request) -> Response:
    return paged(_all_shell_descriptors(request), request)


async def get_shell_descriptor(request: Request) -> Response:
    return ok(_shell_descriptor(request))


async def get_shell_submodel_descriptors(request: Request) -> Response:
    return paged(_shell_descriptor(request).get("submodelDescriptors", []), request)


async def get_shell_submodel_descriptor(request: Request) -> Response:
    sm_id = decode_id(request.path_params["submodelIdentifier"], "submodelIdentifier")
    for d in _shell_descriptor(request).get("submodelDescriptors", []):
        if d.get("id") == sm_id:
            return ok(d)
    raise not_found(f"submodel descriptor {sm_id!r}")


async def get_submodel_descriptors(request: Request) -> Response:
    return paged(_all_submodel_descriptors(request), request)


async def get_submodel_descriptor(request: Request) -> Response:
    sm_id = decode_id(request.path_params["submodelIdentifier"], "submodelIdentifier")
    for d in _all_submodel_descriptors(request):
        if d["id"] == sm_id:
            return ok(d)
    raise not_found(f"submodel descriptor {sm_id!r}")


def _writable(state: ApiState, kind: str, ident: str) -> None:
    if ident in state.repo:
        raise ApiError(409, f"{ident!r} is held by this server; its descriptor follows the repository")


def _post(kind: str):
    async def post(request: Request) -> Response:
        data = validate_descriptor(await body_json(request), kind)
        state = writer(request)
        _writable(state, kind, data["id"])
        if state.descriptors.get(kind, data["id"]) is not None:
            raise ApiError(409, f"a descriptor with id {data['id']!r} is already registered")
        state.descriptors.put(kind, data)
        return ok(data, 201)
    return post


def _put(kind: str, param: str):
    async def put(request: Request) -> Response:
        ident = decode_id(request.path_params[param], param)
        data = validate_descriptor(await body_json(request), kind)
        state = writer(request)
        if data["id"] != ident:
            raise ApiError(400, f"body id {data['id']!r} differs from the addressed {ident!r}")
        _writable(state, kind, ident)
        created = state.descriptors.get(kind, ident) is None
        state.descriptors.put(kind, data)
        return ok(data, 201) if created else no_content()
    return put


def _delete(kind: str, param: str):
    async def delete(request: Request) -> Response:
        ident = decode_id(request.path_params[param], param)
        state = writer(request)
        _writable(state, kind, ident)
        if not state.descriptors.delete(kind, ident):
            raise not_found(f"descriptor {ident!r}")
        return no_content()
    return delete


def routes() -> list[Route]:
    shell = "/shell-descriptors/{aasIdentifier}"
    sub = "/submodel-descriptors/{submodelIdentifier}"
    return [
        Route("/shell-descriptors", get_shell_descriptors, methods=["GET"]),
        Route("/shell-descriptors", _post(SHELL), methods=["POST"]),
        Route(shell, get_shell_descriptor, methods=["GET"]),
        Route(shell, _put(SHELL, "aasIdentifier"), methods=["PUT"]),
        Route(shell, _delete(SHELL, "aasIdentifier"), methods=["DELETE"]),
        Route(shell + "/submodel-descriptors", get_shell_submodel_descriptors, methods=["GET"]),
        Route(shell + sub, get_shell_submodel_descriptor, methods=["GET"]),
        Route("/submodel-descriptors", get_submodel_descriptors, methods=["GET"]),
        Route("/submodel-descriptors", _post(SUBMODEL), methods=["POST"]),
        Route(sub, get_submodel_descriptor, methods=["GET"]),
        Route(sub, _put(SUBMODEL, "submodelIdentifier"), methods=["PUT"]),
        Route(sub, _delete(SUBMODEL, "submodelIdentifier"), methods=["DELETE"]),
    ]
