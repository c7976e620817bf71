"""Discovery service: from a specificAssetId (e.g. the serial number on a pack's label) to the shell's id.

Links are the shells' own ``assetInformation.specificAssetIds`` (and ``globalAssetId``), so posting a link changes
the shell through the repository: persisted and announced like any other write.
"""

from __future__ import annotations

from basyx.aas import model
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.b64 import decode_id
from packtwin.aas.api.codec import decode_model
from packtwin.aas.api.errors import ApiError, not_found
from packtwin.aas.api.routes.common import body_json, locked, no_content, ok, paged
from packtwin.aas.api.routes.shells import asset_id_filters, shell_has_asset_id
from packtwin.aas.api.state import reader, writer


def _matching(request: Request, wanted: list[tuple[str, str]]) -> list[str]:
    state, role = reader(request)
    return [s.id for s in state.view.shells(role) if all(shell_has_asset_id(s, n, v) for n, v in wanted)]


async def lookup_shells(request: Request) -> Response:
    wanted = asset_id_filters(request)
    return paged(_matching(request, wanted) if wanted else [], request)


async def lookup_by_asset_link(request: Request) -> Response:
    data = await body_json(request)
    if not isinstance(data, list) or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("value"), str) for d in data):
        raise ApiError(400, "body must be a list of asset links {name, value}")
    return paged(_matching(request, [(d["name"], d["value"]) for d in data]), request)


def _shell(request: Request, write: bool = False) -> model.AssetAdministrationShell:
    aas_id = decode_id(request.path_params["aasIdentifier"], "aasIdentifier")
    if write:
        state = writer(request)
        try:
            return state.repo.get_shell(aas_id)
        except KeyError:
            raise not_found(f"shell {aas_id!r}") from None
    state, role = reader(request)
    return state.view.get_shell(aas_id, role)


async def get_links(request: Request) -> Response:
    info = _shell(request).asset_information
    links = list(info.specific_asset_id)
    return ok(links)


async def post_links(request: Request) -> Response:
    data = await body_json(request)
    if not isinstance(data, list):
        raise ApiError(400, "body must be a list of SpecificAssetIds")
    links = [decode_model(d, model.SpecificAssetId) for d in data]
    shell = _shell(request, write=True)
    state = request.app.state.api

    def write() -> None:
        info = shell.asset_information
        existing = {(s.name, s.value) for s in info.specific_asset_id}
        new = [s for s in links if (s.name, s.value) not in existing]
        info.specific_asset_id = [*info.specific_asset_id, *new]
        state.repo.commit(shell)
    await locked(state, write)
    return ok(list(shell.asset_information.specific_asset_id), 201)


async def delete_links(request: Request) -> Response:
    shell = _shell(request, write=True)
    state = request.app.state.api

    def write() -> None:
        if not shell.asset_information.global_asset_id:
            raise ApiError(409, "a shell needs a globalAssetId or a specificAssetId; it has no globalAssetId")
        shell.asset_information.specific_asset_id = []
        state.repo.commit(shell)
    await locked(state, write)
    return no_content()


def routes() -> list[Route]:
    return [
        Route("/lookup/shells", lookup_shells, methods=["GET"]),
        Route("/lookup/shellsByAssetLink", lookup_by_asset_link, methods=["POST"]),
        Route("/lookup/shells/{aasIdentifier}", get_links, methods=["GET"]),
        Route("/lookup/shells/{aasIdentifier}", post_links, methods=["POST"]),
        Route("/lookup/shells/{aasIdentifier}", delete_links, methods=["DELETE"]),
    ]
