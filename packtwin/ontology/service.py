"""One call to put the RDF graph and ``/sparql`` beside the AAS API on the packtwin server.

    routes, sync = sparql_service(repo, settings)
    app = create_app(repo, settings, extra_routes=routes, auth=auth)
    ...
    sync.stop()

The graph is converted from ``repo`` once and then follows its change events; callers are resolved to roles by the
API's own resolver (API keys, bearer JWTs), so ``/sparql`` enforces the same access groups as the API.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from packtwin.aas.repository import Repository
from packtwin.ontology.endpoint import EndpointSettings, RoleResolver, sparql_routes
from packtwin.ontology.store import GraphStore
from packtwin.ontology.sync import RdfSync
from packtwin.settings import Settings, load_settings


def sparql_service(repo: Repository, settings: Settings | None = None, endpoint: EndpointSettings | None = None,
                   role_of: RoleResolver | None = None) -> tuple[list[BaseRoute], RdfSync]:
    settings = settings or load_settings()
    if role_of is None:
        from packtwin.aas.api.auth import resolve_role

        role_of = resolve_role
    endpoint = endpoint or EndpointSettings.from_settings(settings)
    store = GraphStore(base_iri=settings.base_iri)
    sync = RdfSync(repo, store).start()
    return list(sparql_routes(store, role_of, endpoint, lock=sync.lock)), sync
