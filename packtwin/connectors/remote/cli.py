"""``packtwin sync``: push an environment to, or pull it from, any AAS Part 2 server (and register descriptors)."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sync", help="push to / pull from an AAS Part 2 server (BaSyx, FA³ST, AASX Server, packtwin)",
        description="Copy shells, submodels and concept descriptions from a source to a target; idempotent and "
                    "resumable; conflicts (target changed since the last sync) are reported, not overwritten.")
    p.add_argument("--from", dest="source", metavar="URL", help="source server (API root, e.g. "
                   "http://host:8080/api/v3.0); default: the local --data")
    p.add_argument("--to", dest="target", metavar="URL", help="target server; default: the local --data")
    p.add_argument("--data", help="local data directory (SQLite repository) or AAS JSON/XML/AASX file")
    p.add_argument("--source-key", default=os.environ.get("PACKTWIN_SYNC_SOURCE_KEY"),
                   help="API key for the source (env PACKTWIN_SYNC_SOURCE_KEY); without one, only public content "
                        "of a packtwin server is read")
    p.add_argument("--target-key", default=os.environ.get("PACKTWIN_SYNC_TARGET_KEY"),
                   help="API key for the target (env PACKTWIN_SYNC_TARGET_KEY); writing needs the operator role")
    p.add_argument("--registry", metavar="URL", help="also register shell descriptors in this AAS registry")
    p.add_argument("--registry-key", default=os.environ.get("PACKTWIN_SYNC_REGISTRY_KEY"))
    p.add_argument("--on-conflict", choices=["skip", "overwrite", "fail"], default="skip",
                   help="what to do when the target changed since the last sync (default: skip and report)")
    p.add_argument("--journal", help="journal file (default: under the data directory, one per source/target)")
    p.set_defaults(func=_sync)


def _endpoint(url: str | None, data: str | None, key: str | None, what: str):
    from packtwin.connectors.remote.client import AasClient
    from packtwin.connectors.remote.sync import LocalEndpoint, RemoteEndpoint

    if url:
        return RemoteEndpoint(AasClient(url, api_key=key)), None
    if not data:
        raise ValueError(f"the {what} needs a URL (--{'from' if what == 'source' else 'to'}) or --data")
    from packtwin.aas.repository import Repository

    path = Path(data)
    if path.is_dir() or not path.suffix:
        repo = Repository.open(path / "repository.sqlite")
        return LocalEndpoint(repo, str(path)), None
    from packtwin.aas.interchange import read_environment

    repo = Repository.open(None)
    if path.exists():
        repo.add_many(list(read_environment(path)[0]))
    return LocalEndpoint(repo, str(path)), path  # a file target is written back at the end


def _sync(args: argparse.Namespace) -> int:
    from packtwin.connectors.remote.client import AasClient, RemoteError
    from packtwin.connectors.remote.sync import ConflictError, Journal, register, sync
    from packtwin.settings import load_settings

    if not args.source and not args.target:
        print("packtwin sync: give --from URL and/or --to URL", file=sys.stderr)
        return 2
    try:
        source, _ = _endpoint(args.source, args.data, args.source_key, "source")
        target, write_back = _endpoint(args.target, args.data if args.source else None, args.target_key, "target")
    except (ValueError, OSError) as exc:
        print(f"packtwin sync: {exc}", file=sys.stderr)
        return 2
    key = hashlib.sha256(f"{source.name}\n{target.name}".encode()).hexdigest()[:16]
    journal = Journal(args.journal or load_settings().data_path / "sync" / f"{key}.jsonl")
    try:
        report = sync(source, target, journal, on_conflict=args.on_conflict)
        if args.registry:
            if not args.target:
                print("packtwin sync: --registry needs --to URL (descriptors point to the target server)",
                      file=sys.stderr)
                return 2
            register(target, AasClient(args.registry, api_key=args.registry_key), args.target, journal, report)
    except ConflictError as exc:
        print(f"packtwin sync: conflict, stopped: {exc}", file=sys.stderr)
        return 3
    except RemoteError as exc:
        print(f"packtwin sync: {exc}", file=sys.stderr)
        return 1
    finally:
        journal.close()
    if write_back is not None:
        from packtwin.aas.interchange import write_environment

        write_environment(write_back, list(target.repo))
    print(report.summary())
    for c in report.conflicts:
        print(f"conflict: {c.kind} {c.id}: {c.reason}")
    return 0 if not report.conflicts else 3
