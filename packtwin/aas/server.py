"""Run the AAS HTTP API with uvicorn over data from a file or a data directory.

``--data FILE`` (AAS JSON, XML or AASX) serves an in-memory repository: writes last until the process ends.
``--data DIR`` serves the SQLite repository ``DIR/repository.sqlite`` (created if needed), importing every AAS file
found in ``DIR`` whose identifiables are not there yet, so writes persist; registered descriptors go to
``DIR/descriptors.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from basyx.aas.adapter.aasx import DictSupplementaryFileContainer

from packtwin.aas.api.registry import DescriptorStore
from packtwin.aas.interchange import FORMATS, read_environment
from packtwin.aas.repository import Repository

logger = logging.getLogger(__name__)


@dataclass
class ServedData:
    repo: Repository
    files: DictSupplementaryFileContainer
    descriptors: DescriptorStore


def _merge_files(into: DictSupplementaryFileContainer, other: DictSupplementaryFileContainer) -> None:
    import io
    for name in other:
        buf = io.BytesIO()
        other.write_file(name, buf)
        buf.seek(0)
        into.add_file(name, buf, other.get_content_type(name))


def load_data(path: str | Path, max_decoded: int | None = None) -> ServedData:
    """A data directory (its SQLite repository, keeping at most ``max_decoded`` twins decoded, plus the AAS files
    in it imported once) or one AAS file (in memory)."""
    path = Path(path)
    files = DictSupplementaryFileContainer()
    if path.is_dir():
        repo = Repository.open(path / "repository.sqlite", max_decoded=max_decoded)
        for source in sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS and p.is_file()):
            objects, extra = read_environment(source)
            new = [obj for obj in objects if obj.id not in repo]
            if new:
                repo.add_many(new)
                logger.info("imported %d identifiables from %s", len(new), source)
            _merge_files(files, extra)
        return ServedData(repo, files, DescriptorStore(path / "descriptors.json"))
    objects, files = read_environment(path)
    repo = Repository.open(None)
    repo.add_many(list(objects))
    return ServedData(repo, files, DescriptorStore())


def run(app: object, host: str, port: int) -> None:
    import uvicorn
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
