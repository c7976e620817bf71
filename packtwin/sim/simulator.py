"""The fleet simulator: packs driven by real drive cycles and charging sessions, publishing like a gateway.

One telemetry frame per pack per tick (10 Hz of simulated time by default; temperatures and extra sensors on every
``temperature_every``-th tick), as specified in docs/mqtt.md. It accepts commands on ``.../command`` (balancing,
charge-power limit) and acknowledges them on ``.../command/ack``. Usable in-process (:class:`Simulator`) and as
``packtwin simulate``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from packtwin.connectors import codec, topics
from packtwin.connectors.mqtt import MqttOptions, Publisher
from packtwin.sim.faults import Fault
from packtwin.sim.model import FleetModel, PackDesign
from packtwin.sim.profiles import DRIVE_CYCLES, ChargeSession, drive_cycle

logger = logging.getLogger(__name__)

Sink = Callable[[str, bytes], None]

DRIVE, CHARGE, PARK = 0, 1, 2


def pack_ids(n: int) -> list[str]:
    """Pack serials of the fleet naming scheme (``PT-P000001`` ...)."""
    return [f"PT-P{i:06d}" for i in range(1, n + 1)]


@dataclass
class SimStats:
    ticks: int = 0
    frames: int = 0
    bytes: int = 0
    commands: int = 0


class Simulator:
    def __init__(self, packs: int | Iterable[str] = 1, *, design: PackDesign | None = None, speed: float = 1.0,
                 dt: float = 0.1, temperature_every: int = 10, faults: Iterable[Fault | str] = (),
                 mqtt: MqttOptions | str | None = None, sink: Sink | None = None, seed: int = 0,
                 cycles: Iterable[str] = DRIVE_CYCLES, encoding: str = "binary", seq_start: int = 0,
                 ageing_factor: float = 1.0, extra_sensors: bool = True, t0: float | None = None,
                 gateway_id: str = "packtwin-sim", max_pending: int = 10_000,
                 state_file: str | Path | None = None, soc0: tuple[float, float] = (0.6, 0.95),
                 park_s: float = 0.0) -> None:
        self.pack_ids = pack_ids(packs) if isinstance(packs, int) else list(packs)
        if not self.pack_ids:
            raise ValueError("at least one pack")
        if encoding not in ("binary", "json"):
            raise ValueError("encoding is binary or json")
        if (mqtt is None) == (sink is None):
            raise ValueError("give exactly one of mqtt (publish to a broker) and sink (in-process)")
        self.design = design or PackDesign()
        self.model = FleetModel(len(self.pack_ids), self.design, seed=seed, ageing_factor=ageing_factor, soc0=soc0)
        self.speed, self.dt, self.temperature_every = speed, dt, temperature_every
        self.encoding, self.extra_sensors = encoding, extra_sensors
        self.t0 = time.time() if t0 is None else t0
        self.state_file = Path(state_file) if state_file else None
        self.seq_start = self._load_seq(seq_start)
        self.stats = SimStats()
        self._topics = [topics.telemetry(p) for p in self.pack_ids]
        rng = np.random.default_rng(seed + 1)
        self._cycles = [drive_cycle(c, dt) for c in cycles]
        self._cycle_of = rng.integers(len(self._cycles), size=len(self.pack_ids))
        self._pos = np.array([rng.integers(len(self._cycles[c])) for c in self._cycle_of])
        self._mode = np.full(len(self.pack_ids), DRIVE)
        # Parking before each charge and after it (a car is parked while it waits for and after a charge): with
        # park_s of at least half an hour the twin sees relaxed voltages at both ends of the SoC range.
        self.park_s = park_s
        self._park_until = np.zeros(len(self.pack_ids))
        self._after_park = np.full(len(self.pack_ids), DRIVE)
        self._charge = ChargeSession()
        self._charge_c = np.zeros(len(self.pack_ids))
        self._charge_limit_c = np.full(len(self.pack_ids), 3.0)
        self._commands: queue.Queue[tuple[str, dict]] = queue.Queue(maxsize=10_000)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for fault in faults:
            self.add_fault(fault)
        self.gateway_id = gateway_id
        self.publisher: Publisher | None = None
        if sink is not None:
            self._sink: Sink = sink
        else:
            options = mqtt if isinstance(mqtt, MqttOptions) else MqttOptions(url=mqtt)  # type: ignore[arg-type]
            status = {"gateway": gateway_id, "packs": self.pack_ids[:1000], "encoding": encoding,
                      "n_cells": self.design.n_series, "n_temperature_sensors": self.design.n_temp_sensors,
                      "period_s": dt}
            birth = [(topics.status(p), json.dumps({**status, "state": "online", "packs": [p]}).encode())
                     for p in self.pack_ids]
            will = (topics.status(self.pack_ids[0]), json.dumps({**status, "state": "offline"}).encode())
            self.publisher = Publisher(options, f"{gateway_id}", max_pending=max_pending, will=will, birth=birth,
                                       on_connect=self._subscribe_commands)
            self.publisher.client.message_callback_add(f"{topics.PREFIX}/+/{topics.COMMAND}", self._on_command)
            self._sink = self.publisher.publish

    # -- control -----------------------------------------------------------------------------------------------------------
    def add_fault(self, fault: Fault | str) -> None:
        fault = Fault.parse(fault) if isinstance(fault, str) else fault
        with self._lock:
            self.model.apply_fault(fault, fault.pack_index(self.pack_ids))
        logger.info("fault injected: %s", fault)

    def set_speed(self, speed: float) -> None:
        """Simulated seconds per wall-clock second; 0 runs as fast as the machine goes."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed

    @property
    def seq(self) -> int:
        """The seq of the next tick (the same for every pack)."""
        return self.seq_start + self.stats.ticks

    @property
    def sim_time(self) -> float:
        return self.t0 + self.stats.ticks * self.dt

    def start(self) -> Simulator:
        if self.publisher is not None:
            self.publisher.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="packtwin-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, flush_timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(30)
        self._thread = None
        if self.publisher is not None:
            self.publisher.flush(flush_timeout)
            self.publisher.stop()
        self._save_seq()

    def run(self, ticks: int | None = None, duration_s: float | None = None) -> SimStats:
        """Run in the calling thread for ``ticks`` ticks or ``duration_s`` wall seconds (or until :meth:`stop`)."""
        start_wall, start_tick = time.monotonic(), self.stats.ticks
        done = 0
        while not self._stop.is_set():
            if ticks is not None and done >= ticks:
                break
            if duration_s is not None and time.monotonic() - start_wall >= duration_s:
                break
            self.tick()
            done += 1
            if self.speed > 0:
                due = start_wall + (self.stats.ticks - start_tick) * self.dt / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
        return self.stats

    # -- one tick ------------------------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._apply_commands()
        with self._lock:
            c_rate = self._schedule()
            current = self.model.step(self.dt, c_rate)
            volts = self.model.measure_voltage(current).astype("<f4")
            with_temps = self.stats.ticks % self.temperature_every == 0
            temps = self.model.measure_temperature().astype("<f4") if with_temps else None
            gas = self.model.gas_ppm() if with_temps and self.extra_sensors else None
        seq, t = self.seq, self.sim_time + self.dt
        items, n_bytes = [], 0
        for p, topic in enumerate(self._topics):
            extra = {"gas_ppm": float(gas[p]), "pressure_kpa": float(101.3 + 0.01 * gas[p])} if gas is not None \
                else None
            if self.encoding == "binary":
                payload = codec.encode_binary_parts(seq, t, float(current[p]), volts[p].tobytes(),
                                                    temps[p].tobytes() if temps is not None else b"", extra)
            else:
                payload = self._json(p, seq, t, float(current[p]), volts[p], temps, extra)
            items.append((topic, payload))
            n_bytes += len(payload)
        if self.publisher is not None:
            self.publisher.publish_many(items)
        else:
            for topic, payload in items:
                self._sink(topic, payload)
        self.stats.ticks += 1
        self.stats.frames += len(self._topics)
        self.stats.bytes += n_bytes

    def _json(self, p: int, seq: int, t: float, current: float, volts: np.ndarray, temps: np.ndarray | None,
              extra: dict[str, float] | None) -> bytes:
        doc = {"version": codec.VERSION, "pack_id": self.pack_ids[p], "seq": seq, "t": t, "current_a": current,
               "cell_voltage_v": [round(float(v), 4) for v in volts],
               "temperature_c": [round(float(x), 2) for x in temps[p]] if temps is not None else []}
        if extra:
            doc["extra"] = extra
        return json.dumps(doc, separators=(",", ":")).encode()

    def _schedule(self) -> np.ndarray:
        """C-rate of every pack for this tick: drive until the pack is low, then charge CC-CV until full; with
        ``park_s`` a parked spell (no current) before and after each charge."""
        m = self.model
        soc = m.soc.mean(axis=1)
        v = m.last_measured_v
        now = self.sim_time
        low = (self._mode == DRIVE) & ((soc < 0.15) | (v.min(axis=1) < 3.0))
        self._switch(low, CHARGE, now)
        parked = self._mode == PARK
        done = parked & (now >= self._park_until)
        self._mode[done] = self._after_park[done]
        self._charge_c[done & (self._mode == CHARGE)] = 0.0
        c_rate = np.zeros(len(self.pack_ids))
        driving = self._mode == DRIVE
        for k, cycle in enumerate(self._cycles):
            sel = driving & (self._cycle_of == k)
            if sel.any():
                c_rate[sel] = cycle[self._pos[sel] % len(cycle)]
        self._pos[driving] += 1
        charging = self._mode == CHARGE
        if charging.any():
            c = self._charge.next_c_rate(self._charge_c[charging], v[charging].max(axis=1),
                                         self._charge_limit_c[charging])
            self._charge_c[charging] = c
            c_rate[charging] = c
            finished = np.zeros(len(self.pack_ids), dtype=bool)
            finished[charging] = self._charge.done(c) | (soc[charging] > 0.95)
            self._switch(finished, DRIVE, now)
        return c_rate

    def _switch(self, sel: np.ndarray, to: int, now: float) -> None:
        """Send the selected packs to ``to`` -- through a parked spell first when parking is on."""
        if self.park_s > 0:
            self._mode[sel] = PARK
            self._park_until[sel] = now + self.park_s
            self._after_park[sel] = to
        else:
            self._mode[sel] = to
            if to == CHARGE:
                self._charge_c[sel] = 0.0

    # -- commands from the twin ------------------------------------------------------------------------------------------
    def _subscribe_commands(self, client) -> None:
        client.subscribe(f"{topics.PREFIX}/+/{topics.COMMAND}", qos=1)

    def _on_command(self, client, userdata, msg) -> None:
        parsed = topics.parse(msg.topic)
        if parsed is None:
            return
        try:
            doc = json.loads(msg.payload)
            if not isinstance(doc, dict):
                raise ValueError("command must be a JSON object")
        except ValueError as exc:
            doc = {"type": "invalid", "error": str(exc)}
        try:
            self._commands.put_nowait((parsed[0], doc))
        except queue.Full:
            self._ack(parsed[0], doc, "rejected", "command queue full")

    def _ack(self, pack_id: str, doc: dict, status: str, reason: str = "") -> None:
        if self.publisher is None:
            return
        ack = {"id": doc.get("id"), "type": doc.get("type"), "status": status, "t": time.time()}
        if reason:
            ack["reason"] = reason
        self.publisher.publish_untracked(topics.command_ack(pack_id), json.dumps(ack).encode())

    def _apply_commands(self) -> None:
        while True:
            try:
                pack_id, doc = self._commands.get_nowait()
            except queue.Empty:
                return
            self.stats.commands += 1
            try:
                self.apply_command(pack_id, doc)
            except (ValueError, KeyError, TypeError) as exc:
                self._ack(pack_id, doc, "rejected", str(exc))
            else:
                self._ack(pack_id, doc, "accepted")

    def apply_command(self, pack_id: str, doc: dict) -> None:
        """``{"type": "balancing", "cells": [1-based...]}`` bleeds those cells (``[]`` stops);
        ``{"type": "charge_power_limit", "kw": x}`` caps the charging power of the pack."""
        if pack_id not in self.pack_ids:
            raise KeyError(f"unknown pack {pack_id}")
        p = self.pack_ids.index(pack_id)
        kind = doc.get("type")
        with self._lock:
            if kind == "balancing":
                cells = doc.get("cells", [])
                if not isinstance(cells, list) or not all(isinstance(c, int) and
                                                          1 <= c <= self.design.n_series for c in cells):
                    raise ValueError(f"cells must be numbers 1..{self.design.n_series}")
                self.model.balancing[p] = False
                self.model.balancing[p, [c - 1 for c in cells]] = True
            elif kind == "charge_power_limit":
                kw = doc.get("kw")
                if type(kw) not in (int, float) or not kw >= 0:
                    raise ValueError("kw must be a number >= 0")
                pack_v = float(self.model.last_measured_v[p].sum())
                self._charge_limit_c[p] = kw * 1000.0 / max(pack_v, 1.0) / self.model.capacity_nominal_ah
            else:
                raise ValueError(f"unknown command type {kind!r}")

    # -- seq persistence (a gateway keeps counting across restarts) --------------------------------------------------------
    def _load_seq(self, seq_start: int) -> int:
        if self.state_file is not None and self.state_file.is_file():
            return max(seq_start, int(json.loads(self.state_file.read_text()).get("next_seq", 0)))
        return seq_start

    def _save_seq(self) -> None:
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps({"next_seq": self.seq}))
