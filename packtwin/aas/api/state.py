"""The per-app state every route reads: repository, access view, settings, auth, descriptors, attachments."""

from __future__ import annotations

from dataclasses import dataclass, field

from basyx.aas.adapter.aasx import DictSupplementaryFileContainer
from starlette.requests import Request

from packtwin.aas.api.auth import AuthConfig, require_write, resolve_role
from packtwin.aas.api.views import AccessView
from packtwin.aas.repository import Repository
from packtwin.settings import Settings
from packtwin.submodels.access import Role


@dataclass
class ApiState:
    repo: Repository
    settings: Settings
    auth: AuthConfig
    view: AccessView
    # Supplementary files (File elements' attachments, thumbnails) read from AASX packages.
    files: DictSupplementaryFileContainer = field(default_factory=DictSupplementaryFileContainer)
    # Identifiers served by the single-service interfaces /aas and /submodel, when configured.
    service_aas_id: str | None = None
    service_submodel_id: str | None = None
    # "aas" or "submodel": that single service is also served at the API root.
    root_service: str | None = None
    # Registry entries for shells and submodels this server does not hold itself (registered by POST).
    descriptors: object = None


def api(request: Request) -> ApiState:
    return request.app.state.api


def reader(request: Request) -> tuple[ApiState, Role]:
    return request.app.state.api, resolve_role(request)


def writer(request: Request) -> ApiState:
    require_write(request)
    return request.app.state.api
