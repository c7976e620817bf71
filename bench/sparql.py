"""Every catalogue query on fleets of 1k and 10k cells: pyoxigraph (the store packtwin keeps) beside plain rdflib.

Data: ``build_fleet`` packs (8 modules × 12 cells) aged with seeded random lifecycle values (state of health and
charge, remaining useful life, resistance increase, safety events, status) written into their submodel elements,
then converted (AAS structure after the IDTA ontology + lifecycle triples, all access groups). Converting 10k cells
pack by pack takes longer than the machine allows in one run, so the 10k fleet reuses the converted quads of the
distinct packs of the 1k fleet with every serial renamed (pack k gets serial PT-Pk; value nodes that mention a serial
are renamed with it): the same triple count and shape as 105 converted packs, values repeating every 11 packs.

Both stores hold the same quads; each query runs ``--repeat`` times on oxigraph and up to ``--rdflib-repeat`` times
on rdflib (after one warm-up each; rdflib runs in a forked child with a time budget per query, and a query that does
not finish in it is reported as "> budget", a lower bound on the speed-up). The table gives p50/p95 and the
speed-up of p50; "ox LI p50" is the oxigraph p50 of the same query as a legitimate-interest caller (two of the
three graphs: pyoxigraph matches a list of graphs rather than the store-wide union the full clearance gets). JSON goes
to ``bench/results/sparql.json``.

oxigraph is timed on a thread of its own, as the endpoint's query processes run it (``snapshots._serve``): malloc
serves that thread from an arena of its own. On the main thread, once the process has forked (the rdflib children
here), every query allocates from free chunks scattered over the heap the stores were built in, each page of them
copy-on-write, and ran 1.5-2.5x slower than before the first fork (docs/rdf.md).

    python bench/sparql.py [--sizes 1000 10000] [--repeat 20] [--rdflib-repeat 3] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from basyx.aas import model  # noqa: E402
from rdflib import Literal, URIRef  # noqa: E402

from packtwin.aas.fleet import build_fleet  # noqa: E402
from packtwin.ontology import catalog  # noqa: E402
from packtwin.ontology.aas_rdf import VALUE_PREFIX  # noqa: E402
from packtwin.ontology.store import GraphStore, groups_for  # noqa: E402
from packtwin.ontology.sync import full_quads  # noqa: E402
from packtwin.submodels.access import AccessGroup, Role  # noqa: E402

CELLS_PER_PACK = 96
EVENTS = ["internal short circuit alert", "deep discharge", "overcharged", "thermal event"]


def _element(sm: model.Submodel, path: str) -> model.SubmodelElement | None:
    node: object = sm
    for part in path.split("."):
        try:
            node = node.get_referable(part)  # type: ignore[attr-defined]
        except (KeyError, AttributeError):
            return None
    return node  # type: ignore[return-value]


def age(objects: list[model.Identifiable], rng: random.Random) -> None:
    """Seeded lifecycle values, as the analytics workers would write them."""
    for sm in objects:
        if not isinstance(sm, model.Submodel):
            continue
        if sm.id_short == "ProductCondition":
            # A fleet a few years old: most cells healthy, a tail below 80 % (second life) and 70 % (end of life).
            soh = min(100.0, max(55.0, rng.gauss(90, 6)))
            for path, value in (("StateOfCertifiedEnergy.StateOfCertifiedEnergyValue", round(soh, 2)),
                                ("StateOfCharge.StateOfChargeValue", round(rng.uniform(5, 95), 1))):
                el = _element(sm, path)
                if el is not None:
                    el.value = value
            if _element(sm, "RemainingUsefulLife") is None:
                sm.submodel_element.add(model.SubmodelElementCollection("RemainingUsefulLife", [
                    model.Property("RemainingUsefulLifeValue", model.datatypes.Float, round(rng.uniform(0, 3000), 1))]))
            events = _element(sm, "NegativeEvents")
            if isinstance(events, model.SubmodelElementList) and rng.random() < 0.05:
                events.value.add(model.SubmodelElementCollection(None, [
                    model.Property("NegativeEventValue", model.datatypes.String, rng.choice(EVENTS))]))
        elif sm.id_short == "TechnicalData":
            for level in ("Cell", "Module", "Pack"):
                el = _element(sm, f"TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBattery{level}Level")
                if el is not None:
                    el.value = round(max(0.0, rng.gauss(15, 12)), 2)
        elif sm.id_short == "BatteryNameplate":
            el = _element(sm, "LifeCycleStage")
            if el is not None:
                el.value = rng.choice(["Original"] * 8 + ["Repurposed", "Waste"])


def distinct_packs(n: int, seed: int) -> list[list[tuple]]:
    """Quads of ``n`` built, aged and converted packs (concept descriptions left out: one fleet-wide set)."""
    rng = random.Random(seed)
    out = []
    for k in range(1, n + 1):
        fleet = build_fleet(1, 8, 12, first_pack=k)
        objects = [o for o in fleet.objects if not isinstance(o, model.ConceptDescription)]
        age(objects, rng)
        quads, _ = full_quads(objects)
        out.append(list(dict.fromkeys(quads)))
        print(f"  pack {k}/{n}: {len(out[-1])} quads", file=sys.stderr, flush=True)
    return out


def renamed(quads: list[tuple], src: int, dst: int) -> list[tuple]:
    if src == dst:
        return quads
    a, b = f"PT-P{src:06d}", f"PT-P{dst:06d}"
    serial_nodes = {q[0] for q in quads if str(q[0]).startswith(VALUE_PREFIX)
                    and any(a in str(t) for t in q[1:3])}
    cache: dict = {}

    def ren(t: object) -> object:
        hit = cache.get(t)
        if hit is not None:
            return hit
        text = str(t)
        if t in serial_nodes:
            new = URIRef(f"{text}-{dst}")
        elif a not in text:
            new = t
        elif isinstance(t, URIRef):
            new = URIRef(text.replace(a, b))
        else:
            new = Literal(text.replace(a, b), datatype=t.datatype, lang=t.language)  # type: ignore[attr-defined]
        cache[t] = new
        return new

    return [(ren(s), p, ren(o), g) for s, p, o, g in quads]


def fleet_quads(cells: int, distinct: list[list[tuple]]):
    packs = max(1, round(cells / CELLS_PER_PACK))
    for k in range(1, packs + 1):
        src = (k - 1) % len(distinct) + 1
        yield renamed(distinct[src - 1], src, k)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _count(store: GraphStore, sparql: str, groups: list[AccessGroup] | None = None) -> int:
    """Run ``sparql`` over ``groups`` (default: all) and read every value of every row (what serialising an answer
    needs)."""
    n = 0
    if store.ox is None:  # rdflib: the Result's rows of rdflib terms
        for row in store.query(sparql):
            for value in row:
                _ = value
            n += 1
        return n
    result = store.query_native(sparql, groups or list(AccessGroup))
    for solution in result:
        for value in solution:
            _ = value
        n += 1
    return n


def timed(store: GraphStore, sparql: str, repeat: int, groups: list[AccessGroup] | None = None
          ) -> tuple[list[float], int]:
    rows = _count(store, sparql, groups)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = _count(store, sparql, groups)
        times.append((time.perf_counter() - t0) * 1000)
        assert n == rows
    return times, rows


def _child_timed(store: GraphStore, sparql: str, repeat: int, budget_s: float, conn) -> None:
    t0 = time.perf_counter()
    rows = _count(store, sparql)  # warm-up
    times = [(time.perf_counter() - t0) * 1000]
    runs = []
    while len(runs) < repeat and (time.perf_counter() - t0) < budget_s / 2:
        t1 = time.perf_counter()
        _count(store, sparql)
        runs.append((time.perf_counter() - t1) * 1000)
    conn.send((runs or times, rows))


def timed_capped(store: GraphStore, sparql: str, repeat: int, budget_s: float) -> tuple[list[float], int | None]:
    """rdflib can take minutes on one query: run it in a forked child and give up after ``budget_s``.
    A query that never finished is reported as taking at least ``budget_s`` (a lower bound on the speed-up)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_timed, args=(store, sparql, repeat, budget_s, sender), daemon=True)
    proc.start()
    sender.close()
    try:
        if receiver.poll(budget_s):
            return receiver.recv()
        return [budget_s * 1000], None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(cells: int, distinct: list[list[tuple]], repeat: int, rdflib_repeat: int, budget_s: float,
        only: list[str] | None = None) -> dict:
    ox_store, mem_store = GraphStore("oxigraph"), GraphStore("memory")
    t0 = time.perf_counter()
    n_quads = 0
    for quads in fleet_quads(cells, distinct):
        ox_store.add(quads)
        n_quads += len(quads)
    ox_load = time.perf_counter() - t0
    rss_before = rss_mb()
    t0 = time.perf_counter()
    for quads in fleet_quads(cells, distinct):
        mem_store.add(quads)
    mem_load = time.perf_counter() - t0
    rows = []
    ox_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oxigraph")  # see the module docstring
    for q in catalog.QUERIES:
        if only and q.name not in only:
            continue
        ox_t, ox_rows = ox_thread.submit(timed, ox_store, q.sparql, repeat).result()
        # The same query as a legitimate-interest caller: two of the three graphs, matched as a list of graphs.
        li_t, _ = ox_thread.submit(timed, ox_store, q.sparql, repeat, groups_for(Role.LEGITIMATE_INTEREST)).result()
        mem_t, mem_rows = timed_capped(mem_store, q.sparql, rdflib_repeat, budget_s)
        if mem_rows is not None and ox_rows != mem_rows:
            print(f"  warning: {q.name}: oxigraph {ox_rows} rows, rdflib {mem_rows}", file=sys.stderr)
        row = {"query": q.name, "rows": ox_rows, "rdflib_rows": mem_rows, "rdflib_runs": len(mem_t),
               "rdflib_gave_up_after_s": budget_s if mem_rows is None else None,
               "oxigraph_p50_ms": round(statistics.median(ox_t), 3), "oxigraph_p95_ms": round(pct(ox_t, 0.95), 3),
               "rdflib_p50_ms": round(statistics.median(mem_t), 3), "rdflib_p95_ms": round(pct(mem_t, 0.95), 3),
               "oxigraph_legitimate_interest_p50_ms": round(statistics.median(li_t), 3)}
        row["speedup_p50"] = round(row["rdflib_p50_ms"] / max(row["oxigraph_p50_ms"], 1e-6), 1)
        row["speedup_is_lower_bound"] = mem_rows is None
        rows.append(row)
        print(f"  {cells:>6} {q.name:40s} {ox_rows:6d} rows  oxigraph p50 {row['oxigraph_p50_ms']:8.2f} ms "
              f"p95 {row['oxigraph_p95_ms']:8.2f} ms  rdflib p50 {row['rdflib_p50_ms']:10.1f} ms  "
              f"x{row['speedup_p50']}", file=sys.stderr, flush=True)
    ox_thread.shutdown()
    return {"cells": cells, "packs": max(1, round(cells / CELLS_PER_PACK)), "quads": n_quads,
            "triples_in_store": len(ox_store), "oxigraph_load_s": round(ox_load, 1),
            "rdflib_load_s": round(mem_load, 1), "rdflib_rss_growth_mb": round(rss_mb() - rss_before),
            "queries": rows,
            "max_oxigraph_p50_ms": max(r["oxigraph_p50_ms"] for r in rows),
            "min_speedup_p50": min(r["speedup_p50"] for r in rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rdflib-repeat", type=int, default=3)
    ap.add_argument("--rdflib-budget", type=float, nargs="+", default=[60.0, 60.0],
                    help="seconds rdflib may spend per query, one value per size (a lower bound is reported after)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None, help="catalogue query names (default: all)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sparql.json"))
    args = ap.parse_args()
    n_distinct = max(1, round(min(args.sizes) / CELLS_PER_PACK))
    t0 = time.perf_counter()
    distinct = distinct_packs(n_distinct, args.seed)
    build_s = time.perf_counter() - t0
    budgets = (args.rdflib_budget * len(args.sizes))[:len(args.sizes)]
    results = [run(cells, distinct, args.repeat, args.rdflib_repeat, b, args.only)
               for cells, b in zip(args.sizes, budgets, strict=True)]
    print(f"\n{'cells':>6} {'query':40s} {'rows':>6} {'ox p50':>9} {'ox p95':>9} {'rdflib p50':>11} {'x':>8}"
          f" {'ox LI p50':>10}")
    for r in results:
        for q in r["queries"]:
            print(f"{r['cells']:>6} {q['query']:40s} {q['rows']:>6} {q['oxigraph_p50_ms']:>9.2f} "
                  f"{q['oxigraph_p95_ms']:>9.2f} {q['rdflib_p50_ms']:>11.1f}"
                  f" {('>' if q['speedup_is_lower_bound'] else '') + str(q['speedup_p50']):>8}"
                  f" {q['oxigraph_legitimate_interest_p50_ms']:>10.2f}")
        print(f"{r['cells']:>6} cells: {r['triples_in_store']} triples; worst oxigraph p50 {r['max_oxigraph_p50_ms']} ms;"
              f" smallest speed-up x{r['min_speedup_p50']}; load oxigraph {r['oxigraph_load_s']} s, rdflib"
              f" {r['rdflib_load_s']} s (+{r['rdflib_rss_growth_mb']} MB)")
    out = {"benchmark": "sparql", "build_and_convert_s": round(build_s, 1), "distinct_packs": n_distinct,
           "repeat": args.repeat, "rdflib_repeat": args.rdflib_repeat,
           "target": "p50 <= 50 ms per catalogue query on 10k cells and >= 20x faster than plain rdflib",
           "groups": [g.token for g in AccessGroup], "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
