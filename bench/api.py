"""Benchmark of the AAS HTTP API: throughput and p50/p99 latency at 1, 8 and 32 concurrent clients.

Measured on one server process (uvicorn, one worker) in the same run:

* ``bare``   - a constant JSON response mounted on the same app (the baseline: server, middleware, HTTP),
* ``value``  - GET ``$value`` of one Property of a pack's nameplate (access-controlled, anonymous caller),
* ``shells`` - paging ``/shells?limit=20`` from a cursor in the middle of the list.

The figure is each endpoint's throughput as a fraction of ``bare``. Clients are asyncio keep-alive connections in
a separate process, so client overhead is the same for all three. Run: ``python bench/api.py [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, packs: int) -> None:
    """The server side (run in its own process)."""
    import uvicorn
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from packtwin.aas.api import create_app
    from packtwin.aas.fleet import build_fleet
    from packtwin.aas.repository import Repository
    from packtwin.settings import Settings

    repo = Repository.open(None)
    repo.add_many(list(build_fleet(packs, 2, 2).objects))

    async def bare(request):  # the same app, no repository work
        return JSONResponse({"ok": True})

    app = create_app(repo, Settings(), extra_routes=[Route("/bare", bare)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _client(port: int, target: str, stop_at: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"{target}: HTTP {status}")
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def _measure(port: int, target: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, target, start + seconds, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per cell (default 3)")
    parser.add_argument("--packs", type=int, default=20, help="packs in the served fleet (x7 shells)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.packs)
        return 0

    from packtwin.aas.api.b64 import encode_id
    from packtwin.aas.api.paging import encode_id as cursor_of

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--packs", str(args.packs)],
                            cwd=ROOT, env={**os.environ, "PACKTWIN_CONFIG": "/nonexistent.toml"})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("benchmark server did not start") from None
                time.sleep(0.2)
        sm = encode_id("https://example.org/packtwin/sm/pack/PT-P000001/BatteryNameplate")
        targets = {
            "bare": "/bare",
            "value": f"/api/v3.0/submodels/{sm}/submodel-elements/SerialNumber/$value",
            "shells": f"/api/v3.0/shells?limit=20&cursor={cursor_of(str(3 * args.packs))}",
        }
        for target in targets.values():  # warm up (and fill the access view's cache)
            asyncio.run(_measure(port, target, 1, 0.3))
        results: dict = {"seconds_per_cell": args.seconds, "shells": 7 * args.packs, "cells": {}}
        for clients in (1, 8, 32):
            row = {name: asyncio.run(_measure(port, target, clients, args.seconds))
                   for name, target in targets.items()}
            for name in ("value", "shells"):
                row[name]["ratio_to_bare"] = row[name]["rps"] / row["bare"]["rps"]
            results["cells"][str(clients)] = row
    finally:
        proc.terminate()
        proc.wait(10)

    print(f"AAS HTTP API, {results['shells']} shells, one uvicorn worker, {args.seconds:.0f} s per cell")
    print(f"{'clients':>7} {'endpoint':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    for clients, row in results["cells"].items():
        for name, r in row.items():
            ratio = f"{r['ratio_to_bare']:.2f}" if "ratio_to_bare" in r else "1.00"
            print(f"{clients:>7} {name:>8} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {ratio:>8}")
    out = ROOT / "bench" / "results" / "api.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
