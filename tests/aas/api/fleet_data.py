"""Test data for the API: a small fleet from the fleet builder, written as AASX and served by ``packtwin serve``."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path

from packtwin.aas.fleet import Fleet, build_fleet
from packtwin.aas.interchange import write_environment

BASE = "https://test.packtwin.example"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@functools.lru_cache(maxsize=4)
def _built(packs: int, modules: int, cells: int) -> Fleet:
    return build_fleet(packs, modules, cells, base=BASE, now=NOW)


def make_fleet(packs: int = 2, modules: int = 1, cells: int = 1) -> Fleet:
    """A fresh copy (tests change it) of the fleet, built once per shape."""
    return copy.deepcopy(_built(packs, modules, cells))


def write_fleet(path: Path, fleet: Fleet) -> Path:
    write_environment(path, fleet.objects, fleet.files)
    return path
