"""``/description``: the service profiles this server implements, exactly (IDTA-01002 Part 2, ServiceDescription)."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from packtwin.aas.api.routes.common import ok

_V30 = "https://admin-shell.io/aas/API/3/0/"
# Exactly the profiles implemented in full. Writes (POST/PUT/PATCH/DELETE) are served too, but not every operation of
# the full profiles (SSP-001: e.g. operation invocation, thumbnail upload), so those are not claimed (docs/api.md).
REPOSITORY_PROFILES = [
    f"{_V30}AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    f"{_V30}SubmodelRepositoryServiceSpecification/SSP-002",
    f"{_V30}ConceptDescriptionRepositoryServiceSpecification/SSP-001",
    f"{_V30}AssetAdministrationShellRegistryServiceSpecification/SSP-002",
    f"{_V30}SubmodelRegistryServiceSpecification/SSP-002",
    f"{_V30}DiscoveryServiceSpecification/SSP-001",
]
# Listed only when /aas or /submodel is bound to an identifiable (serve --aas / --submodel).
AAS_SERVICE_PROFILES = [f"{_V30}AssetAdministrationShellServiceSpecification/SSP-002"]
SUBMODEL_SERVICE_PROFILES = [f"{_V30}SubmodelServiceSpecification/SSP-002"]


async def get_description(request: Request) -> Response:
    state = request.app.state.api
    profiles = list(REPOSITORY_PROFILES)
    if state.service_aas_id:
        profiles += AAS_SERVICE_PROFILES
    if state.service_submodel_id:
        profiles += SUBMODEL_SERVICE_PROFILES
    return ok({"profiles": profiles})


async def get_openapi(request: Request) -> Response:
    text = resources.files("packtwin.aas.api.resources").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return Response(text, media_type="application/yaml")


def routes() -> list[Route]:
    return [
        Route("/description", get_description, methods=["GET"]),
        Route("/openapi.yaml", get_openapi, methods=["GET"]),
    ]
