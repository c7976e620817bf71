"""Put the demo fleet into ``DATA/repository.sqlite`` the fast way: AAS JSON straight into the store, decoded on use.

A data directory that already holds the fleet is reused as it is (estimates written by an earlier run stay).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from packtwin.aas.fleet import iter_fleet_json, plan_fleet
from packtwin.aas.hierarchy import Battery
from packtwin.aas.ids import Level, TwinIds
from packtwin.aas.repository import Repository
from packtwin.aas.spec import PackSpec

logger = logging.getLogger(__name__)


def load_fleet(data_dir: Path, packs: int, modules: int, cells: int, base: str,
               repo: Repository | None = None) -> tuple[Repository, PackSpec, list[Battery], int]:
    """The repository, the spec, the pack hierarchy and how many identifiables were imported now (0 if reused)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    repo = repo or Repository.open(data_dir / "repository.sqlite")
    spec, hierarchy = plan_fleet(packs, modules, cells, base=base)
    missing = [b for b in hierarchy if TwinIds(base, Level.PACK, b.serial).aas_id not in repo]
    if not missing:
        return repo, spec, hierarchy, 0
    logger.info("building %d packs of %d x %d cells into %s ...", len(missing), modules, cells, data_dir)
    endpoint = f"sqlite:{(data_dir / 'timeseries.sqlite').as_posix()}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # Concept descriptions are shared by every pack: only the first import brings them.
    docs = (d for d in iter_fleet_json(missing, spec, now, endpoint) if d["id"] not in repo)
    n = repo.import_json(docs)
    logger.info("imported %d identifiables (%d packs) into %s", n, len(missing), data_dir)
    return repo, spec, hierarchy, n
