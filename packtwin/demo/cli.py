"""``packtwin demo``: a simulated fleet, broker, ingest, estimators, AAS API, SPARQL and the dashboard on one port."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the whole twin on embedded defaults with a dashboard",
                              description=__doc__)
    p.add_argument("--packs", type=int, default=20, help="packs in the fleet (8 modules x 12 cells each)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds and print a JSON summary as the last line")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default: settings http_port, 8080; 0 = free)")
    p.add_argument("--mqtt", default=None, metavar="URL",
                   help="an existing MQTT broker to use if one answers there (default: a broker of the demo's own,"
                        " Mosquitto when installed, else the embedded one)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory (default: a fresh temporary one); a fleet already there is reused")
    p.add_argument("--speed", type=float, default=20.0, help="simulated seconds per wall-clock second")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import logging

    from packtwin.demo.runner import DemoOptions, run_demo
    from packtwin.settings import load_settings

    if args.packs < 1:
        logging.getLogger(__name__).error("--packs must be at least 1")
        return 2
    if args.duration is not None and args.duration <= 0:
        logging.getLogger(__name__).error("--duration must be positive")
        return 2
    settings = load_settings()
    port = settings.http_port if args.port is None else args.port
    return run_demo(DemoOptions(packs=args.packs, duration_s=args.duration, host=settings.http_host, port=port,
                                mqtt_url=args.mqtt, data_dir=args.data, speed=args.speed))
