"""What the endpoint's process isolation costs: every catalogue query in-process, in a fresh forked child per query
(how /sparql ran before), and in a warm child of the snapshot pool (how it runs now), same store, same run.

    python bench/sparql_endpoint.py [--cells 1000] [--repeat 10]

Prints a table and writes ``bench/results/sparql_endpoint.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sparql import CELLS_PER_PACK, distinct_packs, fleet_quads  # noqa: E402

from packtwin.ontology import catalog  # noqa: E402
from packtwin.ontology.endpoint import _handle  # noqa: E402
from packtwin.ontology.snapshots import SnapshotPool  # noqa: E402
from packtwin.ontology.store import GraphStore  # noqa: E402
from packtwin.submodels.access import Role  # noqa: E402

ACCEPT = "application/sparql-results+json"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        kind, _answer = fn()
        assert kind == "ok", _answer
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sparql_endpoint.json"))
    args = ap.parse_args()
    distinct = distinct_packs(max(1, min(10, round(args.cells / CELLS_PER_PACK))), seed=1)
    store = GraphStore("oxigraph")
    for quads in fleet_quads(args.cells, distinct):
        store.add(quads)
    warm = SnapshotPool(store, _handle, max_idle=1)
    fresh = SnapshotPool(store, _handle, max_idle=0)  # every query forks a new child, as before
    role = Role.OPERATOR
    rows = []
    for q in catalog.QUERIES:
        request = (q.sparql, role, ACCEPT, 10_000, ([], []))
        inproc = timed(lambda r=request: _handle(store, *r), args.repeat)
        cold = timed(lambda r=request: fresh.run(r, 60.0), args.repeat)
        warm.run(request, 60.0)  # the pool's child exists from here on
        hot = timed(lambda r=request: warm.run(r, 60.0), args.repeat)
        row = {"query": q.name, "in_process_p50_ms": round(statistics.median(inproc), 2),
               "fresh_fork_p50_ms": round(statistics.median(cold), 2),
               "warm_child_p50_ms": round(statistics.median(hot), 2)}
        row["warm_vs_fresh"] = round(row["fresh_fork_p50_ms"] / row["warm_child_p50_ms"], 1)
        rows.append(row)
        print(f"{q.name:40s} in-process {row['in_process_p50_ms']:8.2f} ms  fresh fork {row['fresh_fork_p50_ms']:8.2f}"
              f" ms  warm child {row['warm_child_p50_ms']:8.2f} ms  x{row['warm_vs_fresh']}", flush=True)
    warm.close()
    out = {"benchmark": "sparql_endpoint", "cells": args.cells, "triples": len(store), "repeat": args.repeat,
           "warm_pool_forks": warm.forks, "queries": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
