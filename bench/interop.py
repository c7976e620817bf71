"""Throughput of the interop ways out: Ditto Things per second and BaSyx-scheme events per second.

Baseline (same run, same objects): serialising the same identifiables (Ditto) or elements (events) as AAS JSON, the
least any way out must do. The table gives both rates and the overhead ratio. No broker or network: this measures
packtwin's mapping, filtering and envelope work only.

    python bench/interop.py [--packs 2] [--events 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def bench_ditto(packs: int) -> dict:
    from basyx.aas import model

    from packtwin.aas.fleet import build_fleet
    from packtwin.aas.serialization import to_json
    from packtwin.connectors.ditto import mapping
    from packtwin.connectors.ditto.export import things_and_messages

    store = build_fleet(packs).objects
    shells = [x for x in store if isinstance(x, model.AssetAdministrationShell)]
    started = time.perf_counter()
    for shell in shells:
        to_json(shell)
        for sm in mapping.submodels_of(shell, store):
            to_json(sm)
    baseline_s = time.perf_counter() - started
    started = time.perf_counter()
    n_messages = sum(len(msgs) for _, msgs, _ in things_and_messages(store, mapping.ThingMapper()))
    ditto_s = time.perf_counter() - started
    return {"what": "Ditto Things", "items": len(shells), "messages": n_messages,
            "baseline_per_s": round(len(shells) / baseline_s, 1), "per_s": round(len(shells) / ditto_s, 1),
            "overhead": round(ditto_s / baseline_s, 2)}


def bench_events(n_events: int) -> dict:
    from basyx.aas import model

    from packtwin.aas.events import ChangeEvent, Operation, Target
    from packtwin.aas.fleet import build_fleet
    from packtwin.aas.repository import Repository
    from packtwin.aas.serialization import to_json
    from packtwin.connectors.basyx_events import BasyxEventPublisher

    repo = Repository()
    repo.add_many(list(build_fleet(1, 1, 1).objects))
    sm = next(s for s in repo.submodels() if s.id_short == "ProductCondition")
    props = [e for e in sm.submodel_element if isinstance(e, model.Property)] or [
        p for c in sm.submodel_element if isinstance(c, model.SubmodelElementCollection)
        for p in c.value if isinstance(p, model.Property)]
    prop = props[0]
    path = prop.id_short if prop.parent is sm else f"{prop.parent.id_short}.{prop.id_short}"
    event = ChangeEvent(Operation.UPDATED, Target.SUBMODEL_ELEMENT, sm.id, path, prop)
    publisher = BasyxEventPublisher(repo, None).start()  # no client: the messages are built, not sent
    started = time.perf_counter()
    for _ in range(n_events):
        to_json(prop)
    baseline_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(n_events):
        publisher.messages_for(event)
    events_s = time.perf_counter() - started
    publisher.stop()
    return {"what": "BaSyx element events", "items": n_events, "messages": n_events,
            "baseline_per_s": round(n_events / baseline_s, 1), "per_s": round(n_events / events_s, 1),
            "overhead": round(events_s / baseline_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=2, help="packs of the generated fleet (8 modules × 12 cells)")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "interop.json"))
    args = parser.parse_args()
    rows = [bench_ditto(args.packs), bench_events(args.events)]
    print(f"{'what':<24}{'items':>8}{'baseline/s':>12}{'rate/s':>10}{'overhead':>10}")
    for r in rows:
        print(f"{r['what']:<24}{r['items']:>8}{r['baseline_per_s']:>12}{r['per_s']:>10}{r['overhead']:>10}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"packs": args.packs, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
