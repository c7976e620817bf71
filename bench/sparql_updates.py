"""Catalogue queries on a store that keeps being written: pyoxigraph with and without compaction, in one run.

pyoxigraph's in-memory store keeps every removed quad in the lists its lookups walk (packtwin/ontology/compaction.py),
so each value the sync replaces makes later queries on that node slower. This benchmark builds a fleet
(``--packs`` packs of 8 modules x 12 cells), syncs it into two stores -- one never compacted, one with the default
:class:`CompactionPolicy` -- and writes the state of charge of every battery's Product Condition through the
repository, ``--writes`` times in all (as the analytics workers do), timing three catalogue queries after each round.
The figure of merit is the ratio of the query p50 to the same store's p50 before any write. JSON goes to
``bench/results/sparql_updates.json``.

    python bench/sparql_updates.py [--packs 2] [--writes 250] [--rounds 5] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from basyx.aas import model  # noqa: E402

from packtwin.aas.fleet import build_fleet  # noqa: E402
from packtwin.aas.repository import Repository  # noqa: E402
from packtwin.ontology import catalog  # noqa: E402
from packtwin.ontology.compaction import CompactionPolicy  # noqa: E402
from packtwin.ontology.store import GraphStore  # noqa: E402
from packtwin.ontology.sync import RdfSync  # noqa: E402
from packtwin.submodels.access import AccessGroup  # noqa: E402

QUERIES = ("state-of-charge-per-pack", "cells-below-80-soh", "rul-within-six-months")
NEVER = CompactionPolicy(min_removed=10**15)


def p50(store: GraphStore, sparql: str, repeat: int) -> float:
    groups = list(AccessGroup)
    list(store.query_native(sparql, groups))  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for solution in store.query_native(sparql, groups):
            for value in solution:
                _ = value
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def arm(name: str, policy: CompactionPolicy, args: argparse.Namespace) -> dict:
    repo = Repository()
    fleet = build_fleet(args.packs, 8, 12)
    repo.add_many([o for o in fleet.objects if not isinstance(o, model.ConceptDescription)])
    store = GraphStore()
    sync = RdfSync(repo, store, policy).start()
    sparql = {q.name: q.sparql for q in catalog.QUERIES}
    pcs = [sm for sm in repo.submodels() if sm.id_short == "ProductCondition"]
    rng = random.Random(1)
    per_round = max(1, args.writes // args.rounds)
    rows = [{"writes_per_battery": 0, "write_ms": None,
             "p50_ms": {q: p50(store, sparql[q], args.repeat) for q in QUERIES}}]
    print(f"  {name}: {len(pcs)} batteries, {len(store):,} quads", file=sys.stderr, flush=True)
    try:
        for r in range(1, args.rounds + 1):
            t0 = time.perf_counter()
            for _ in range(per_round):
                for sm in pcs:
                    prop = sm.get_referable("StateOfCharge").get_referable("StateOfChargeValue")
                    prop.value = round(rng.uniform(5, 95), 1)
                    repo.commit(sm, "StateOfCharge.StateOfChargeValue", element=prop)
            write_ms = (time.perf_counter() - t0) * 1000 / (per_round * len(pcs))
            if sync.compactor is not None:
                sync.compactor.join()  # time the queries on a settled store
            rows.append({"writes_per_battery": r * per_round, "write_ms": round(write_ms, 3),
                         "p50_ms": {q: p50(store, sparql[q], args.repeat) for q in QUERIES}})
            print(f"  {name}: {r * per_round} writes per battery", file=sys.stderr, flush=True)
    finally:
        sync.stop()
    runs = sync.compactor.runs if sync.compactor is not None else 0
    return {"rows": rows, "compactions": runs,
            "last_compaction_s": round(sync.compactor.last_s, 2) if sync.compactor is not None else None,
            "quads": len(store)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", type=int, default=2)
    ap.add_argument("--writes", type=int, default=250, help="state-of-charge writes per battery, in all")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    results = {"packs": args.packs, "cells": args.packs * 96,
               "never_compacted": arm("never compacted", NEVER, args),
               "compacted": arm("compacted (default policy)", CompactionPolicy(), args)}
    off, on = results["never_compacted"], results["compacted"]
    print(f"\n{args.packs * 96} cells, {len(off['rows'][0]['p50_ms'])} queries; p50 in ms and as a ratio to the same "
          f"store before any write; compactions: {on['compactions']} (last {on['last_compaction_s']} s)\n")
    head = "| writes per battery | " + " | ".join(f"{q}: never / compacted" for q in QUERIES) + " | write ms |"
    print(head)
    print("|" + "---|" * (len(QUERIES) + 2))
    for a, b in zip(off["rows"], on["rows"], strict=True):
        cells = []
        for q in QUERIES:
            ra, rb = a["p50_ms"][q] / off["rows"][0]["p50_ms"][q], b["p50_ms"][q] / on["rows"][0]["p50_ms"][q]
            cells.append(f"{a['p50_ms'][q]:.2f} ({ra:.1f}x) / {b['p50_ms'][q]:.2f} ({rb:.1f}x)")
        write = f"{a['write_ms']} / {b['write_ms']}" if a["write_ms"] is not None else "-"
        print(f"| {a['writes_per_battery']} | " + " | ".join(cells) + f" | {write} |")
    out = Path(__file__).resolve().parent / "results" / "sparql_updates.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
