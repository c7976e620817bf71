"""What keeping the RDF graph in step costs a write: the repository's commit alone beside the same writes synced.

Two writes the platform makes all the time, on a fleet of ``--packs`` packs (8 modules x 12 cells) in a SQLite
repository:

* ``record``  - an estimator's record of one cell (state of charge, remaining capacity and energy, cycles, RUL, ...):
  its Product Condition and Technical Data values set in place, one commit (one submodel event) per submodel, as the
  demo's writer does;
* ``element`` - one Property written through the AAS API's ``$value`` PATCH path (one element event), as a remote
  estimator's write-back does.

Each runs ``--records`` times on a repository without the RDF sync (the baseline: SQLite commit and JSON
serialisation) and on one with it, alternating in blocks so that machine noise hits both; the figure is the time
spent in the sync's event handler per write (timed directly: the difference of the two arms also carries the
interpreter's garbage collections, which fall in either) and its ratio to the baseline. At the end the synced graph is checked against a fresh conversion of
the repository (it must be identical). JSON goes to ``bench/results/rdf_sync.json``.

    python bench/rdf_sync.py [--packs 2] [--records 300] [--blocks 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from packtwin.aas.api import paths, valueonly  # noqa: E402
from packtwin.aas.events import Operation  # noqa: E402
from packtwin.aas.fleet import build_fleet  # noqa: E402
from packtwin.aas.ids import Level, TwinIds  # noqa: E402
from packtwin.aas.repository import Repository  # noqa: E402
from packtwin.analytics.passport import EstimateRecord, passport_values  # noqa: E402
from packtwin.demo.estimates import set_values  # noqa: E402
from packtwin.ontology.store import GraphStore  # noqa: E402
from packtwin.ontology.sync import RdfSync, full_quads  # noqa: E402

BASE = "https://example.org/packtwin"


class TimedSync(RdfSync):
    """The sync with the time spent in its event handler added up (the direct measure of its cost)."""

    spent_s = 0.0

    def on_event(self, event) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            super().on_event(event)
        finally:
            self.spent_s += time.perf_counter() - t0


def cell_record(rng: random.Random, t: float) -> dict[str, list[tuple[str, str]]]:
    """The passport values of one cell's estimate, by submodel."""
    rec = EstimateRecord(t, soc=rng.random(), capacity_ah=4.5 + 0.5 * rng.random(), rated_capacity_ah=5.0,
                         nominal_voltage_v=3.63, certified_energy_kwh=0.0181, full_equivalent_cycles=500 * rng.random(),
                         resistance_increase_pct=20 * rng.random(), remaining_useful_life_days=900 * rng.random())
    out: dict[str, list[tuple[str, str]]] = {}
    for v in passport_values(rec):
        out.setdefault(v.submodel, []).append((v.id_short_path, v.value))
    return out


def write_records(repo: Repository, serials: list[str], n: int, seed: int) -> int:
    rng = random.Random(seed)
    commits = 0
    for k in range(n):
        ids = TwinIds(BASE, Level.CELL, serials[(seed * 7 + k) % len(serials)])
        for submodel, values in cell_record(rng, 1.8e9 + k).items():
            commits += bool(set_values(repo, ids.submodel_id(submodel), values))
    return commits


def write_elements(repo: Repository, serials: list[str], n: int, seed: int) -> int:
    """``n`` Property writes through the API's ``$value`` path: resolve, set, commit with the element's path."""
    rng = random.Random(seed)
    done = 0
    for k in range(n):
        ids = TwinIds(BASE, Level.CELL, serials[(seed * 7 + k) % len(serials)])
        sm = repo.get_submodel(ids.submodel_id("ProductCondition"))
        path = "StateOfCharge.StateOfChargeValue"
        with repo.lock:
            element = paths.resolve(sm, path)
            valueonly.set_value(element, f"{100 * rng.random():.2f}", path)
            repo.commit(sm, path, Operation.UPDATED, element)
        done += 1
    return done


WORKLOADS = {"record": write_records, "element": write_elements}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", type=int, default=2)
    ap.add_argument("--records", type=int, default=300, help="writes per workload and arm, in all")
    ap.add_argument("--blocks", type=int, default=5, help="alternations between the two arms")
    args = ap.parse_args()

    fleet = build_fleet(args.packs, 8, 12)
    objects = list(fleet.objects)
    serials = sorted({o.id.split("/")[-2] for o in objects if "/sm/cell/" in o.id})
    tmp = Path(tempfile.mkdtemp(prefix="packtwin-bench-sync-"))
    repos = {}
    for arm in ("plain", "synced"):
        repos[arm] = Repository.open(tmp / f"{arm}.db")
        repos[arm].add_many(objects)
    store = GraphStore("oxigraph")
    sync = TimedSync(repos["synced"], store).start()
    per_block = max(1, args.records // args.blocks)
    results: dict = {"packs": args.packs, "cells": len(serials), "quads_at_start": len(store), "workloads": {}}
    try:
        for name, work in WORKLOADS.items():
            for arm in repos:  # warm-up: first touches of each submodel, caches
                work(repos[arm], serials, 10, seed=999)
            ms: dict[str, list[float]] = {"plain": [], "synced": [], "in_sync": []}
            for b in range(args.blocks):
                for arm in (("plain", "synced") if b % 2 == 0 else ("synced", "plain")):
                    spent, t0 = sync.spent_s, time.perf_counter()
                    writes = work(repos[arm], serials, per_block, seed=b)
                    ms[arm].append((time.perf_counter() - t0) * 1000 / max(writes, 1))
                    if arm == "synced":
                        ms["in_sync"].append((sync.spent_s - spent) * 1000 / max(writes, 1))
            plain, synced = statistics.median(ms["plain"]), statistics.median(ms["synced"])
            in_sync = statistics.median(ms["in_sync"])
            results["workloads"][name] = {
                "writes_per_arm": per_block * args.blocks, "plain_ms_per_write": round(plain, 3),
                "synced_ms_per_write": round(synced, 3), "sync_ms_per_write": round(in_sync, 3),
                "difference_ms_per_write": round(synced - plain, 3), "sync_to_plain": round(in_sync / plain, 2)}
        fresh, _ = full_quads(list(repos["synced"]))
        results["graph_equals_fresh_conversion"] = store.all_quads() == set(fresh)
        results["quads_at_end"] = len(store)
    finally:
        sync.stop()

    print(f"\n{len(serials)} cells, {results['quads_at_start']:,} quads; median of {args.blocks} blocks, ms per write "
          f"(a record writes two submodels)\n")
    print("| write | repository alone | with the RDF sync | in the sync's handler | sync / repository |")
    print("|---|---|---|---|---|")
    for name, row in results["workloads"].items():
        print(f"| {name} | {row['plain_ms_per_write']:.2f} | {row['synced_ms_per_write']:.2f} | "
              f"{row['sync_ms_per_write']:.2f} | {row['sync_to_plain']:.2f} |")
    print(f"\nsynced graph equals a fresh conversion: {results['graph_equals_fresh_conversion']}")
    out = Path(__file__).resolve().parent / "results" / "rdf_sync.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0 if results["graph_equals_fresh_conversion"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
