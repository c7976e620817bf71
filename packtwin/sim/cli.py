"""``packtwin simulate``: run the fleet simulator against an MQTT broker, publishing like a gateway."""

from __future__ import annotations

import argparse
import logging
import signal
import time

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="simulate a fleet of packs publishing telemetry over MQTT",
                              description=__doc__)
    p.add_argument("--packs", type=int, default=1, help="number of packs (ids PT-P000001 ...)")
    p.add_argument("--cells", type=int, default=96, help="series elements per pack")
    p.add_argument("--parallel", type=int, default=1, help="cells in parallel per series element")
    p.add_argument("--temp-sensors", type=int, default=None, help="temperature sensors per pack (default 16)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per wall-clock second; 0 = as fast as possible")
    p.add_argument("--fault", action="append", default=[], metavar="PACK/CELL:KIND:VALUE",
                   help="inject a fault, e.g. PT-P000001/17:short:5 or 2/*:cooling:0 (repeatable)")
    p.add_argument("--mqtt", default=None, help="broker URL (default: settings mqtt_url)")
    p.add_argument("--username", default=None)
    p.add_argument("--password", default=None)
    p.add_argument("--ca-certs", default=None, help="CA bundle for mqtts://")
    p.add_argument("--encoding", choices=("binary", "json"), default="binary")
    p.add_argument("--duration", type=float, default=None, help="stop after this many wall-clock seconds")
    p.add_argument("--ticks", type=int, default=None, help="stop after this many ticks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ageing-factor", type=float, default=1.0, help="accelerate calendar and cycle ageing")
    p.add_argument("--state-file", default=None,
                   help="file keeping the next seq across runs (default: <data_dir>/simulator-state.json)")
    p.add_argument("--embedded-broker", action="store_true",
                   help="start the embedded broker when none answers at the URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packtwin.connectors.broker import broker_answers, ensure_broker
    from packtwin.connectors.mqtt import MqttOptions
    from packtwin.settings import load_settings
    from packtwin.sim.faults import FAULT_KINDS
    from packtwin.sim.model import PackDesign
    from packtwin.sim.simulator import Simulator

    settings = load_settings()
    url = args.mqtt or settings.mqtt_url
    embedded = ensure_broker(url) if args.embedded_broker else None
    if embedded is None and not broker_answers(url):
        logger.error("no MQTT broker answers at %s (start one, or pass --embedded-broker)", url)
        return 2
    state_file = args.state_file or str(settings.data_path / "simulator-state.json")
    try:
        design = PackDesign(n_series=args.cells, n_parallel=args.parallel,
                            n_temp_sensors=args.temp_sensors or min(16, max(1, args.cells)))
        sim = Simulator(args.packs, design=design,
                        speed=args.speed, faults=args.fault, seed=args.seed, encoding=args.encoding,
                        ageing_factor=args.ageing_factor, state_file=state_file,
                        mqtt=MqttOptions(url=url, username=args.username, password=args.password,
                                         ca_certs=args.ca_certs))
    except ValueError as exc:
        logger.error("%s (fault kinds: %s)", exc, ", ".join(FAULT_KINDS))
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sim._stop.set())
    sim.publisher.start()  # type: ignore[union-attr]
    logger.info("simulating %d packs x %d cells at speed %s to %s (first seq %d)", args.packs, args.cells,
                args.speed or "max", url, sim.seq)
    started = time.monotonic()
    try:
        sim.run(ticks=args.ticks, duration_s=args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if embedded is not None:
            embedded.stop()
    wall = time.monotonic() - started
    s = sim.stats
    logger.info("%d ticks, %d frames, %.1f MB in %.1f s (%.0f frames/s, %.0f cell-samples/s)", s.ticks, s.frames,
                s.bytes / 1e6, wall, s.frames / wall, s.frames * args.cells / wall)
    return 0
