"""Push or pull an AAS environment between packtwin and any AAS Part 2 server: idempotent, resumable, clear about
conflicts.

For every concept description, submodel and shell of the source (in that order, so that references resolve):

- missing in the target: created (POST);
- equal in the target (compared as normalised JSON): nothing is sent;
- different, and the target still holds what the last sync wrote there (recorded in the journal): updated (PUT);
- different, and the target changed since the last sync, or was never synced from here: a **conflict**, reported
  and left alone, or overwritten with ``on_conflict="overwrite"``, or the sync stops with ``on_conflict="fail"``.

The journal (one JSON line per transferred item: kind, id, digest) is appended and flushed after every write, so an
interrupted sync resumes where it stopped: what already arrived compares equal and is skipped. A second sync of an
unchanged source transfers nothing. Items only in the target are reported, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from packtwin.connectors.remote.client import (
    KINDS,
    SHELL_DESCRIPTORS,
    SHELLS,
    SUBMODELS,
    AasClient,
    RemoteError,
    encode_id,
)

logger = logging.getLogger(__name__)


# Lists the metamodel defines as sets (and language-string sets): their order carries no meaning, and servers,
# basyx among them, write them in any order (even differently in two processes).
_UNORDERED = frozenset({"submodels", "specificAssetIds", "embeddedDataSpecifications", "isCaseOf",
                        "supplementalSemanticIds", "extensions", "qualifiers", "displayName", "description",
                        "preferredName", "shortName", "definition", "valueReferencePairs"})


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise(node: Any, key: str | None = None) -> Any:
    """The form two equal items share on any server: without empty lists and nulls (servers differ in writing them;
    they carry no information) and with set-valued lists sorted."""
    if isinstance(node, dict):
        out = {k: normalise(v, k) for k, v in node.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(node, list):
        items = [normalise(v) for v in node]
        return sorted(items, key=_canonical) if key in _UNORDERED else items
    return node


def digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(normalise(doc)).encode("utf-8")).hexdigest()


class Endpoint(Protocol):
    name: str

    def items(self, kind: str) -> Iterator[dict[str, Any]]: ...
    def ids(self, kind: str) -> set[str]: ...
    def get(self, kind: str, identifier: str) -> dict[str, Any] | None: ...
    def create(self, kind: str, doc: dict[str, Any]) -> None: ...
    def update(self, kind: str, doc: dict[str, Any]) -> None: ...


class RemoteEndpoint:
    def __init__(self, client: AasClient) -> None:
        self.client = client
        self.name = client.base_url

    def items(self, kind: str) -> Iterator[dict[str, Any]]:
        return self.client.list(kind)

    def ids(self, kind: str) -> set[str]:
        return {d["id"] for d in self.client.list(kind)}

    def get(self, kind: str, identifier: str) -> dict[str, Any] | None:
        return self.client.get(kind, identifier)

    def create(self, kind: str, doc: dict[str, Any]) -> None:
        self.client.create(kind, doc)

    def update(self, kind: str, doc: dict[str, Any]) -> None:
        self.client.update(kind, doc)


class LocalEndpoint:
    """packtwin's own repository as an endpoint (writes go through it, so they are persisted and announced)."""

    def __init__(self, repo: Any, name: str = "local") -> None:
        self.repo = repo
        self.name = name

    _TYPES = {SHELLS: "AssetAdministrationShell", SUBMODELS: "Submodel", "concept-descriptions": "ConceptDescription"}

    def items(self, kind: str) -> Iterator[dict[str, Any]]:
        from packtwin.aas.serialization import to_jsonable

        getter = {SHELLS: self.repo.shells, SUBMODELS: self.repo.submodels,
                  "concept-descriptions": self.repo.concept_descriptions}[kind]
        for obj in getter():
            yield to_jsonable(obj)

    def ids(self, kind: str) -> set[str]:
        getter = {SHELLS: self.repo.shells, SUBMODELS: self.repo.submodels,
                  "concept-descriptions": self.repo.concept_descriptions}[kind]
        return {obj.id for obj in getter()}

    def get(self, kind: str, identifier: str) -> dict[str, Any] | None:
        from packtwin.aas.serialization import to_jsonable

        if identifier not in self.repo:
            return None
        obj = self.repo.get(identifier)
        return to_jsonable(obj) if type(obj).__name__ == self._TYPES[kind] else None

    def create(self, kind: str, doc: dict[str, Any]) -> None:
        self.repo.add(self._decode(kind, doc))

    def update(self, kind: str, doc: dict[str, Any]) -> None:
        self.repo.replace(self._decode(kind, doc))

    def _decode(self, kind: str, doc: dict[str, Any]) -> Any:
        from packtwin.aas.serialization import from_json

        obj = from_json(json.dumps(doc))
        if type(obj).__name__ != self._TYPES[kind]:
            raise ValueError(f"{doc.get('id')!r} is a {type(obj).__name__}, not one of {kind}")
        return obj


