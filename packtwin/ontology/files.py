"""Reading AAS environments (JSON, XML, AASX) and naming RDF serialisations for the ontology commands."""

from __future__ import annotations

from pathlib import Path

from basyx.aas import model

RDF_SUFFIXES = {".ttl": "turtle", ".nt": "nt", ".jsonld": "json-ld", ".rdf": "xml", ".owl": "xml", ".nq": "nquads",
                ".trig": "trig"}


def read_identifiables(path: str | Path) -> list[model.Identifiable]:
    """All identifiables of an AAS environment file; a clear ValueError when the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            from basyx.aas.adapter.json import read_aas_json_file

            with path.open(encoding="utf-8-sig") as fh:
                return list(read_aas_json_file(fh, failsafe=False))
        if suffix == ".xml":
            from basyx.aas.adapter.xml import read_aas_xml_file

            with path.open("rb") as fh:
                return list(read_aas_xml_file(fh, failsafe=False))
        if suffix == ".aasx":
            from basyx.aas.adapter.aasx import AASXReader, DictSupplementaryFileContainer

            store: model.DictIdentifiableStore = model.DictIdentifiableStore()
            with AASXReader(path) as reader:
                reader.read_into(store, DictSupplementaryFileContainer())
            return list(store)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a valid AAS {suffix[1:].upper()} environment: {exc}") from exc
    raise ValueError(f"{path}: unknown AAS file type {suffix!r} (expected .json, .xml or .aasx)")
