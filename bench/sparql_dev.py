"""Development loop for the SPARQL benchmark: the catalogue on oxigraph only, from a cached N-Quads dump.

Building and converting the fleet of ``bench/sparql.py`` takes minutes; this script does it once per size, dumps the
quads to ``bench/results/fleet-<cells>.nq`` and afterwards bulk-loads that file (seconds), so a change to the store or
to a query can be timed right away. Rebuild the cache (``--rebuild``) after any change to the conversion. No rdflib
baseline here: the published figures come from ``bench/sparql.py`` only.

    python bench/sparql_dev.py [--cells 10000] [--repeat 10] [--only NAME ...] [--rebuild]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sparql import CELLS_PER_PACK, distinct_packs, fleet_quads, pct, timed  # noqa: E402

from packtwin.ontology import catalog  # noqa: E402
from packtwin.ontology.store import GraphStore  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def cached_store(cells: int, seed: int, rebuild: bool) -> GraphStore:
    path = RESULTS / f"fleet-{cells}-seed{seed}.nq"
    store = GraphStore("oxigraph")
    assert store.ox is not None
    t0 = time.perf_counter()
    if path.exists() and not rebuild:
        store.ox.bulk_load(path=str(path), format=ox.RdfFormat.N_QUADS)
        print(f"loaded {path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return store
    distinct = distinct_packs(max(1, round(min(cells, 1000) / CELLS_PER_PACK)), seed)
    for quads in fleet_quads(cells, distinct):
        store.add(quads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    store.ox.dump(str(path), format=ox.RdfFormat.N_QUADS)
    print(f"built and dumped {path.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None, help="catalogue query names (default: all)")
    ap.add_argument("--rebuild", action="store_true", help="convert the fleet again and rewrite the cache")
    args = ap.parse_args()
    store = cached_store(args.cells, args.seed, args.rebuild)
    print(f"{len(store.ox):,} quads", file=sys.stderr)  # type: ignore[arg-type]
    for q in catalog.QUERIES:
        if args.only and q.name not in args.only:
            continue
        times, rows = timed(store, q.sparql, args.repeat)
        print(f"{q.name:40s} {rows:6d} rows  p50 {statistics.median(times):8.2f} ms  p95 {pct(times, 0.95):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