class Journal:
    """What the last syncs wrote to one target: (kind, id) -> digest, appended line by line."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._last: dict[tuple[str, str], str] = {}
        if self.path and self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                        self._last[(rec["kind"], rec["id"])] = rec["digest"]
                    except (ValueError, KeyError):
                        continue  # a line torn by a crash: that item is simply compared again
        self._fh = None

    def last(self, kind: str, identifier: str) -> str | None:
        return self._last.get((kind, identifier))

    def record(self, kind: str, identifier: str, value: str) -> None:
        if self._last.get((kind, identifier)) == value:
            return
        self._last[(kind, identifier)] = value
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(json.dumps({"kind": kind, "id": identifier, "digest": value}) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class Conflict:
    kind: str
    id: str
    reason: str


@dataclass
class Report:
    created: list[tuple[str, str]] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    overwritten: list[tuple[str, str]] = field(default_factory=list)
    only_in_target: list[tuple[str, str]] = field(default_factory=list)
    descriptors: int = 0

    @property
    def transferred(self) -> int:
        return len(self.created) + len(self.updated) + len(self.overwritten) + self.descriptors

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged, "
                f"{len(self.conflicts)} conflicts{' (left alone)' if self.conflicts else ''}, "
                f"{len(self.overwritten)} conflicts overwritten, {len(self.only_in_target)} only in the target, "
                f"{self.descriptors} registry descriptors written")


class ConflictError(RuntimeError):
    pass


def sync(source: Endpoint, target: Endpoint, journal: Journal | None = None, *, on_conflict: str = "skip",
         kinds: tuple[str, ...] = KINDS) -> Report:
    if on_conflict not in ("skip", "overwrite", "fail"):
        raise ValueError(f"on_conflict must be skip, overwrite or fail, not {on_conflict!r}")
    journal = journal or Journal(None)
    report = Report()
    for kind in kinds:
        seen: set[str] = set()
        for doc in source.items(kind):
            ident = doc["id"]
            seen.add(ident)
            want = digest(doc)
            have_doc = target.get(kind, ident)
            if have_doc is None:
                target.create(kind, doc)
                report.created.append((kind, ident))
                journal.record(kind, ident, want)
                continue
            have = digest(have_doc)
            if have == want:
                report.unchanged += 1
                journal.record(kind, ident, want)
                continue
            last = journal.last(kind, ident)
            if last == have:  # the target holds what we wrote last time: a plain update
                target.update(kind, doc)
                report.updated.append((kind, ident))
                journal.record(kind, ident, want)
                continue
            reason = ("changed in the target since the last sync" if last is not None
                      else "exists in the target with different content and was never synced from this source")
            if on_conflict == "overwrite":
                target.update(kind, doc)
                report.overwritten.append((kind, ident))
                journal.record(kind, ident, want)
                logger.warning("sync: overwrote %s %s (%s)", kind, ident, reason)
            else:
                report.conflicts.append(Conflict(kind, ident, reason))
                if on_conflict == "fail":
                    raise ConflictError(f"{kind} {ident}: {reason}")
        report.only_in_target += [(kind, ident) for ident in sorted(target.ids(kind) - seen)]
    return report


def shell_descriptor(shell: dict[str, Any], submodels: dict[str, dict[str, Any]], repository_url: str,
                     ) -> dict[str, Any]:
    """The AAS registry descriptor of ``shell`` as served at ``repository_url`` (AAS Part 2 registry profile)."""
    base = repository_url.rstrip("/")

    def endpoint(interface: str, path: str) -> dict[str, Any]:
        return {"interface": interface,
                "protocolInformation": {"href": f"{base}/{path}", "endpointProtocol": "HTTP",
                                        "endpointProtocolVersion": ["1.1"]}}

    desc: dict[str, Any] = {"id": shell["id"], "endpoints": [endpoint("AAS-3.0", f"shells/{encode_id(shell['id'])}")]}
    for key in ("idShort", "assetKind", "assetType", "globalAssetId", "specificAssetIds"):
        info = shell.get("assetInformation", {})
        value = shell.get(key) if key == "idShort" else info.get(key)
        if value:
            desc[key] = value
    subs = []
    for ref in shell.get("submodels", []):
        sm_id = ref["keys"][-1]["value"]
        sm = submodels.get(sm_id, {})
        sd: dict[str, Any] = {"id": sm_id, "endpoints": [endpoint("SUBMODEL-3.0", f"submodels/{encode_id(sm_id)}")]}
        if sm.get("idShort"):
            sd["idShort"] = sm["idShort"]
        if sm.get("semanticId"):
            sd["semanticId"] = sm["semanticId"]
        subs.append(sd)
    if subs:
        desc["submodelDescriptors"] = subs
    return desc


def register(target: Endpoint, registry: AasClient, repository_url: str, journal: Journal | None = None,
             report: Report | None = None) -> Report:
    """Write (idempotently) a shell descriptor for every shell of ``target`` into ``registry``."""
    journal = journal or Journal(None)
    report = report or Report()
    submodels = {d["id"]: d for d in target.items(SUBMODELS)}
    for shell in target.items(SHELLS):
        desc = shell_descriptor(shell, submodels, repository_url)
        current = registry.get(SHELL_DESCRIPTORS, desc["id"])
        if current is not None and digest(current) == digest(desc):
            continue
        try:
            if current is None:
                registry.create(SHELL_DESCRIPTORS, desc)
            else:
                registry.update(SHELL_DESCRIPTORS, desc)
        except RemoteError as exc:
            if exc.status not in (400, 403, 409):
                raise
            report.conflicts.append(Conflict(SHELL_DESCRIPTORS, desc["id"], f"the registry refused it: {exc}"))
            continue
        journal.record(SHELL_DESCRIPTORS, desc["id"], digest(desc))
        report.descriptors += 1
    return report
