"""``packtwin serve``: the AAS Part 2 HTTP API over a data file or directory."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve the AAS HTTP API (repository, registry, discovery)")
    p.add_argument("--data", required=True, help="AAS JSON/XML/AASX file, or a data directory (SQLite repository)")
    p.add_argument("--host", default=None, help="address to bind (default: settings http_host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings http_port, 8080)")
    p.add_argument("--aas", default=None, metavar="ID",
                   help="also serve this shell as the single AAS service at /aas")
    p.add_argument("--submodel", default=None, metavar="ID",
                   help="also serve this submodel as the single Submodel service at /submodel")
    p.add_argument("--root-service", choices=["aas", "submodel"], default=None,
                   help="also serve the bound single service at the API root (for clients and test tools that "
                        "address it without the /aas or /submodel prefix)")
    p.add_argument("--no-sparql", action="store_true", help="do not serve the repository as RDF at /sparql")
    p.add_argument("--events-mqtt", metavar="URL", default=None,
                   help="publish AAS change events in the BaSyx topic scheme (and Ditto, with --ditto-namespace) "
                        "to this broker, e.g. mqtt://127.0.0.1:1883")
    p.add_argument("--ditto-namespace", default=None, help="also send Ditto Protocol messages for Things in this namespace")
    p.add_argument("--mirror", metavar="URL", default=None,
                   help="keep another AAS Part 2 server's copy of the twins up to date as they change")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from packtwin.aas.api.app import create_app
    from packtwin.aas.interchange import InterchangeError
    from packtwin.aas.server import load_data, run
    from packtwin.settings import load_settings

    settings = load_settings(http_host=args.host, http_port=args.port)
    try:
        data = load_data(args.data, max_decoded=settings.repository_max_decoded or None)
    except (InterchangeError, OSError) as e:
        logger.error("cannot load %s: %s", args.data, e)
        return 2
    for ident, what in ((args.aas, "shell"), (args.submodel, "submodel")):
        if ident is not None and ident not in data.repo:
            logger.error("--%s: no %s with id %r in %s", "aas" if what == "shell" else what, what, ident, args.data)
            return 2
    if args.root_service and not (args.aas if args.root_service == "aas" else args.submodel):
        logger.error("--root-service %s needs --%s", args.root_service, args.root_service)
        return 2
    extra_routes: list = []
    rdf = None
    if not args.no_sparql:
        from packtwin.aas.api.auth import resolve_role
        from packtwin.ontology.background import BackgroundRdf
        from packtwin.ontology.endpoint import EndpointSettings, sparql_routes

        # The graph fills in the background and follows every write through the repository's change events.
        rdf = BackgroundRdf(data.repo)
        extra_routes += sparql_routes(rdf.store, resolve_role, EndpointSettings.from_settings(settings),
                                      lock=rdf.lock)
    try:
        app = create_app(data.repo, settings, files=data.files, descriptors=data.descriptors,
                         service_aas_id=args.aas, service_submodel_id=args.submodel, root_service=args.root_service,
                         extra_routes=extra_routes)
    except (ValueError, OSError) as e:  # e.g. an unreadable API keys file or an unknown role in it
        logger.error("cannot configure the API: %s", e)
        return 2
    outlets = None
    if args.events_mqtt or args.mirror:
        from packtwin.connectors.outlets import start_outlets

        outlets = start_outlets(data.repo, mqtt_url=args.events_mqtt, ditto_namespace=args.ditto_namespace,
                                base_iri=settings.base_iri, mirror_url=args.mirror)
    if rdf is not None:
        rdf.start()
    logger.info("serving %d identifiables at http://%s:%d%s%s", len(data.repo), settings.http_host,
                settings.http_port, settings.api_prefix, "" if args.no_sparql else " and /sparql")
    try:
        run(app, settings.http_host, settings.http_port)
    finally:
        if outlets is not None:
            outlets.stop()
        if rdf is not None:
            rdf.stop()
    return 0
