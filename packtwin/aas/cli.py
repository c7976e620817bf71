"""``packtwin fleet create`` and ``packtwin validate``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    fleet = subparsers.add_parser("fleet", help="build fleets of battery twins")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    create = fleet_sub.add_parser("create", help="write an AAS environment with one AAS per pack, module and cell")
    create.add_argument("--packs", type=int, required=True)
    create.add_argument("--modules", type=int, help="modules per pack (default: from the spec)")
    create.add_argument("--cells", type=int, help="cells per module (default: from the spec)")
    create.add_argument("--spec", help="pack specification TOML (default: the bundled NMC811 EV pack)")
    create.add_argument("--base", help="base IRI of identifiers (default: settings base_iri)")
    create.add_argument("--out", required=True, help="output file: .json, .xml or .aasx")
    create.set_defaults(func=_fleet_create)

    validate = subparsers.add_parser("validate", help="check an AAS file: metamodel, templates, access groups")
    validate.add_argument("file")
    validate.add_argument("--no-metamodel", action="store_true", help="skip the aas-core3.1 verification")
    validate.add_argument("--shacl", action="store_true",
                          help="also check the RDF of the file with the IDTA AAS shapes and the packtwin passport "
                               "shapes (pyshacl; slow on large files)")
    validate.set_defaults(func=_validate)


def _fleet_create(args: argparse.Namespace) -> int:
    from packtwin.aas.documents import thumbnail_png
    from packtwin.aas.fleet import DEFAULT_TIMESERIES_ENDPOINT, build_fleet, plan_fleet, write_fleet_json
    from packtwin.aas.interchange import InterchangeError, atomic_text, format_of, write_environment
    from packtwin.aas.spec import SpecError, load_spec
    from packtwin.settings import load_settings

    for name in ("packs", "modules", "cells"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f"packtwin fleet create: --{name} must be at least 1", file=sys.stderr)
            return 2
    try:
        format_of(args.out)
        spec = load_spec(args.spec)
    except (SpecError, InterchangeError, OSError) as exc:
        print(f"packtwin fleet create: {exc}", file=sys.stderr)
        return 1
    base = args.base or load_settings().base_iri
    started = time.perf_counter()
    if format_of(args.out) == ".json":
        spec, hierarchy = plan_fleet(args.packs, args.modules, args.cells, spec, base)
        with atomic_text(args.out) as fh:
            count = write_fleet_json(fh, hierarchy, spec, dt.datetime.now(dt.UTC).replace(microsecond=0),
                                     DEFAULT_TIMESERIES_ENDPOINT)
    else:
        fleet = build_fleet(args.packs, args.modules, args.cells, spec=spec, base=base)
        write_environment(args.out, fleet.objects, fleet.files, thumbnail=(thumbnail_png(), "image/png"))
        hierarchy, count = fleet.packs, len(fleet.objects)
    shells = sum(1 for pack in hierarchy for _ in pack.walk())
    print(f"wrote {args.out}: {shells} AAS ({args.packs} packs), {count} identifiables "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from packtwin.aas.interchange import InterchangeError, read_environment
    from packtwin.aas.validation import validate_environment

    try:
        objects, _files = read_environment(args.file)
    except InterchangeError as exc:
        print(exc)
        return 1
    violations = [str(v) for v in validate_environment(objects, metamodel=not args.no_metamodel)]
    if args.shacl:
        from packtwin.ontology.shacl import validate_shacl

        violations += [f"SHACL: {line}" for line in validate_shacl(args.file)]
    for v in violations:
        print(f"{args.file}: {v}")
    if violations:
        print(f"{len(violations)} violation(s)", file=sys.stderr)
        return 1
    print(f"{args.file}: valid ({len(objects)} identifiables)", file=sys.stderr)
    return 0
