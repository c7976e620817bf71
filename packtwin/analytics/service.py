"""The estimator worker of the scaled deployment: owns a set of partitions of the fleet (``--partition K/P``).

Frames come from the partition topics the ingest workers forward to (persistent session, QoS 1), so frames that
arrive while the worker is down wait at the broker. Each pack's frames are applied strictly in ``seq`` order: a frame
ahead of its turn waits in a small reorder buffer (two ingest workers share the telemetry and may forward one pack's
frames out of order); a hole still open after ``hole_wait_s`` is filled from the time-series store, where every
frame the ingest acknowledged is; what the store does not have either is a real gap and is bridged as one.

The per-pack estimator state is checkpointed atomically to ``state_dir`` every ``checkpoint_period_s``; after a
restart the worker loads the checkpoint and replays from the store every frame after it, so a killed worker loses
nothing. Estimates are published on ``packtwin/v1/{pack_id}/estimate`` with the worker's name, alerts the moment
they are raised on ``packtwin/v1/{pack_id}/alert``, balancing recommendations as commands on
``packtwin/v1/{pack_id}/command``.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from packtwin.analytics.cellmodel import CellSpec
from packtwin.analytics.passport import CellValues
from packtwin.analytics.worker import AnalyticsWorker, WorkerConfig
from packtwin.connectors import topics
from packtwin.connectors.forward import decode_forwarded
from packtwin.connectors.frame import Frame
from packtwin.connectors.mqtt import MqttOptions, connect_async, make_client
from packtwin.connectors.partition import Assignment
from packtwin.timeseries.base import TimeSeriesStore

logger = logging.getLogger(__name__)


def estimate_message(worker: str, pack_id: str, estimate: dict[str, Any]) -> bytes:
    """The JSON published on ``packtwin/v1/{pack_id}/estimate`` (docs/mqtt.md): the pack's headline values, the
    passport values the passport writer (``packtwin worker --role passport``) sets in the pack's submodels, and the
    per-cell values (series order; null where a cell has none) it sets in the cells' passports."""
    body = {"worker": worker, "pack_id": pack_id, "t": estimate.get("t"), "soc": estimate.get("soc"),
            "soh_capacity_pct": estimate.get("soh_capacity_pct"),
            "resistance_increase_pct": estimate.get("resistance_increase_pct"),
            "passport": [{k: v[k] for k in ("submodel", "id_short_path", "value")}
                         for v in estimate.get("passport") or []]}
    if estimate.get("soc_cells") is not None:
        cells = CellValues.from_estimate(estimate, estimate.get("rated_capacity_ah"))
        body["cells"] = {"rated_capacity_ah": cells.rated_capacity_ah, **cells.values}
    return json.dumps(body, default=float).encode()


@dataclass
class EstimatorStats:
    frames: int = 0
    duplicates: int = 0
    backfilled: int = 0
    gaps: int = 0
    estimates: int = 0
    alerts: int = 0
    commands: int = 0
    replayed: int = 0
    # pack_id -> seqs applied in order (kept only when ``record_order`` is set, for tests and audits)
    applied: dict[str, list[int]] = field(default_factory=dict)


