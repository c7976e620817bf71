"""``packtwin ingest``: subscribe to the fleet's telemetry and store it (at-least-once, idempotent)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ingest", help="store MQTT telemetry in the time-series store", description=__doc__)
    p.add_argument("--mqtt", default=None, help="broker URL (default: settings mqtt_url)")
    p.add_argument("--username", default=None)
    p.add_argument("--password", default=None)
    p.add_argument("--ca-certs", default=None, help="CA bundle for mqtts://")
    p.add_argument("--store", default=None,
                   help="SQLite path or postgresql:// URL (default: settings timeseries_url or "
                        "<data_dir>/timeseries.sqlite)")
    p.add_argument("--client-id", default="packtwin-ingest", help="MQTT client id of the persistent session")
    p.add_argument("--shared-group", default=None, help="MQTT 5 shared-subscription group to join")
    p.add_argument("--pack", action="append", default=None, help="accept only these packs (repeatable)")
    p.add_argument("--retention-days", type=float, default=None,
                   help="delete frames older than this many days (checked every minute)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--stats-every", type=float, default=10.0, help="log statistics every N seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packtwin.connectors.ingest import Ingest
    from packtwin.connectors.mqtt import MqttOptions
    from packtwin.settings import load_settings
    from packtwin.timeseries import open_store

    settings = load_settings()
    url = args.mqtt or settings.mqtt_url
    store_url = args.store or settings.timeseries_url or str(settings.data_path / "timeseries.sqlite")
    store = open_store(store_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ingest = Ingest(store, MqttOptions(url=url, username=args.username, password=args.password,
                                       ca_certs=args.ca_certs),
                    client_id=args.client_id, shared_group=args.shared_group, known_packs=args.pack)
    ingest.start()
    logger.info("ingesting %s into %s", url, store_url)
    waited = 0.0
    step = min(args.stats_every, 1.0)
    try:
        while not stop.wait(step):
            waited += step
            if args.duration is not None and waited >= args.duration:
                break
            if waited % args.stats_every < step:
                logger.info("ingest %s", ingest.stats.as_dict())
            if args.retention_days is not None and waited % 60 < step:
                dropped = store.delete_before(time.time() - args.retention_days * 86400)
                if dropped:
                    logger.info("retention: %d frames older than %g days deleted", dropped, args.retention_days)
    except KeyboardInterrupt:
        pass
    finally:
        ingest.stop()
        logger.info("ingest stopped: %s", ingest.stats.as_dict())
        store.close()
    return 0
