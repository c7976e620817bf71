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
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from packtwin.aas.api.app import create_app
    from packtwin.aas.interchange import InterchangeError
    from packtwin.aas.server import load_data, run
    from packtwin.settings import load_settings

    settings = load_settings(http_host=args.host, http_port=args.port)
    try:
        data = load_data(args.data)
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
    try:
        app = create_app(data.repo, settings, files=data.files, descriptors=data.descriptors,
                         service_aas_id=args.aas, service_submodel_id=args.submodel, root_service=args.root_service)
    except (ValueError, OSError) as e:  # e.g. an unreadable API keys file or an unknown role in it
        logger.error("cannot configure the API: %s", e)
        return 2
    logger.info("serving %d identifiables at http://%s:%d%s", len(data.repo), settings.http_host,
                settings.http_port, settings.api_prefix)
    run(app, settings.http_host, settings.http_port)
    return 0
