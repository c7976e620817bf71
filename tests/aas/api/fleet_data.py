"""Test data for the API: a small fleet from the fleet builder, written as AASX and served by ``packtwin serve``."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path

from basyx.aas import model

from packtwin.aas.fleet import Fleet, build_fleet
from packtwin.aas.interchange import write_environment

BASE = "https://test.packtwin.example"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def fill_empty_addresses(fleet: Fleet) -> int:
    """Give each nameplate's empty AddressInformation a postal address (the regulation asks for the manufacturer's
    address; the fleet builder leaves it empty). Returns how many were filled.

    Why here: the official test engine (aas-test-engines 1.0.3) crashes on an empty SubmodelElementCollection, which
    AAS JSON serialises without ``value`` (docs/api.md, 'Test engine and AAS 3.1 JSON')."""
    filled = 0
    for obj in fleet.objects:
        if not isinstance(obj, model.Submodel) or obj.id_short != "BatteryNameplate":
            continue
        for el in obj.submodel_element:
            if isinstance(el, model.SubmodelElementCollection) and not len(el.value):
                for name, value in (("Street", "Am Hafen 1"), ("Zipcode", "20457"), ("CityTown", "Hamburg"),
                                    ("NationalCode", "DE")):
                    el.value.add(model.Property(name, model.datatypes.String, value))
                filled += 1
    return filled


@functools.lru_cache(maxsize=4)
def _built(packs: int, modules: int, cells: int) -> Fleet:
    fleet = build_fleet(packs, modules, cells, base=BASE, now=NOW)
    fill_empty_addresses(fleet)
    return fleet


def make_fleet(packs: int = 2, modules: int = 1, cells: int = 1) -> Fleet:
    """A fresh copy (tests change it) of the fleet, built once per shape."""
    return copy.deepcopy(_built(packs, modules, cells))


def write_fleet(path: Path, fleet: Fleet) -> Path:
    write_environment(path, fleet.objects, fleet.files)
    return path
