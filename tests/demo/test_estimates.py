"""Writing estimates and safety events into the passport submodels of a real SQLite repository."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from packtwin.aas.repository import Repository
from packtwin.demo.estimates import add_negative_event, set_values
from packtwin.demo.fleetdata import load_fleet
from packtwin.ontology import battery
from packtwin.ontology.battery import PT
from packtwin.submodels.product_condition import PART

BASE = "https://example.org/packtwin"
CELL_PC = f"{BASE}/sm/cell/PT-P000001-M01-C002/ProductCondition"


def test_fleet_is_imported_once_and_reused(tmp_path: Path) -> None:
    repo, _, hierarchy, imported = load_fleet(tmp_path, 1, 2, 3, BASE)
    assert imported == len(repo) and [b.serial for b in hierarchy] == ["PT-P000001"]
    repo.store.close()
    repo2, _, _, again = load_fleet(tmp_path, 1, 2, 3, BASE)
    assert again == 0 and len(repo2) == imported


def test_estimates_and_negative_events_persist_and_reach_rdf(tmp_path: Path) -> None:
    repo, *_ = load_fleet(tmp_path, 1, 2, 3, BASE)
    events = []
    repo.bus.subscribe(events.append)
    assert set_values(repo, CELL_PC, [("StateOfCharge.StateOfChargeValue", "61.5"),
                                      ("StateOfCertifiedEnergy.StateOfCertifiedEnergyValue", "93.25"),
                                      ("NoSuch.Element", "1")]) == 2
    # Elements a twin is built without (no value at the beginning of life) are added from the template.
    assert set_values(repo, CELL_PC, [("TemperatureInformation.MeasuredTemp", "31.5"),
                                      ("TemperatureInformation.LastUpdate", "2026-05-01T00:00:00Z"),
                                      ("RemainingUsefulLife.RemainingUsefulLifeValue", "412.5"),
                                      ("RemainingUsefulLife.LastUpdate", "2026-05-01T00:00:00Z")]) == 4
    t = dt.datetime(2026, 5, 1, tzinfo=dt.UTC).timestamp()
    assert add_negative_event(repo, CELL_PC, "internal_short (critical): leak 0.8 A", t)
    assert not add_negative_event(repo, f"{BASE}/sm/cell/NOPE/ProductCondition", "x", t)
    assert not add_negative_event(repo, CELL_PC, "internal_short (critical): again", t,
                                  dedupe_prefix="internal_short (")
    assert len(events) == 3  # one change event per write
    repo.store.close()

    sm = Repository.open(tmp_path / "repository.sqlite").get_submodel(CELL_PC)
    assert sm.get_referable("StateOfCharge").get_referable("StateOfChargeValue").value == 61.5
    assert sm.get_referable("TemperatureInformation").get_referable("MeasuredTemp").value == 31.5
    assert PART.validate(sm) == []
    items = list(sm.get_referable("NegativeEvents").value)
    assert len(items) == 1
    assert items[0].get_referable("NegativeEventValue").value == "internal_short (critical): leak 0.8 A"
    assert items[0].get_referable("LastUpdate").value.year == 2026
    about, owned = battery.derive(sm)
    assert any(p == PT.stateOfHealth and float(o) == 93.25 for _, p, o, _ in about)
    assert any(p == PT.remainingUsefulLife and float(o) == 412.5 for _, p, o, _ in about)
    assert any(o == PT.InternalShortCircuit for _, _, o, _ in owned)
