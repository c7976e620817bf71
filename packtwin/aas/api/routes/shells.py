"""AAS Repository and AAS services: shells, their asset information and submodel references.

``/shells/{aasIdentifier}`` and the single-service ``/aas`` share the handlers through a *locator*, as submodels do.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from basyx.aas import model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import decode_model
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.api.routes import submodels
from packtwin.aas.api.routes.common import body_bytes, locked, no_content, ok, paged
from packtwin.aas.api.state import ApiState, reader, writer
from packtwin.aas.api.views import submodel_refs
from packtwin.aas.interchange import file_bytes

ShellLocator = Callable[[Request, ApiState], str]


def by_path_param(request: Request, state: ApiState) -> str:
    return decode_id(request.path_params["aasIdentifier"], "aasIdentifier")


def fixed(request: Request, state: ApiState) -> str:
    if state.service_aas_id is None:
        raise not_found("no shell is configured for the AAS service interface")
    return state.service_aas_id


def asset_id_filters(request: Request) -> list[tuple[str, str]]:
    """``assetIds``: base64url-encoded JSON SpecificAssetIds (``{"name", "value"}``), repeatable."""
    out = []
    for raw in request.query_params.getlist("assetIds"):
        text = decode_id(raw, "assetIds")
        try:
            data = json.loads(text)
        except ValueError:
            raise ApiError(400, "assetIds must be base64url-encoded JSON objects {name, value}") from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("name"), str)
                    and isinstance(item.get("value"), str)):
                raise ApiError(400, "assetIds must be base64url-encoded JSON objects {name, value}")
            out.append((item["name"], item["value"]))
    return out


def shell_has_asset_id(shell: model.AssetAdministrationShell, name: str, value: str) -> bool:
    info = shell.asset_information
    if name == "globalAssetId":
        return info.global_asset_id == value
    return any(s.name == name and s.value == value for s in info.specific_asset_id)


def filtered_shells(request: Request) -> list[model.AssetAdministrationShell]:
    """The stored shells matching ``idShort`` and ``assetIds`` (unfiltered: callers render them per role)."""
    state, _ = reader(request)
    id_short = request.query_params.get("idShort")
    wanted = asset_id_filters(request)
    out = []
    for shell in state.repo.shells():
        if id_short and shell.id_short != id_short:
            continue
        if wanted and not all(shell_has_asset_id(shell, n, v) for n, v in wanted):
            continue
        out.append(shell)
    return out


async def get_shells(request: Request) -> Response:
    state, role = reader(request)
    return paged(filtered_shells(request), request, lambda shell: state.view.shell_json(shell, role))


async def get_shell_refs(request: Request) -> Response:
    return paged(filtered_shells(request), request, model.ModelReference.from_referable)


async def post_shell(request: Request) -> Response:
    raw = await body_bytes(request)
    state = writer(request)
    shell = decode_model(raw, model.AssetAdministrationShell)

    def write() -> None:
        try:
            state.repo.add(shell)
        except KeyError:
            raise ApiError(409, f"an identifiable with id {shell.id!r} already exists") from None
    await locked(state, write)
    return ok(shell, 201)


def make_routes(prefix: str, locate: ShellLocator, deletable: bool = False) -> list[Route]:
    def read(request: Request) -> model.AssetAdministrationShell:
        state, role = reader(request)
        return state.view.get_shell(locate(request, state), role)

    def target(request: Request) -> tuple[ApiState, model.AssetAdministrationShell]:
        state = writer(request)
        aas_id = locate(request, state)
        try:
            return state, state.repo.get_shell(aas_id)
        except KeyError:
            raise not_found(f"shell {aas_id!r}") from None

    async def get_shell(request: Request) -> Response:
        return ok(read(request))

    async def put_shell(request: Request) -> Response:
        raw = await body_bytes(request)
        state, shell = target(request)
        new = decode_model(raw, model.AssetAdministrationShell)
        if new.id != shell.id:
            raise ApiError(400, f"body id {new.id!r} differs from the addressed shell {shell.id!r}")
        await locked(state, lambda: state.repo.replace(new))
        return no_content()

    async def delete_shell(request: Request) -> Response:
        state, shell = target(request)
        await locked(state, lambda: state.repo.delete(shell.id))
        return no_content()

    async def get_reference(request: Request) -> Response:
        return ok(model.ModelReference.from_referable(read(request)))

    async def get_asset_information(request: Request) -> Response:
        return ok(read(request).asset_information)

    async def put_asset_information(request: Request) -> Response:
        raw = await body_bytes(request)
        state, shell = target(request)
        info = decode_model(raw, model.AssetInformation)

        def write() -> None:
            shell.asset_information = info
            state.repo.commit(shell)
        await locked(state, write)
        return no_content()

    async def get_thumbnail(request: Request) -> Response:
        shell = read(request)
        state = request.app.state.api
        thumb = shell.asset_information.default_thumbnail
        if thumb is None or thumb.path not in state.files:
            raise not_found(f"thumbnail of shell {shell.id!r}")
        data = file_bytes(state.files, thumb.path)
        return Response(data, media_type=thumb.content_type or "application/octet-stream")

    async def get_submodel_refs(request: Request) -> Response:
        shell = read(request)
        return paged(submodel_refs(shell), request)

    async def post_submodel_ref(request: Request) -> Response:
        raw = await body_bytes(request)
        state, shell = target(request)
        ref = decode_model(raw, model.Reference)
        if not isinstance(ref, model.ModelReference) or not ref.key or ref.key[0].type != model.KeyTypes.SUBMODEL:
            raise ApiError(400, "a submodel reference is a ModelReference whose first key is a Submodel")

        def write() -> None:
            if any(r.key[0].value == ref.key[0].value for r in shell.submodel if r.key):
                raise ApiError(409, f"shell already references submodel {ref.key[0].value!r}")
            shell.submodel.add(ref)
            state.repo.commit(shell)
        await locked(state, write)
        return ok(ref, 201)

    async def delete_submodel_ref(request: Request) -> Response:
        state, shell = target(request)
        sm_id = decode_id(request.path_params["submodelIdentifier"], "submodelIdentifier")

        def write() -> None:
            refs = [r for r in shell.submodel if r.key and r.key[0].value == sm_id]
            if not refs:
                raise not_found(f"submodel reference {sm_id!r} in shell {shell.id!r}")
            for r in refs:
                shell.submodel.discard(r)
            state.repo.commit(shell)
        await locked(state, write)
        return no_content()

    base = prefix or "/"
    routes = [
        Route(base, get_shell, methods=["GET"]),
        Route(base, put_shell, methods=["PUT"]),
        Route(prefix + "/$reference", get_reference, methods=["GET"]),
        Route(prefix + "/asset-information", get_asset_information, methods=["GET"]),
        Route(prefix + "/asset-information", put_asset_information, methods=["PUT"]),
        Route(prefix + "/asset-information/thumbnail", get_thumbnail, methods=["GET"]),
        Route(prefix + "/submodel-refs", get_submodel_refs, methods=["GET"]),
        Route(prefix + "/submodel-refs", post_submodel_ref, methods=["POST"]),
        Route(prefix + "/submodel-refs/{submodelIdentifier}", delete_submodel_ref, methods=["DELETE"]),
    ]
    if prefix:
        routes.append(Route(prefix + "/", get_shell, methods=["GET"]))
    if deletable:
        routes.append(Route(base, delete_shell, methods=["DELETE"]))

    def drop_reference(request: Request, state: ApiState, sm_id: str) -> None:
        shell = state.repo.get_shell(locate(request, state))
        with state.repo.lock:
            for ref in [r for r in shell.submodel if r.key and r.key[0].value == sm_id]:
                shell.submodel.discard(ref)
            state.repo.commit(shell)

    # DeleteSubmodelById in the AAS Repository deletes the submodel and the shell's reference to it.
    routes += submodels.make_routes(prefix + "/submodels/{submodelIdentifier}", submodels.in_shell(locate),
                                    deletable=True, after_delete=drop_reference)
    return routes


def repository_routes() -> list[Route]:
    return [
        Route("/shells", get_shells, methods=["GET"]),
        Route("/shells", post_shell, methods=["POST"]),
        Route("/shells/$reference", get_shell_refs, methods=["GET"]),
        *make_routes("/shells/{aasIdentifier}", by_path_param, deletable=True),
    ]


def service_routes(prefix: str = "/aas") -> list[Route]:
    return make_routes(prefix, fixed)
