"""``packtwin worker``: the processes of the scaled deployment (docs/scale-out.md).

- ``--role ingest``: joins the MQTT 5 shared subscription ``$share/packtwin-ingest/packtwin/v1/+/telemetry``, stores
  frames in the shared time-series store (PostgreSQL at scale) and forwards each new frame to its pack's partition
  topic. Stateless: run as many as the broker's rate needs.
- ``--role estimator --partition K/P``: owns the packs whose stable hash falls in partition K of P, so each pack's
  estimator state lives in exactly one process; checkpoints it and restores it after a restart.
- ``--role passport --aas-url URL``: joins ``$share/packtwin-passport/packtwin/v1/+/estimate`` and sets each pack's
  passport values (Product Condition, Technical Data fade values) through the AAS HTTP API of the server holding the
  twins (``packtwin serve``, BaSyx), at most once per ``--write-period`` per pack.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run an ingest or estimator worker of the scaled deployment",
                              description=__doc__)
    p.add_argument("--role", choices=["ingest", "estimator", "passport"], required=True)
    p.add_argument("--partition", help="estimator: the partitions owned, K/P (also K1,K2/P or A-B/P)")
    p.add_argument("--partitions", type=int, default=None,
                   help="ingest: the number of estimator partitions P to forward to (default: no forwarding)")
    p.add_argument("--mqtt", default=None, help="broker URL (default: settings mqtt_url)")
    p.add_argument("--store", default=None, help="time-series store: SQLite path or postgresql:// URL")
    p.add_argument("--name", default=None, help="worker name: MQTT client id and state file name")
    p.add_argument("--state-dir", default=None, help="estimator: where the state checkpoint lives (default: data dir)")
    p.add_argument("--cell", default=None, help="estimator: cell JSON (default: the simulator's LG M50 cell)")
    p.add_argument("--estimate-period", type=float, default=5.0, help="estimator: seconds of data between estimates")
    p.add_argument("--aas-url", default=None,
                   help="passport: AAS API root of the twins' server, e.g. http://127.0.0.1:8080/api/v3.0")
    p.add_argument("--aas-key", default=None, help="passport: API key with the operator role (or PACKTWIN_AAS_KEY)")
    p.add_argument("--write-period", type=float, default=10.0, help="passport: seconds between writes of one pack")
    p.add_argument("--cells-per-write", type=int, default=8,
                   help="passport: cells of a pack whose passports each pack write also sets, in turn (0: none)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packtwin.settings import load_settings
    from packtwin.timeseries import open_store, store_location

    settings = load_settings()
    url = args.mqtt or settings.mqtt_url
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.role == "passport":
        writer = _passport(args, url, settings.base_iri)
        if writer is None:
            return 2
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.duration)
        writer.stop()
        logger.info("passport writer stopped: %s", writer.stats.as_dict())
        return 0
    store_url = store_location(settings, args.store)
    store = open_store(store_url)
    try:
        if args.role == "ingest":
            service = _ingest(args, url, store)
        else:
            service = _estimator(args, url, store, settings.data_path)
        if service is None:
            return 2
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.duration)
        service.stop()
    finally:
        store.close()
    return 0


def _ingest(args: argparse.Namespace, url: str, store: object):  # noqa: ANN202 - a stoppable
    from packtwin.connectors import topics
    from packtwin.connectors.forward import Forwarder
    from packtwin.connectors.ingest import Ingest
    from packtwin.connectors.mqtt import MqttOptions, Publisher

    name = args.name or "packtwin-ingest"
    options = MqttOptions(url=url)
    publisher = forwarder = None
    if args.partitions:
        publisher = Publisher(options, f"{name}-forward").start()
        forwarder = Forwarder(publisher, args.partitions)
    ingest = Ingest(store, options, client_id=name, shared_group=topics.INGEST_SHARE_GROUP, on_batch=forwarder)
    ingest.start()
    logger.info("ingest worker %s: %s -> %s%s", name, url, store,
                f", forwarding to {args.partitions} partitions" if forwarder else "")

    class _Stop:
        def stop(self) -> None:
            ingest.stop()
            if publisher is not None:
                publisher.stop()
            logger.info("ingest worker %s stopped: %s", name, ingest.stats.as_dict())

    return _Stop()


def _estimator(args: argparse.Namespace, url: str, store: object, data_dir: Path):  # noqa: ANN202 - a stoppable
    from packtwin.analytics.cellmodel import CellSpec
    from packtwin.analytics.service import EstimatorService
    from packtwin.analytics.worker import WorkerConfig
    from packtwin.connectors.partition import Assignment

    if not args.partition:
        logger.error("--role estimator needs --partition K/P")
        return None
    try:
        assignment = Assignment.parse(args.partition)
    except ValueError as exc:
        logger.error("%s", exc)
        return None
    cell = Path(args.cell) if args.cell else Path(__file__).parent / "sim" / "resources" / "cell_lgm50.json"
    service = EstimatorService(assignment, store, CellSpec.from_json(cell), mqtt=url, name=args.name,
                               state_dir=args.state_dir or data_dir,
                               config=WorkerConfig(estimate_period_s=args.estimate_period))
    service.start()
    logger.info("estimator %s owns partitions %s; restored/replayed %d frames", service.name, assignment,
                service.stats.replayed)
    return service


def _passport(args: argparse.Namespace, url: str, base_iri: str):  # noqa: ANN202 - a stoppable
    import os

    from packtwin.analytics.writeback import PassportWriteback
    from packtwin.connectors.remote.client import AasClient

    if not args.aas_url:
        logger.error("--role passport needs --aas-url (the AAS API root of the twins' server)")
        return None
    client = AasClient(args.aas_url, api_key=args.aas_key or os.environ.get("PACKTWIN_AAS_KEY"))
    writer = PassportWriteback(client, base_iri, url, name=args.name or "packtwin-passport",
                               min_period_s=args.write_period, cells_per_write=args.cells_per_write).start()
    logger.info("passport writer %s: estimates from %s -> %s", writer.name, url, args.aas_url)
    return writer
