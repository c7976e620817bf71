"""Telemetry ingest benchmark: simulator frames -> Mosquitto -> ingest -> SQLite, under burst.

For 10, 100 and 1,000 packs x 96 cells (10 Hz of simulated time, one frame per pack per tick) the frames are published
as fast as the broker acknowledges them. In the same run, on the same broker, two subscribers receive every frame at
QoS 1, each in its own process: the packtwin ingest (decode, validate, store durably in SQLite, then acknowledge) and
a plain paho subscriber that only counts (the baseline). Figures: cell-samples/s end to end (first publish to last
frame durable in SQLite), the counter's rate over the same span, their ratio, losses (stored/counted vs published),
and the ingest process's peak memory above its idle footprint, per pack.

    python bench/ingest.py                 # 10, 100, 1000 packs, a 50,000-frame burst each
    python bench/ingest.py --frames 10000 --packs 100

Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from packtwin.connectors import topics  # noqa: E402
from packtwin.connectors.broker import MosquittoProcess, free_port, mosquitto_binary  # noqa: E402
from packtwin.connectors.mqtt import MqttOptions, Publisher, connect_async, make_client  # noqa: E402
from packtwin.sim.model import PackDesign  # noqa: E402
from packtwin.sim.simulator import Simulator  # noqa: E402

TIMEOUT_S = 300.0
# A subscriber whose count has not moved for this long has received everything it is going to get.
STALL_S = 10.0
# Mosquitto's own defaults, to show what they lose under the same burst (--broker-defaults).
MOSQUITTO_DEFAULTS = {"max_queued_messages": "1000", "max_inflight_messages": "20"}


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest_worker(url: str, db: str, n_frames: int, ready, results) -> None:
    from packtwin.connectors.ingest import Ingest
    from packtwin.timeseries.sqlite import SQLiteTimeSeries

    store = SQLiteTimeSeries(db)
    ingest = Ingest(store, url, client_id="bench-ingest").start()
    idle_rss = _rss_kib()
    ready.put("ingest")
    deadline = time.monotonic() + TIMEOUT_S
    seen, moved = 0, time.monotonic()
    while ingest.stats.frames < n_frames and time.monotonic() < deadline:
        if ingest.stats.received != seen:
            seen, moved, done = ingest.stats.received, time.monotonic(), time.time()
        elif seen and time.monotonic() - moved > STALL_S:
            break
        time.sleep(0.002)
    else:
        done = time.time()
    stats = ingest.stats.as_dict()
    ingest.stop()
    stored = store.count()
    store.close()
    results.put({"who": "ingest", "done": done, "stored": stored, "stats": stats, "idle_rss_kib": idle_rss,
                 "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                 "cpu_s": sum(os.times()[:2])})


def counter_worker(url: str, n_frames: int, ready, results) -> None:
    import paho.mqtt.client as mqtt

    count = [0]
    client = make_client(MqttOptions(url), "bench-counter", clean_session=False, fast=False)
    assert type(client) is mqtt.Client  # the baseline is stock paho

    def on_message(c, userdata, msg) -> None:
        count[0] += 1

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topics.TELEMETRY_ALL, qos=1)
    client.on_subscribe = lambda *a: ready.put("counter")
    connect_async(client, MqttOptions(url))
    deadline = time.monotonic() + TIMEOUT_S
    seen, moved, done = 0, time.monotonic(), time.time()
    while count[0] < n_frames and time.monotonic() < deadline:
        if count[0] != seen:
            seen, moved, done = count[0], time.monotonic(), time.time()
        elif seen and time.monotonic() - moved > STALL_S:
            break
        time.sleep(0.002)
    else:
        done = time.time()
    client.disconnect()
    client.loop_stop()
    results.put({"who": "counter", "done": done, "counted": count[0], "cpu_s": sum(os.times()[:2])})


def run_case(n_packs: int, n_cells: int, n_frames: int, workdir: Path, broker_overrides: dict | None = None) -> dict:
    ticks = max(1, n_frames // n_packs)
    n_frames = ticks * n_packs
    broker = MosquittoProcess(workdir / f"broker-{n_packs}", port=free_port(), **(broker_overrides or {})).start()
    ctx = mp.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=ingest_worker, args=(broker.url, str(workdir / f"ts-{n_packs}.sqlite"), n_frames,
                                                      ready, results)),
             ctx.Process(target=counter_worker, args=(broker.url, n_frames, ready, results))]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=60)
        # Frames come from the simulator, generated before the clock starts (the simulator is not under test).
        design = PackDesign(n_series=n_cells)
        frames: list[list[tuple[str, bytes]]] = []
        tick: list[tuple[str, bytes]] = []
        sim = Simulator(n_packs, design=design, sink=lambda t, p: tick.append((t, p)), speed=0, seed=1)
        for _ in range(ticks):
            sim.tick()
            frames.append(tick)
            tick = []
        payload_bytes = sum(len(p) for f in frames for _, p in f)
        parent_cpu0 = sum(os.times()[:2])
        publisher = Publisher(MqttOptions(broker.url), "bench-gateway", max_pending=20_000).start()
        time.sleep(0.2)
        t0 = time.time()
        for items in frames:
            publisher.publish_many(items)
        publisher.flush(TIMEOUT_S)
        t_published = time.time()
        publisher.stop()
        out = {r["who"]: r for r in (results.get(timeout=TIMEOUT_S + 30) for _ in procs)}
        broker_cpu_s = _cpu_of(broker.proc.pid)
        publisher_cpu_s = sum(os.times()[:2]) - parent_cpu0
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        broker.stop()
    ing, cnt = out["ingest"], out["counter"]
    samples = n_frames * n_cells
    e2e_s, counter_s = ing["done"] - t0, cnt["done"] - t0
    return {
        "packs": n_packs, "cells": n_cells, "frames": n_frames, "cell_samples": samples,
        "payload_mb": round(payload_bytes / 1e6, 2),
        "publish_s": round(t_published - t0, 3),
        "ingest_s": round(e2e_s, 3), "counter_s": round(counter_s, 3),
        # Rates count what arrived (stored, counted): a lossy run does not get credit for frames it dropped.
        "ingest_cell_samples_per_s": round(ing["stored"] * n_cells / e2e_s),
        "counter_cell_samples_per_s": round(cnt["counted"] * n_cells / counter_s),
        "ratio": round((ing["stored"] / e2e_s) / max(cnt["counted"] / counter_s, 1e-9), 3),
        "stored": ing["stored"], "counted": cnt["counted"],
        "lost": n_frames - ing["stored"], "counter_lost": n_frames - cnt["counted"],
        "duplicates": ing["stats"]["duplicates"],
        "broker": "mosquitto defaults" if broker_overrides else "packtwin settings",
        "ingest_batches": ing["stats"]["batches"], "ingest_queue_peak": ing["stats"]["queue_peak"],
        "ingest_cpu_s": round(ing["cpu_s"], 2), "counter_cpu_s": round(cnt["cpu_s"], 2),
        "broker_cpu_s": round(broker_cpu_s, 2), "publisher_cpu_s": round(publisher_cpu_s, 2),
        "ingest_peak_rss_mib": round(ing["peak_rss_kib"] / 1024, 1),
        "ingest_peak_kib_per_pack": round((ing["peak_rss_kib"] - ing["idle_rss_kib"]) / n_packs, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", default="10,100,1000", help="comma-separated pack counts")
    parser.add_argument("--cells", type=int, default=96)
    parser.add_argument("--frames", type=int, default=50_000, help="frames per case, published as one burst")
    parser.add_argument("--broker-defaults", action="store_true",
                        help="run Mosquitto with its default queue and in-flight limits (shows the losses)")
    parser.add_argument("--out", default=None, help="JSON output (default bench/results/ingest[-defaults].json)")
    args = parser.parse_args()
    if mosquitto_binary() is None:
        print("mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="packtwin-bench-") as tmp:
        for n in (int(x) for x in args.packs.split(",")):
            rows.append(run_case(n, args.cells, args.frames, Path(tmp),
                                 MOSQUITTO_DEFAULTS if args.broker_defaults else None))
            r = rows[-1]
            print(f"{r['packs']:>5} packs: ingest {r['ingest_cell_samples_per_s']:>10,} cell-samples/s, "
                  f"counter {r['counter_cell_samples_per_s']:>10,}, ratio {r['ratio']:.2f}, lost {r['lost']} "
                  f"(counter lost {r['counter_lost']})",
                  flush=True)
    header = ("packs", "frames", "ingest cs/s", "counter cs/s", "ratio", "stored", "counted", "lost", "dups",
              "peak MiB", "KiB/pack")
    print()
    print(" | ".join(f"{h:>12}" for h in header))
    for r in rows:
        vals = (r["packs"], r["frames"], f"{r['ingest_cell_samples_per_s']:,}", f"{r['counter_cell_samples_per_s']:,}",
                f"{r['ratio']:.2f}", r["stored"], r["counted"], r["lost"], r["duplicates"], r["ingest_peak_rss_mib"],
                r["ingest_peak_kib_per_pack"])
        print(" | ".join(f"{v!s:>12}" for v in vals))
    result = {
        "benchmark": "ingest", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_end": os.getloadavg()},
        "target": {"cell_samples_per_s": 1_000_000, "ratio_to_counter": 0.5},
        "cases": rows,
    }
    out = Path(args.out or ROOT / "bench" / "results" / ("ingest-defaults.json" if args.broker_defaults
                                                          else "ingest.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
