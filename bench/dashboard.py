"""Dashboard responsiveness with a live fleet: 100 packs × 96 cells against the default 20 packs as baseline.

For each fleet size a ``packtwin demo`` runs as a subprocess (embedded broker, simulator live); after a warm-up the
benchmark measures the overview JSON, a pack page, a cell page with its history, and — when Playwright and the system
Chromium are present — the full overview page load in a headless browser until every pack row is rendered. It also
records the ingest rate during the measurement, to show the fleet was live.

    python bench/dashboard.py [--packs 100] [--baseline-packs 20] [--speed 5] [--warmup 20] [--samples 20]

Prints a table and writes bench/results/dashboard.json. Target: the overview loads in under 1 s with 100 packs.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, packs: int, speed: float, data: Path, guard_s: float) -> None:
        dead = f"mqtt://127.0.0.1:{_free_port()}"  # nothing answers: the demo starts its embedded broker
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "packtwin", "demo", "--packs", str(packs), "--speed", str(speed), "--port", "0",
             "--mqtt", dead, "--data", str(data), "--duration", str(guard_s)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.2)
        raise RuntimeError(f"demo did not print {pattern!r}: {self.lines}")

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        time.sleep(0.3)
        try:
            return json.loads(self.lines[-1])
        except (IndexError, json.JSONDecodeError):
            return {}


def _timed_get(url: str, headers: dict, n: int) -> dict:
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        r = requests.get(url, headers=headers, timeout=30)
        times.append(time.perf_counter() - t)
        r.raise_for_status()
        size = len(r.content)
    return _stats(times) | {"bytes": size}


def _stats(times: list[float]) -> dict:
    s = sorted(times)
    return {"n": len(s), "p50_s": statistics.median(s), "p95_s": s[min(len(s) - 1, int(0.95 * len(s)))],
            "max_s": s[-1]}


def _browser_loads(url: str, packs: int, n: int) -> dict | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    if exe is None:
        return None
    times = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            # The first navigation of a just-started browser also pays for the browser's own start: reported apart.
            for _ in range(n + 1):
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(url + "/")
                page.wait_for_function("n => document.querySelectorAll('[data-testid=pack-row]').length === n",
                                       arg=packs, timeout=30_000)
                times.append(time.perf_counter() - t)
                page.close()
        finally:
            ctx.close()
    return _stats(times[1:]) | {"first_load_of_fresh_browser_s": times[0]}


def measure(packs: int, speed: float, warmup: float, samples: int, browser_loads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="packtwin-bench-dashboard-") as tmp:
        started = time.perf_counter()
        demo = Demo(packs, speed, Path(tmp), guard_s=warmup + 600)
        try:
            url = demo.wait_for(r"dashboard\s+(http://127\.0\.0\.1:\d+)/", 600).group(1)
            key = demo.wait_for(r"operator: X-API-Key (\S+)", 10).group(1)
            startup = time.perf_counter() - started
            time.sleep(warmup)
            op = {"X-API-Key": key}
            before = requests.get(url + "/dashboard/api/status", timeout=30).json()
            t0 = time.perf_counter()
            out = {
                "packs": packs, "cells": packs * 96, "startup_s": startup,
                "overview_json": _timed_get(url + "/dashboard/api/overview", op, samples),
                "pack_json": _timed_get(url + "/dashboard/api/packs/PT-P000001", op, samples),
                "cell_json": _timed_get(url + "/dashboard/api/cells/PT-P000001-M01-C001", op, max(3, samples // 4)),
                "static": _timed_get(url + "/static/app.js", {}, samples),
                "browser_overview": _browser_loads(url, packs, browser_loads),
            }
            after = requests.get(url + "/dashboard/api/status", timeout=30).json()
            dt = time.perf_counter() - t0
            frames = after["ingest"]["frames"] - before["ingest"]["frames"]
            out["live_frames_per_s"] = frames / dt
            out["live_cell_samples_per_s"] = frames * 96 / dt
        finally:
            out_summary = demo.stop()
        out["summary"] = out_summary
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packs", type=int, default=100)
    ap.add_argument("--baseline-packs", type=int, default=20)
    ap.add_argument("--speed", type=float, default=5.0, help="simulated seconds per second (1 frame/s each)")
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds of live operation before measuring")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--browser-loads", type=int, default=5)
    args = ap.parse_args()
    runs = [measure(n, args.speed, args.warmup, args.samples, args.browser_loads)
            for n in (args.baseline_packs, args.packs)]
    print(f"{'packs':>6} {'cells':>7} {'start s':>8} {'overview p50/p95 ms':>20} {'KB':>6} {'pack ms':>8} "
          f"{'cell ms':>8} {'static ms':>9} {'browser p50/max ms':>19} {'cold ms':>8} {'frames/s':>9}")
    for r in runs:
        b = r["browser_overview"]
        br = f"{b['p50_s'] * 1e3:.0f}/{b['max_s'] * 1e3:.0f}" if b else "n/a"
        cold = f"{b['first_load_of_fresh_browser_s'] * 1e3:.0f}" if b else "n/a"
        o = r["overview_json"]
        print(f"{r['packs']:>6} {r['cells']:>7} {r['startup_s']:>8.1f} "
              f"{o['p50_s'] * 1e3:>9.1f}/{o['p95_s'] * 1e3:<10.1f} {o['bytes'] / 1024:>6.1f} "
              f"{r['pack_json']['p50_s'] * 1e3:>8.1f} {r['cell_json']['p50_s'] * 1e3:>8.1f} "
              f"{r['static']['p50_s'] * 1e3:>9.1f} {br:>19} {cold:>8} {r['live_frames_per_s']:>9.0f}")
    big, base = runs[1], runs[0]
    target = (big["browser_overview"] or big["overview_json"])
    worst = target["max_s"]
    ratio = big["overview_json"]["p50_s"] / base["overview_json"]["p50_s"]
    print(f"overview with {big['packs']} packs: worst {worst * 1e3:.0f} ms "
          f"({'browser load' if big['browser_overview'] else 'JSON only'}; target < 1000 ms: "
          f"{'met' if worst < 1.0 else 'NOT met'}); JSON p50 {ratio:.2f}x the {base['packs']}-pack baseline")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs, "target_s": 1.0, "worst_overview_s": worst,
                                   "target_met": worst < 1.0, "json_ratio_to_baseline": ratio,
                                   "args": vars(args)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
