"""The ``packtwin`` command line: ``packtwin demo | serve | fleet | validate | estimate | sparql | simulate | export``.

Each sub-package that offers commands has a ``cli`` module with ``register(subparsers)``; each registered parser
sets ``func`` to a callable taking the parsed arguments and returning the exit status. Heavy imports happen inside
those callables so that ``packtwin --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

COMMAND_MODULES = [
    "packtwin.aas.api.cli",
    "packtwin.aas.cli",
    "packtwin.analytics.cli",
    "packtwin.connectors.cli",
    "packtwin.connectors.ditto.cli",
    "packtwin.connectors.remote.cli",
    "packtwin.demo.cli",
    "packtwin.ontology.cli",
    "packtwin.sim.cli",
    "packtwin.worker",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packtwin", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
