"""Time and peak memory to build and export fleets of 1k, 10k and 100k cells.

For each size: building the basyx objects (``build_fleet``) and writing AASX, and the streaming JSON export
(``write_fleet_json``) that never builds objects. Each measurement runs in its own process so that peak memory
(ru_maxrss) is that measurement's. The baseline of the same run is the JSON export; the table gives both and the
object path's ratio to it.

    python bench/fleet_build.py [--sizes 1000 10000 100000] [--max-object-cells 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

CELLS_PER_PACK = 96  # 8 modules × 12 cells


def _run(kind: str, cells: int, out_dir: str, queue: mp.Queue) -> None:
    import datetime as dt

    from packtwin.aas.documents import thumbnail_png
    from packtwin.aas.fleet import DEFAULT_TIMESERIES_ENDPOINT, build_fleet, plan_fleet, write_fleet_json
    from packtwin.aas.interchange import atomic_text, write_environment

    packs = max(1, cells // CELLS_PER_PACK)
    started = time.perf_counter()
    if kind == "json-stream":
        spec, hierarchy = plan_fleet(packs, 8, 12)
        path = Path(out_dir) / f"fleet-{cells}.json"
        with atomic_text(path) as fh:
            count = write_fleet_json(fh, hierarchy, spec, dt.datetime.now(dt.UTC), DEFAULT_TIMESERIES_ENDPOINT)
        build_s = 0.0
    else:
        fleet = build_fleet(packs, 8, 12)
        build_s = time.perf_counter() - started
        path = Path(out_dir) / f"fleet-{cells}.aasx"
        write_environment(path, fleet.objects, fleet.files, thumbnail=(thumbnail_png(), "image/png"))
        count = len(fleet.objects)
    total = time.perf_counter() - started
    queue.put({"kind": kind, "cells": packs * CELLS_PER_PACK, "packs": packs, "identifiables": count,
               "build_s": round(build_s, 2), "total_s": round(total, 2), "file_mb": round(path.stat().st_size / 1e6, 1),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def measure(kind: str, cells: int, out_dir: str) -> dict:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_run, args=(kind, cells, out_dir, queue))
    proc.start()
    result = queue.get(timeout=7200)
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--max-object-cells", type=int, default=10000,
                        help="largest size for the basyx-object path (it is the slow one)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fleet_build.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cells in args.sizes:
            base = measure("json-stream", cells, tmp)
            rows.append(base)
            if cells <= args.max_object_cells:
                obj = measure("objects+aasx", cells, tmp)
                obj["ratio_to_json_stream"] = round(obj["total_s"] / max(base["total_s"], 1e-9), 1)
                rows.append(obj)
            for row in rows[-2:]:
                print(json.dumps(row), file=sys.stderr)
    header = f"{'kind':<14}{'cells':>8}{'AAS+SM+CD':>11}{'build s':>9}{'total s':>9}{'file MB':>9}{'peak MB':>9}{'ratio':>7}"
    print(header)
    for r in rows:
        print(f"{r['kind']:<14}{r['cells']:>8}{r['identifiables']:>11}{r['build_s']:>9}{r['total_s']:>9}"
              f"{r['file_mb']:>9}{r['peak_rss_mb']:>9}{r.get('ratio_to_json_stream', ''):>7}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
