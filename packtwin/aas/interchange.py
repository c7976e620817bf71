"""AAS environments in and out of files: AAS JSON, AAS XML and AASX packages (with supplementary files and the
package thumbnail). The format follows the file extension.

Reading is strict: the first defect raises :class:`InterchangeError` naming the file and, where the parser can tell,
the element. Writing goes to a temporary file that replaces the target only when complete, so a failed export leaves
nothing half-written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import json_deserialization, json_serialization
from basyx.aas.adapter.xml import xml_deserialization, xml_serialization
from lxml import etree

from packtwin.aas.serialization import AASJsonEncoder

FORMATS = (".json", ".xml", ".aasx")
THUMBNAIL_PART = "/packtwin-thumbnail.png"


class InterchangeError(ValueError):
    """A file that cannot be read or written; the message names the file and the element."""


def format_of(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InterchangeError(f"{path}: unknown format {suffix or '(no extension)'}; use one of {', '.join(FORMATS)}")
    return suffix


def read_environment(path: str | os.PathLike[str]
                     ) -> tuple[model.DictIdentifiableStore, aasx.DictSupplementaryFileContainer]:
    """All identifiables (and, for AASX, supplementary files) of ``path``."""
    fmt = format_of(path)
    objects: model.DictIdentifiableStore = model.DictIdentifiableStore()
    files = aasx.DictSupplementaryFileContainer()
    if not Path(path).is_file():
        raise InterchangeError(f"{path}: no such file")
    try:
        if fmt == ".json":
            with open(path, encoding="utf-8-sig") as fh:
                json_deserialization.read_aas_json_file_into(objects, fh, failsafe=False)
        elif fmt == ".xml":
            with open(path, "rb") as fh:
                xml_deserialization.read_aas_xml_file_into(objects, fh, failsafe=False)
        else:
            _read_aasx(path, objects, files)
    except InterchangeError:
        raise
    except json.JSONDecodeError as exc:
        raise InterchangeError(f"{path}: not valid JSON: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise InterchangeError(f"{path}: not valid XML: {exc}") from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InterchangeError(f"{path}: not a readable AASX package: {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        located = _locate_json_defect(path) if fmt == ".json" else None
        raise InterchangeError(f"{path}: {located or _describe(exc)}") from None
    return objects, files


def _locate_json_defect(path: str | os.PathLike[str]) -> str | None:
    """Name the element behind a parse failure: the parser says what failed but not where."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            env = json.load(fh)
    except (OSError, ValueError):
        return None
    for kind in ("assetAdministrationShells", "submodels", "conceptDescriptions"):
        for i, obj in enumerate(env.get(kind) or []):
            where = f"{kind}[{i}] {obj.get('id', '(no id)') if isinstance(obj, dict) else ''}"
            if not isinstance(obj, dict):
                return f"{where}: not a JSON object"
            found = _walk_elements(obj.get("submodelElements") or [], "")
            if found:
                return f"{where}: {found}"
    return None


def _walk_elements(elements: list[object], path: str) -> str | None:
    for j, e in enumerate(elements):
        if not isinstance(e, dict):
            return f"{path}[{j}]: not a JSON object"
        p = f"{path}.{e['idShort']}" if path and "idShort" in e else e.get("idShort", f"{path}[{j}]")
        vt = e.get("valueType")
        if e.get("modelType") in ("Property", "Range") and vt is not None:
            cls = model.datatypes.XSD_TYPE_CLASSES.get(vt)
            if cls is None:
                return f"{p}: unknown valueType {vt!r}"
            for key in ("value", "min", "max"):
                if e.get(key) is not None:
                    try:
                        model.datatypes.from_xsd(e[key], cls)
                    except (ValueError, TypeError):
                        return f"{p}: value {e[key]!r} is not a valid {vt}"
        children = e.get("statements") if e.get("modelType") == "Entity" else e.get("value")
        if isinstance(children, list) and e.get("modelType") in ("SubmodelElementCollection",
                                                                   "SubmodelElementList", "Entity"):
            found = _walk_elements(children, str(p))
            if found:
                return found
    return None


def _read_aasx(path: str | os.PathLike[str], objects: model.DictIdentifiableStore,
               files: aasx.DictSupplementaryFileContainer) -> None:
    if not zipfile.is_zipfile(path):
        raise InterchangeError(f"{path}: not a readable AASX package: not a ZIP (OPC) file")
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise InterchangeError(f"{path}: not a readable AASX package: part {bad} is corrupt")
    with aasx.AASXReader(path, failsafe=False) as reader:
        ids = reader.read_into(objects, files)
    if not ids:
        # basyx skips parts it cannot parse (e.g. AAS 3.0 XML) without a word; an empty package is an error here.
        raise InterchangeError(f"{path}: the AASX package holds no AAS 3.1 environment part")


def _describe(exc: BaseException) -> str:
    """The parser's message plus its causes, which name the offending element."""
    parts = [str(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 5:
        parts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(p for p in parts if p)


@contextlib.contextmanager
def atomic_text(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only when the block completes (fsync'd, then renamed)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_environment(path: str | os.PathLike[str], objects: Iterable[model.Identifiable],
                      files: aasx.AbstractSupplementaryFileContainer | None = None,
                      thumbnail: tuple[bytes, str] | None = None) -> None:
    """Write ``objects`` to ``path`` atomically; AASX packages get ``files`` and the ``thumbnail`` (bytes, type)."""
    fmt = format_of(path)
    store = objects if isinstance(objects, model.DictIdentifiableStore) else model.DictIdentifiableStore(objects)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if fmt == ".json":
            with open(tmp, "w", encoding="utf-8") as fh:
                json_serialization.write_aas_json_file(fh, store, encoder=AASJsonEncoder)
        elif fmt == ".xml":
            with open(tmp, "wb") as fh:
                xml_serialization.write_aas_xml_file(fh, store)
        else:
            _write_aasx(tmp, store, files or aasx.DictSupplementaryFileContainer(), thumbnail)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_aasx(path: str, store: model.DictIdentifiableStore, files: aasx.AbstractSupplementaryFileContainer,
                thumbnail: tuple[bytes, str] | None) -> None:
    with aasx.AASXWriter(path, failsafe=False) as writer:
        # One environment part with everything (shells, submodels, concept descriptions), as in the IDTA templates.
        # XML inside the package: basyx's AASX writer has no encoder hook for the JSON defect fixed in serialization.
        writer.write_all_aas_objects("/aasx/data.xml", store, files, write_json=False)
        if thumbnail is not None:
            writer.write_thumbnail(THUMBNAIL_PART, bytearray(thumbnail[0]), thumbnail[1])


def file_bytes(files: aasx.AbstractSupplementaryFileContainer, name: str) -> bytes:
    buf = io.BytesIO()
    files.write_file(name, buf)
    return buf.getvalue()
