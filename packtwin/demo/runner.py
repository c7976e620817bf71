"""Wires the demo together: fleet -> broker -> simulator -> ingest -> estimators -> repository -> RDF/SPARQL, and the
AAS API, SPARQL endpoint and dashboard on one HTTP port. :func:`run_demo` is the whole life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

# Faults injected into the simulated fleet (pack number, fault) so the estimators have something to find.
DEMO_FAULTS = (
    (2, "{pack}/17:short:5"),          # internal short circuit through 5 ohm in cell 17
    (3, "{pack}/40:offset:0.05"),      # voltage sensor of cell 40 reads 50 mV high
    (4, "{pack}/*:cooling:0.05"),      # cooling failure: 5 % of the heat transfer left
)


@dataclass
class DemoOptions:
    packs: int = 20
    modules: int = 8
    cells: int = 12
    duration_s: float | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    mqtt_url: str | None = None
    data_dir: str | None = None
    speed: float = 20.0  # simulated seconds per wall-clock second
    dt_s: float = 1.0  # simulated seconds between telemetry frames
    ageing_factor: float = 200.0  # about 1 % capacity per simulated hour: fade the estimates can follow
    park_s: float = 2400.0  # parked before and after each charge: relaxed voltages the capacity estimate anchors on
    estimate_period_s: float = 30.0  # of simulated time
    write_period_s: float = 10.0  # wall seconds between repository writes per pack
    faults: tuple[str, ...] = field(default_factory=tuple)


class PortTaken(RuntimeError):
    pass


def bind_port(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortTaken(f"port {port} on {host} is taken ({exc.strerror}); pass --port P, or --port 0 for a free "
                        "one") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server:
    """uvicorn on an already bound socket, in a thread with its own event loop."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        self.sock = sock
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[sock])),
                                       name="packtwin-demo-http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError("the HTTP server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class Demo:
    def __init__(self, options: DemoOptions, out: TextIO = sys.stdout) -> None:
        self.o = options
        self.out = out
        self.stop_event = threading.Event()
        self._closers: list[Any] = []
        self.started = time.monotonic()
        self.url = ""
        self.broker_kind = "existing"  # or "mosquitto" / "embedded": a broker this demo started for itself

    # -- start -----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        from packtwin.aas.api.app import create_app
        from packtwin.aas.api.auth import AuthConfig, resolve_role
        from packtwin.aas.fleet import supplementary_files
        from packtwin.aas.ids import Level, TwinIds
        from packtwin.analytics.cellmodel import CellSpec
        from packtwin.connectors.broker import broker_answers
        from packtwin.connectors.ingest import Ingest
        from packtwin.connectors.mqtt import MqttOptions
        from packtwin.connectors.outlets import start_outlets
        from packtwin.demo.estimates import EstimatorStage
        from packtwin.demo.fleetdata import load_fleet
        from packtwin.demo.live import LiveFleet
        from packtwin.ontology.background import BackgroundRdf
        from packtwin.ontology.endpoint import EndpointSettings, sparql_routes
        from packtwin.settings import load_settings
        from packtwin.sim.model import PackDesign
        from packtwin.sim.simulator import Simulator
        from packtwin.submodels.access import Role
        from packtwin.timeseries.aas_sync import TimeSeriesSync
        from packtwin.timeseries.sqlite import SQLiteTimeSeries
        from packtwin.web.events import EventHub
        from packtwin.web.routes import Dashboard, dashboard_routes

        o = self.o
        settings = load_settings(http_host=o.host, http_port=o.port)
        sock = bind_port(o.host, o.port)  # first: a taken port is reported before any work
        self._closers.append(sock.close)
        port = sock.getsockname()[1]
        self.url = f"http://{o.host}:{port}"
        self.base_iri = settings.base_iri

        data = Path(o.data_dir) if o.data_dir else Path(tempfile.mkdtemp(prefix="packtwin-demo-"))
        self.data = data
        if not o.data_dir:  # a directory of its own (hundreds of MB after a few minutes) goes when the demo stops
            self._closers.append(lambda: shutil.rmtree(data, ignore_errors=True))
        t = time.monotonic()
        repo, spec, hierarchy, imported = load_fleet(data, o.packs, o.modules, o.cells, settings.base_iri)
        self.repo = repo
        self.fleet_s = time.monotonic() - t
        pack_ids = [b.serial for b in hierarchy]
        n_cells = o.modules * o.cells
        self.pack_ids = pack_ids

        # Demo accounts, one API key per role, kept in the data directory (docs/api.md describes the file).
        keys = {role.value: f"demo-{role.value}-{secrets.token_hex(6)}" for role in
                (Role.LEGITIMATE_INTEREST, Role.AUTHORITY, Role.OPERATOR)}
        (data / "api-keys.toml").write_text("[api_keys]\n" + "".join(f'"{k}" = "{r}"\n' for r, k in keys.items()))
        auth = AuthConfig(api_keys={k: Role(r) for r, k in keys.items()})
        self.keys = keys

        # Broker: the one at --mqtt if it answers; else a broker of this demo's own on a free loopback port. Never a
        # broker shared by default: two demos there publish the same pack ids on the same topics and each would
        # ingest the other's frames.
        url = o.mqtt_url
        if url is None or not broker_answers(url):
            url, self.broker_kind = self._own_broker(data)
        self.mqtt_url = url
        run_id = secrets.token_hex(3)

        ts = SQLiteTimeSeries(data / "timeseries.sqlite")
        self._closers.append(ts.close)
        self.ts = ts
        cell_spec = CellSpec.from_json(Path(__file__).parents[1] / "sim" / "resources" / "cell_lgm50.json")
        live = LiveFleet(cell_spec.capacity_ah, o.cells)
        for p in pack_ids:
            live.add_pack(p, n_cells)
        self.live = live
        hub = EventHub().follow(repo.bus)
        self.hub = hub
        # Every repository change also goes out as a BaSyx MQTT event (public view), as packtwin serve --events-mqtt.
        outlets = start_outlets(repo, mqtt_url=url, basyx_repo_id="packtwin")
        self._closers.append(outlets.stop)
        stage = EstimatorStage(repo, live, cell_spec, settings.base_iri, estimate_period_s=o.estimate_period_s,
                               write_period_s=o.write_period_s, cells_per_write=o.cells,
                               on_alert=lambda doc: hub.publish("alert", doc))
        self.stage = stage

        rdf = BackgroundRdf(repo, duty=0.25)
        self.rdf = rdf
        # The estimators write the graph ~45 times a second: with read-your-writes every query would fork a fresh
        # query process; answers from a snapshot at most 2 s old are warm.
        sparql_settings = EndpointSettings.from_settings(settings, max_staleness_s=2.0)
        dashboard = Dashboard(live, ts, hub, self.status, accounts=keys, rated_capacity_ah=cell_spec.capacity_ah,
                              cycle_scale=o.ageing_factor)
        app = create_app(repo, settings, auth=auth, files=supplementary_files(spec),
                         extra_routes=[*sparql_routes(rdf.store, resolve_role, sparql_settings, lock=rdf.lock),
                                       *dashboard_routes(dashboard)])
        server = _Server(app, sock)
        server.start()
        self._closers.append(server.stop)
        self._closers.append(hub.close)
        rdf.start()
        self._closers.append(rdf.stop)

        stage.start()
        self._closers.append(stage.stop)
        # Each pack's IDTA 02008 Time Series submodel follows its telemetry (latest values, segment extent).
        ts_sync = TimeSeriesSync(repo, ts, {p: TwinIds(settings.base_iri, Level.PACK, p).submodel_id("TimeSeries")
                                            for p in pack_ids}, period_s=max(settings.latest_values_period_s, 5.0),
                                 sampling_rate_hz=round(1 / o.dt_s)).start()
        self._closers.append(ts_sync.stop)

        def on_batch(frames: list) -> None:
            ts_sync.on_batch(frames)
            stage.submit(frames)

        ingest = Ingest(ts, MqttOptions(url=url), known_packs=dict.fromkeys(pack_ids, n_cells),
                        on_batch=on_batch, client_id=f"packtwin-demo-ingest-{run_id}", clean_session=True)
        ingest.start()
        self.ingest = ingest
        self._closers.append(self._stop_ingest)

        last_t = max((e[2] for e in (ts.extent(p) for p in pack_ids) if e is not None), default=0.0)
        faults = list(o.faults) or [f.format(pack=pack_ids[n - 1]) for n, f in DEMO_FAULTS if n <= len(pack_ids)]
        sim = Simulator(pack_ids, design=PackDesign(n_series=n_cells), speed=o.speed, dt=o.dt_s, faults=faults,
                        mqtt=MqttOptions(url=url), ageing_factor=o.ageing_factor,
                        t0=max(time.time(), last_t + o.dt_s), gateway_id=f"packtwin-demo-sim-{run_id}",
                        state_file=data / "simulator-state.json", park_s=o.park_s)
        self.faults = faults
        sim.start()
        self.sim = sim
        self._closers.append(self._stop_sim)
        # One malformed frame, as a broken gateway would send: it must end up dead-lettered, not lost or crashing.
        from packtwin.connectors import topics
        sim.publisher.publish(topics.telemetry(pack_ids[0]), b'{"version": 1, "seq": "not a number"}')
        self.ready_s = time.monotonic() - self.started
        self._imported = imported

    def _stop_sim(self) -> None:
        self.sim.stop(flush_timeout=10)

    def _stop_ingest(self) -> None:
        self.ingest.wait_idle(timeout=10, settle_s=0.5)
        self.ingest.stop()

    def _own_broker(self, data: Path) -> tuple[str, str]:
        """Start a broker for this demo alone: Mosquitto in a process of its own when installed (off this process's
        interpreter lock, which the simulator and ingest already keep busy), else the embedded amqtt broker."""
        from packtwin.connectors.broker import EmbeddedBroker, MosquittoProcess, free_port, mosquitto_binary

        if mosquitto_binary() is not None:
            try:
                mosquitto = MosquittoProcess(data / "mosquitto").start()
            except RuntimeError as exc:  # e.g. a configuration this Mosquitto build refuses: fall back, say why
                logger.warning("own Mosquitto did not start (%s); using the embedded broker", exc)
            else:
                self._closers.append(mosquitto.stop)
                return mosquitto.url, "mosquitto"
        broker = EmbeddedBroker("127.0.0.1", free_port()).start()
        self._closers.append(broker.stop)
        return broker.url, "embedded"

    # -- state -----------------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self.ingest.stats if hasattr(self, "ingest") else None
        return {
            "base_iri": self.base_iri, "packs": len(self.pack_ids), "cells_per_pack": self.o.modules * self.o.cells,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "mqtt": self.mqtt_url, "broker": self.broker_kind,
            "sim_time": self.sim.sim_time if hasattr(self, "sim") else None, "speed": self.o.speed,
            "faults": getattr(self, "faults", []),
            "ingest": s.as_dict() if s else {},
            "estimates": self.stage.estimates, "estimates_written": self.stage.records_written,
            "estimator_frames_skipped": self.stage.frames_skipped, "alerts": self.stage.alerts,
            "negative_events": self.stage.negative_events,
            "rdf": {"loaded": self.rdf.loaded, "total": self.rdf.total, "events": self.rdf.sync.events},
            "sse_clients": self.hub.clients,
        }

    def summary(self) -> dict[str, Any]:
        s = self.ingest.stats
        return {"packs": len(self.pack_ids), "frames_ingested": s.frames, "cell_samples_ingested": s.cell_samples,
                "frames_deadlettered": s.deadlettered, "estimates_written": self.stage.records_written,
                "alerts_raised": self.stage.alerts, "duration_s": round(time.monotonic() - self.started, 1)}

    # -- run -------------------------------------------------------------------------------------------------------
    def banner(self) -> str:
        u = self.url
        lines = [
            f"packtwin demo: {len(self.pack_ids)} packs x {self.o.modules * self.o.cells} cells in {self.data}"
            f" ({'imported' if self._imported else 'reused'} fleet, ready in {self.ready_s:.1f} s)",
            f"  dashboard      {u}/",
            f"  AAS API        {u}/api/v3.0/shells",
            f"  SPARQL         {u}/sparql",
            f"  live events    {u}/events",
            f"  MQTT broker    {self.mqtt_url} ({self.broker_kind});"
            " AAS change events (BaSyx topics) on sm-repository/packtwin/# and aas-repository/packtwin/#",
            f"  running        simulator at {self.o.speed:g}x with faults {', '.join(self.faults)}; MQTT ingest"
            " -> SQLite time series and Time Series submodels; estimators -> Product Condition / Technical Data;"
            " change events -> RDF/SPARQL and the dashboard",
            "  demo accounts  " + ", ".join(f"{r}: X-API-Key {k}" for r, k in self.keys.items()),
            "  stop with Ctrl-C" if self.o.duration_s is None else f"  stopping after {self.o.duration_s:g} s",
        ]
        return "\n".join(lines)

    def wait(self) -> None:
        tty = self.out.isatty()
        deadline = None if self.o.duration_s is None else time.monotonic() + self.o.duration_s
        while not self.stop_event.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.stop_event.wait(1.0)
            st = self.status()
            self.hub.publish("stats", st)
            if tty:
                i = st["ingest"]
                self.out.write(f"\r  {st['uptime_s']:6.0f} s  frames {i.get('frames', 0):>8}  cell-samples "
                               f"{i.get('cell_samples', 0):>10}  dead letters {i.get('deadlettered', 0):>3}  "
                               f"estimates {st['estimates_written']:>6}  alerts {st['alerts']:>3}  "
                               f"RDF {st['rdf']['loaded']}/{st['rdf']['total']}   ")
                self.out.flush()
        if tty:
            self.out.write("\n")

    def close(self) -> None:
        for closer in reversed(self._closers):
            started = time.monotonic()
            try:
                closer()
            except Exception:
                logger.exception("stopping %r failed", closer)
            took = time.monotonic() - started
            if took > 2.0:
                logger.info("stopping %s took %.1f s", getattr(closer, "__qualname__", closer), took)
        self._closers.clear()


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    # Simulator, ingest, estimators and RDF are busy Python threads; a shorter GIL switch interval than the default
    # 5 ms lets the HTTP server's thread in often enough for the dashboard to stay responsive.
    sys.setswitchinterval(0.001)
    demo = Demo(options, out)
    previous = signal.signal(signal.SIGTERM, lambda *_: demo.stop_event.set())
    try:
        try:
            demo.start()
        except PortTaken as exc:
            print(f"packtwin demo: {exc}", file=sys.stderr)
            return 2
        print(demo.banner(), file=out, flush=True)
        try:
            demo.wait()
        except KeyboardInterrupt:
            print("\nstopping ...", file=sys.stderr)
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            demo.close()
        signal.signal(signal.SIGTERM, previous)
    if hasattr(demo, "ingest"):
        print(json.dumps(demo.summary(), separators=(",", ":")), file=out, flush=True)
    return 0
