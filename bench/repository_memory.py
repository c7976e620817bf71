"""What keeping every twin decoded costs a server whose analytics write every cell, against a bounded repository.

A fleet of ``--packs`` packs (8 modules x 12 cells) in a SQLite repository; the workload is the analytics'
write-back: for every cell, in turn, ``--rounds`` times, an estimate record (Product Condition and Technical Data
values set in place, one commit per submodel, as ``packtwin.demo.estimates.set_values`` does). Two arms, each in a
fresh process on its own copy of the same repository file, alternating (unbounded, bounded, unbounded, bounded):

* ``all``      - ``SQLiteStore`` keeps every twin it decoded (the default);
* ``bounded``  - at most ``--bound`` twins stay decoded, least recently used dropped (``repository_max_decoded``).

Per arm: milliseconds per record (median), the garbage collector's full (generation 2) collections during the
workload (count, longest: every thread of the server waits through one), objects the collector tracks at the end,
one full collection timed at the end, and peak RSS. The figures are the median of the two runs of each arm and the
ratio bounded / all. JSON goes to ``bench/results/repository_memory.json``.

    python bench/repository_memory.py [--packs 20] [--rounds 2] [--bound 1000]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rdf_sync import cell_record  # noqa: E402

from packtwin.aas.ids import Level, TwinIds  # noqa: E402
from packtwin.aas.repository import Repository  # noqa: E402
from packtwin.demo.estimates import set_values  # noqa: E402
from packtwin.demo.fleetdata import load_fleet  # noqa: E402

BASE = "https://example.org/packtwin"
RESULTS = Path(__file__).resolve().parent / "results"


def arm(db: Path, bound: int | None, packs: int, rounds: int) -> dict:
    """One arm in this process: the workload on ``db``, measured."""
    import random

    pauses: list[float] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started.append(time.perf_counter())
            elif started:
                pauses.append((time.perf_counter() - started.pop()) * 1000)

    repo = Repository.open(db, max_decoded=bound)
    _, _, hierarchy, _ = load_fleet(db.parent, packs, 8, 12, BASE, repo=repo)
    serials = [cell.serial for pack in hierarchy for module in pack.children for cell in module.children]
    rng = random.Random(1)
    gc.collect()
    gc.callbacks.append(on_gc)
    per_record = []
    t_all = time.perf_counter()
    for r in range(rounds):
        for k, serial in enumerate(serials):
            ids = TwinIds(BASE, Level.CELL, serial)
            t0 = time.perf_counter()
            for submodel, values in cell_record(rng, 1.8e9 + r * len(serials) + k).items():
                set_values(repo, ids.submodel_id(submodel), values)
            per_record.append((time.perf_counter() - t0) * 1000)
    total_s = time.perf_counter() - t_all
    gc.callbacks.remove(on_gc)
    tracked = len(gc.get_objects())
    t0 = time.perf_counter()
    gc.collect()
    full_ms = (time.perf_counter() - t0) * 1000
    return {"bound": bound, "cells": len(serials), "records": len(per_record), "total_s": round(total_s, 2),
            "ms_per_record_p50": round(statistics.median(per_record), 3),
            "ms_per_record_p99": round(sorted(per_record)[int(0.99 * (len(per_record) - 1))], 3),
            "gen2_collections": len(pauses), "gen2_longest_ms": round(max(pauses, default=0.0), 1),
            "gen2_total_ms": round(sum(pauses), 1), "tracked_objects": tracked,
            "full_collection_ms": round(full_ms, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bound", type=int, default=1000)
    ap.add_argument("--arm", help=argparse.SUPPRESS)  # internal: run one arm on this repository file
    args = ap.parse_args()
    if args.arm:
        bound = args.bound if args.bound > 0 else None
        print(json.dumps(arm(Path(args.arm), bound, args.packs, args.rounds)))
        return 0
    with tempfile.TemporaryDirectory(prefix="packtwin-bench-") as tmp:
        fleet = Path(tmp) / "fleet"
        t0 = time.perf_counter()
        repo, _, _, n = load_fleet(fleet, args.packs, 8, 12, BASE)
        repo.store.close()
        print(f"fleet: {n} identifiables ({args.packs} packs) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        runs: dict[str, list[dict]] = {"all": [], "bounded": []}
        for i, name in enumerate(["all", "bounded", "all", "bounded"]):
            copy = Path(tmp) / f"run{i}"
            shutil.copytree(fleet, copy)
            bound = args.bound if name == "bounded" else 0
            out = subprocess.run([sys.executable, __file__, "--arm", str(copy / "repository.sqlite"),
                                  "--packs", str(args.packs), "--rounds", str(args.rounds), "--bound", str(bound)],
                                 capture_output=True, text=True, timeout=1800, check=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  run {i + 1}/4 {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
            shutil.rmtree(copy)
    keys = ["ms_per_record_p50", "ms_per_record_p99", "gen2_collections", "gen2_longest_ms", "gen2_total_ms",
            "tracked_objects", "full_collection_ms", "peak_rss_mb"]
    med = {name: {k: statistics.median(r[k] for r in rs) for k in keys} for name, rs in runs.items()}
    print(f"\n{args.packs} packs, {runs['all'][0]['cells']} cells, {runs['all'][0]['records']} records per run, "
          f"bound {args.bound}; median of 2 runs per arm\n")
    print("| measure | all decoded | bounded | bounded / all |")
    print("|---|---|---|---|")
    for k in keys:
        a, b = med["all"][k], med["bounded"][k]
        print(f"| {k} | {a:,.3g} | {b:,.3g} | {b / a if a else float('nan'):.2f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "repository_memory.json"
    path.write_text(json.dumps({"packs": args.packs, "rounds": args.rounds, "bound": args.bound, "runs": runs,
                                "median": med}, indent=1))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
