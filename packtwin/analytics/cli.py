"""``packtwin estimate soc|rul``: offline estimation over recorded data (the contract independent checks use)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    est = subparsers.add_parser("estimate", help="offline state estimation over recorded data")
    sub = est.add_subparsers(dest="estimate_command", metavar="KIND", required=True)

    soc = sub.add_parser("soc", help="state of charge (and capacity, R0) from a single-cell telemetry CSV")
    soc.add_argument("--input", required=True, help="CSV with time_s,current_a,voltage_v,temperature_c")
    soc.add_argument("--cell", required=True, help="cell JSON: capacity_ah, voltage limits, OCV table")
    soc.add_argument("--output", required=True, help="CSV to write: time_s,soc (one row per input row)")
    soc.add_argument("--summary", help="JSON to write: capacity_ah, r0_ohm, soh_capacity_pct, ...")
    soc.set_defaults(func=_run_soc)

    rul = sub.add_parser("rul", help="remaining useful life from a cycle,capacity_ah history")
    rul.add_argument("--input", required=True, help="CSV with cycle,capacity_ah")
    rul.add_argument("--eol-capacity-ah", type=float, required=True, help="end-of-life capacity threshold (Ah)")
    rul.add_argument("--output", required=True, help="JSON to write: eol_cycle, eol_cycle_lower_90/upper_90")
    rul.add_argument("--samples", type=int, default=4000, help="posterior samples for the interval")
    rul.set_defaults(func=_run_rul)


def _fail(msg: str) -> int:
    print(f"packtwin estimate: {msg}", file=sys.stderr)
    return 2


def _run_soc(args: argparse.Namespace) -> int:
    import numpy as np

    from packtwin.analytics.cellmodel import CellSpec
    from packtwin.analytics.offline import estimate_soc, read_telemetry

    try:
        spec = CellSpec.from_json(args.cell)
        tm = read_telemetry(args.input)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        return _fail(str(exc))
    run = estimate_soc(tm, spec)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        fh.write("time_s,soc\n")
        soc = np.clip(run.soc, 0.0, 1.0)
        for t, s in zip(tm.time_s, soc, strict=True):
            fh.write(f"{t:.6g},{s:.6f}\n")
    if args.summary:
        Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary).write_text(json.dumps(run.summary(spec.capacity_ah), indent=2) + "\n", encoding="utf-8")
    bad = sum(run.counts.values())
    log.info("SoC estimated for %d rows (%d bad samples handled); capacity %.4f Ah, R0 %.3g ohm",
             len(tm), bad, run.capacity_ah, run.r0_ohm)
    return 0


def _run_rul(args: argparse.Namespace) -> int:
    from packtwin.analytics.rul import fit_and_predict, read_capacity

    try:
        hist = read_capacity(args.input)
        res = fit_and_predict(hist, args.eol_capacity_ah, samples=max(args.samples, 100))
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(res.to_dict(), indent=2) + "\n", encoding="utf-8")
    log.info("EOL at cycle %.0f (90 %% interval %.0f-%.0f)", res.eol_cycle, res.eol_cycle_lower_90,
             res.eol_cycle_upper_90)
    return 0