class EstimatorService:
    def __init__(self, assignment: Assignment, store: TimeSeriesStore, spec: CellSpec, *,
                 mqtt: MqttOptions | str | None = None, name: str | None = None, state_dir: str | Path = ".",
                 config: WorkerConfig | None = None, checkpoint_period_s: float = 5.0, hole_wait_s: float = 2.0,
                 record_order: bool = False, store_poll_s: float = 30.0,
                 on_estimate: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.assignment = assignment
        self.store = store
        self.options = mqtt if isinstance(mqtt, MqttOptions) else MqttOptions(url=mqtt or MqttOptions.url)
        self.name = name or f"estimator-{assignment}".replace("/", "-of-").replace(",", "_")
        self.state_path = Path(state_dir) / f"{self.name}.state"
        self.checkpoint_period_s = checkpoint_period_s
        self.hole_wait_s = hole_wait_s
        self.record_order = record_order
        self.store_poll_s = store_poll_s
        self._last_applied: dict[str, float] = {}
        self._last_poll = time.monotonic()
        self.extra_on_estimate = on_estimate
        self.worker = AnalyticsWorker(spec, config, on_estimate=self._on_estimate, on_alert=self._on_alert,
                                      on_command=self._on_command)
        # Alerts and commands raised while replaying from the store, before the MQTT client exists, go out once it does.
        self._outbox: list[tuple[str, bytes]] = []
        self.next_seq: dict[str, int] = {}  # pack -> the seq to apply next
        self.stats = EstimatorStats()
        self._held: dict[str, dict[int, Frame]] = {}
        self._held_since: dict[str, float] = {}
        self._inbox: queue.Queue[tuple[bytes, bytes, int]] = queue.Queue(maxsize=20_000)
        self._stop = threading.Event()
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._last_checkpoint = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> EstimatorService:
        self._restore()
        self._catch_up()
        client = make_client(self.options, f"packtwin-{self.name}", clean_session=False, manual_ack=True, fast=False)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._client = client
        self._thread = threading.Thread(target=self._run, name=f"packtwin-{self.name}", daemon=True)
        self._thread.start()
        connect_async(client, self.options)
        for topic, payload in self._outbox:  # paho keeps QoS 1 messages until the connection is up
            client.publish(topic, payload, qos=1)
        self._outbox.clear()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self.checkpoint()

    # -- state -------------------------------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Write the estimator state atomically (temporary file, fsync, rename)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=f".{self.state_path.name}.")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"packs": self.worker.packs, "next_seq": self.next_seq}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)
        self._last_checkpoint = time.monotonic()

    def _restore(self) -> None:
        if not self.state_path.exists():
            return
        with open(self.state_path, "rb") as fh:
            state = pickle.load(fh)  # our own checkpoint file, written by checkpoint()
        self.worker.packs.update(state["packs"])
        self.next_seq.update(state["next_seq"])
        logger.info("%s restored the state of %d packs", self.name, len(self.next_seq))

    def _catch_up(self) -> None:
        """Apply, from the store, every stored frame of an owned pack after what the state has seen."""
        for pack_id, last in self.store.last_seq_by_pack().items():
            if not self.assignment.owns(pack_id):
                continue
            start = self.next_seq.get(pack_id, 0)
            if last >= start:
                for frame in self._stored(pack_id, start, last):
                    self._apply(frame)
                    self.stats.replayed += 1

    def _stored(self, pack_id: str, first: int, last: int) -> list[Frame]:
        """Frames ``first..last`` of a pack as the store has them (temperatures only on the ticks that had them)."""
        series = self.store.frames(pack_id)
        temps = {float(t): series.temperature_c[j] for j, t in enumerate(series.temperature_t)}
        none = np.empty(0, np.float32)
        keep = np.flatnonzero((series.seq >= first) & (series.seq <= last))
        return [Frame(pack_id, int(series.seq[i]), float(series.t[i]), float(series.current_a[i]),
                      series.cell_voltage_v[i], temps.get(float(series.t[i]), none)) for i in keep]

    # -- MQTT --------------------------------------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                    properties: object = None) -> None:
        client.subscribe([(f, 1) for f in self.assignment.topic_filters()])

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((msg.topic.encode(), bytes(msg.payload), msg.mid))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                _topic, payload, mid = self._inbox.get(timeout=0.2)
            except queue.Empty:
                self._fill_holes()
                self._poll_store()
                self._maybe_checkpoint()
                continue
            try:
                frame = decode_forwarded(payload)
            except ValueError as exc:  # ingest validated it; a broken forward is logged, never fatal
                logger.warning("%s: undecodable forwarded frame: %s", self.name, exc)
                frame = None
            if frame is not None and self.assignment.owns(frame.pack_id):
                self._offer(frame)
            self._fill_holes()
            self._maybe_checkpoint()
            if self._client is not None:
                self._client.ack(mid, 1)

    def _maybe_checkpoint(self) -> None:
        if time.monotonic() - self._last_checkpoint >= self.checkpoint_period_s:
            self.checkpoint()

    # -- ordering ----------------------------------------------------------------------------------------------------
    def _offer(self, frame: Frame) -> None:
        pack = frame.pack_id
        expected = self.next_seq.get(pack)
        if expected is not None and frame.seq < expected:
            self.stats.duplicates += 1
            return
        if expected is None or frame.seq == expected:
            self._apply(frame)
            self._drain(pack)
            return
        held = self._held.setdefault(pack, {})
        held[frame.seq] = frame
        self._held_since.setdefault(pack, time.monotonic())

    def _drain(self, pack: str) -> None:
        held = self._held.get(pack)
        while held and self.next_seq[pack] in held:
            self._apply(held.pop(self.next_seq[pack]))
        if not held:
            self._held.pop(pack, None)
            self._held_since.pop(pack, None)

    def _fill_holes(self) -> None:
        now = time.monotonic()
        for pack in [p for p, since in self._held_since.items() if now - since >= self.hole_wait_s]:
            held = self._held[pack]
            first_held = min(held)
            for frame in self._stored(pack, self.next_seq[pack], first_held - 1):
                self._apply(frame)
                self.stats.backfilled += 1
            if self.next_seq[pack] < first_held:  # not in the store either: a real gap in the telemetry
                self.stats.gaps += 1
                self.next_seq[pack] = first_held
            self._held_since[pack] = now
            self._drain(pack)

    def _poll_store(self, force: bool = False) -> None:
        """Every ``store_poll_s``: apply what the store holds beyond a quiet pack's last applied frame. An ingest
        worker that died after storing a frame but before forwarding it leaves such a tail; without this it would wait
        for the pack's next frame (or this worker's restart)."""
        now = time.monotonic()
        if not force and now - self._last_poll < self.store_poll_s:
            return
        self._last_poll = now
        for pack_id, last in self.store.last_seq_by_pack().items():
            start = self.next_seq.get(pack_id)
            if (start is None or last < start or not self.assignment.owns(pack_id) or self._held.get(pack_id)
                    or now - self._last_applied.get(pack_id, 0.0) < self.store_poll_s):
                continue
            for frame in self._stored(pack_id, start, last):
                self._apply(frame)
                self.stats.backfilled += 1

    def _apply(self, frame: Frame) -> None:
        self.worker.update(frame)
        self._last_applied[frame.pack_id] = time.monotonic()
        self.next_seq[frame.pack_id] = frame.seq + 1
        self.stats.frames += 1
        if self.record_order:
            self.stats.applied.setdefault(frame.pack_id, []).append(frame.seq)

    # -- out ---------------------------------------------------------------------------------------------------------
    def _on_estimate(self, pack_id: str, estimate: dict[str, Any]) -> None:
        self.stats.estimates += 1
        if self._client is not None:
            self._client.publish(topics.estimate(pack_id), estimate_message(self.name, pack_id, estimate), qos=1)
        if self.extra_on_estimate is not None:
            self.extra_on_estimate(pack_id, estimate)

    def _send(self, topic: str, payload: bytes) -> None:
        if self._client is None:
            self._outbox.append((topic, payload))
        else:
            self._client.publish(topic, payload, qos=1)

    def _on_alert(self, pack_id: str, alert: Any) -> None:
        """Alerts go out at once, not at the estimate rate."""
        self.stats.alerts += 1
        doc = {"worker": self.name, "pack_id": pack_id, **alert.to_dict()}
        self._send(topics.alert(pack_id), json.dumps(doc, default=float).encode())

    def _on_command(self, pack_id: str, command: dict[str, Any]) -> None:
        """A balancing recommendation becomes a command to the pack's gateway (docs/mqtt.md, Commands)."""
        self.stats.commands += 1
        self._send(topics.command(pack_id), json.dumps(command, default=float).encode())
