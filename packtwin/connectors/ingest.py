"""MQTT telemetry ingest: broker -> validation -> time-series store, at-least-once and idempotent.

Threads and flow control:
- paho's network thread only puts ``(topic, payload, mid)`` into a bounded queue (no decoding there);
- one worker thread takes whatever is queued (up to ``batch_max``), decodes and validates it in one vectorised pass
  (:func:`packtwin.connectors.codec.decode_batch`), writes frames, dead letters and gaps in one transaction, then
  publishes the dead letters and only then acknowledges the batch (``manual_ack``).

So a frame is acknowledged only once it is durable: if the process dies, the broker redelivers everything
unacknowledged to the persistent session, and the store's key (pack_id, seq) drops what was already stored.
Memory stays bounded: a full queue blocks the network thread, which stops reading the socket; TCP then pushes back
on the broker, which keeps the rest in the persistent session's queue.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import paho.mqtt.client as mqtt

from packtwin.connectors import topics
from packtwin.connectors.codec import MAX_PAYLOAD_BYTES, FrameError, decode_batch
from packtwin.connectors.fastclient import FastClient
from packtwin.connectors.frame import Frame
from packtwin.connectors.mqtt import MqttOptions, connect_async, make_client
from packtwin.timeseries.base import DeadLetter, Gap, TimeSeriesStore, row_to_frame

logger = logging.getLogger(__name__)

# Dead letters carry the offending payload; beyond this size only its head (the topic message says so).
DEADLETTER_PAYLOAD_BYTES = 64 * 1024


@dataclass
class IngestStats:
    received: int = 0
    frames: int = 0  # new frames stored
    cell_samples: int = 0  # cell voltages in new frames stored
    duplicates: int = 0  # valid frames already stored (redelivery or a repeating gateway)
    deadlettered: int = 0
    gaps: int = 0  # forward jumps in a pack's seq
    missing: int = 0  # frames skipped by those jumps
    batches: int = 0
    queue_peak: int = 0  # most frames waiting in the ingest's queue (bounded by queue_size + 1)
    connects: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


FrameCallback = Callable[[Frame], None]
BatchCallback = Callable[[list[Frame]], None]


class Ingest:
    """The ingest service: ``start()``, ``stop()``, ``stats``; optional callbacks receive each new decoded frame.

    ``known_packs``: pack ids the twin knows, as a set or as ``{pack_id: n_cells}`` (then the voltage array length is
    checked too); frames of other packs are dead-lettered as ``unknown_pack``. None accepts every pack.
    """

    def __init__(self, store: TimeSeriesStore, mqtt: MqttOptions | str | None = None, *,
                 known_packs: Mapping[str, int | None] | Iterable[str] | None = None,
                 on_frame: FrameCallback | None = None, on_batch: BatchCallback | None = None,
                 client_id: str = "packtwin-ingest", qos: int = 1, clean_session: bool = False,
                 shared_group: str | None = None, queue_size: int = 20_000, batch_max: int = 5_000, batch_wait_s: float = 0.02,
                 max_payload_bytes: int = MAX_PAYLOAD_BYTES, publish_deadletters: bool = True,
                 gap_grace_s: float = 10.0) -> None:
        if qos not in (0, 1):
            raise ValueError("telemetry ingest uses QoS 0 or 1")
        self.store = store
        self.options = mqtt if isinstance(mqtt, MqttOptions) else MqttOptions(url=mqtt or MqttOptions.url)
        self.qos = qos
        self.client_id = client_id
        self.clean_session = clean_session
        self.subscription = topics.TELEMETRY_ALL if shared_group is None else topics.shared(topics.TELEMETRY_ALL,
                                                                                            shared_group)
        self.on_frame, self.on_batch = on_frame, on_batch
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.max_payload_bytes = max_payload_bytes
        self.publish_deadletters = publish_deadletters
        self.gap_grace_s = gap_grace_s
        self._pending_gaps: list[tuple[float, Gap]] = []
        self.set_known_packs(known_packs)
        self.stats = IngestStats()
        self._queue: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue(maxsize=queue_size)
        self._generation = 0  # bumped on every (re)connect: acks of an older connection must not be sent
        self._ack_lock = threading.Lock()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._last_seq: dict[str, int] = {}
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None

    def set_known_packs(self, known_packs: Mapping[str, int | None] | Iterable[str] | None) -> None:
        if known_packs is None:
            self._known: dict[str, int | None] | None = None
        elif isinstance(known_packs, Mapping):
            self._known = dict(known_packs)
        else:
            self._known = dict.fromkeys(known_packs)

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self, wait_connected: float | None = 30.0) -> Ingest:
        self._last_seq = self.store.last_seq_by_pack()
        self._stop.clear()
        client = make_client(self.options, self.client_id, clean_session=self.clean_session,
                             manual_ack=self.qos == 1)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        if isinstance(client, FastClient):
            client.on_raw_publish = self._on_raw_publish
        self._client = client
        self._worker = threading.Thread(target=self._run, name="packtwin-ingest-worker", daemon=True)
        self._worker.start()
        connect_async(client, self.options)
        if wait_connected and not self._connected.wait(wait_connected):
            logger.warning("ingest not connected to %s after %.0f s; retrying in the background", self.options.url,
                           wait_connected)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect, then store what is queued (unacknowledged, so the broker may redeliver it: harmless)."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        self._connected.clear()

    def __enter__(self) -> Ingest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_idle(self, timeout: float, settle_s: float = 0.3) -> bool:
        """Wait until nothing new was received for ``settle_s`` and the queue is empty (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            received = self.stats.received
            if received == last and self._queue.empty() and self._queue.unfinished_tasks == 0:
                return True
            last = received
            time.sleep(settle_s)
        return False

    # -- paho network thread: enqueue only ------------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags, reason_code: object,
                    properties: object) -> None:
        if getattr(reason_code, "is_failure", False):
            logger.error("ingest connection refused by %s: %s", self.options.url, reason_code)
            return
        with self._ack_lock:
            self._generation += 1
        self.stats.connects += 1
        client.subscribe(self.subscription, qos=self.qos)
        logger.info("ingest connected to %s (session present: %s)", self.options.url, flags.session_present)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes: list,
                      properties: object) -> None:
        if any(getattr(rc, "is_failure", False) for rc in reason_codes):
            logger.error("subscription to %s refused: %s", self.subscription, reason_codes)
            return
        self._connected.set()  # connected and subscribed: from here on the broker keeps our frames

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason_code: object,
                       properties: object) -> None:
        self._connected.clear()
        if not self._stop.is_set() and self._client is not None:
            logger.warning("ingest disconnected from %s (%s); reconnecting", self.options.url, reason_code)

    def _on_raw_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        self._queue.put((topic.decode(errors="replace"), payload, mid, self._generation))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Blocking put: when the worker falls behind, the network thread stops reading and the broker holds the rest.
        self._queue.put((msg.topic, msg.payload, msg.mid, self._generation))

    # -- worker thread ---------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        q = self._queue
        while True:
            try:
                first = q.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():
                    self._confirm_gaps(force=True)
                    return
                self._confirm_gaps()
                continue
            depth = q.qsize() + 1
            if depth > self.stats.queue_peak:
                self.stats.queue_peak = depth
            batch = [first]
            # Gather for up to batch_wait_s: one transaction and one round of acks per batch is what sets the rate.
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.batch_max:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(q.get(timeout=remaining))
                    except queue.Empty:
                        break
            try:
                self._process(batch)
            except Exception:
                # The batch stays unacknowledged: the broker redelivers it after a reconnect.
                logger.exception("ingest batch of %d failed; not acknowledged", len(batch))
            finally:
                for _ in batch:
                    q.task_done()

    def _process(self, batch: list[tuple[str, bytes, int, int]]) -> None:
        now = time.time()
        pack_ids: list[str] = []
        payloads: list[bytes] = []
        positions: list[int] = []
        letters: list[DeadLetter] = []
        known = self._known
        for k, (topic, payload, _mid, _gen) in enumerate(batch):
            pack_id = topics.pack_of_telemetry(topic)
            if pack_id is None:
                letters.append(_letter(now, topic, FrameError("bad_topic", "not a telemetry topic"), payload))
            elif known is not None and pack_id not in known:
                letters.append(_letter(now, topic, FrameError("unknown_pack", f"no twin for pack {pack_id!r}"),
                                       payload))
            else:
                pack_ids.append(pack_id)
                payloads.append(payload)
                positions.append(k)
        ok, errors = decode_batch(pack_ids, payloads, known, self.max_payload_bytes)
        for i, exc in errors:
            letters.append(_letter(now, batch[positions[i]][0], exc, payloads[i]))
        rows = [row for _, row in ok]
        gaps: list[Gap] = []
        fresh: list = []
        last_seq = self._last_seq
        for row in rows:
            pack_id, seq = row[0], row[1]
            last = last_seq.get(pack_id)
            if last is None or seq > last:
                if last is not None and seq > last + 1:
                    gaps.append(Gap(pack_id, last, seq, now))
                last_seq[pack_id] = seq
                fresh.append(row)
        inserted = self.store.write_batch(rows, letters, ())
        stats = self.stats
        stats.received += len(batch)
        stats.batches += 1
        stats.frames += inserted
        stats.duplicates += len(rows) - inserted
        stats.cell_samples += _cell_samples(rows, fresh, inserted)
        stats.deadlettered += len(letters)
        # A forward jump is only a gap if the frames do not arrive late (redelivery after a restart can reorder).
        self._pending_gaps.extend((time.monotonic(), g) for g in gaps)
        self._confirm_gaps()
        client = self._client
        if letters and self.publish_deadletters and client is not None:
            for letter in letters:
                parsed = topics.parse(letter.topic)
                pack = parsed[0] if parsed else "_unknown"
                client.publish(topics.deadletter(pack), deadletter_message(letter), qos=1)
        if fresh and (self.on_frame or self.on_batch):
            self._deliver([row_to_frame(r) for r in fresh])
        if self.qos == 1 and client is not None:
            with self._ack_lock:
                generation = self._generation
                mids = [mid for _topic, _payload, mid, gen in batch if gen == generation]
                if isinstance(client, FastClient):
                    client.ack_many(mids)
                else:
                    for mid in mids:
                        client.ack(mid, 1)

    def _confirm_gaps(self, force: bool = False) -> None:
        """Record the pending gaps older than ``gap_grace_s`` that late frames have not filled."""
        if not self._pending_gaps:
            return
        horizon = time.monotonic() - self.gap_grace_s
        due = [g for since, g in self._pending_gaps if force or since <= horizon]
        if not due:
            return
        self._pending_gaps = [(since, g) for since, g in self._pending_gaps if not (force or since <= horizon)]
        confirmed = []
        for gap in due:
            missing = gap.missing - self.store.count_between(gap.pack_id, gap.after_seq, gap.before_seq)
            if missing > 0:
                confirmed.append(gap)
                self.stats.gaps += 1
                self.stats.missing += missing
                logger.warning("pack %s: %d frames missing between seq %d and %d", gap.pack_id, missing,
                               gap.after_seq, gap.before_seq)
        self.store.add_gaps(confirmed)

    def _deliver(self, frames: list[Frame]) -> None:
        try:
            if self.on_batch is not None:
                self.on_batch(frames)
            if self.on_frame is not None:
                for frame in frames:
                    self.on_frame(frame)
        except Exception:
            logger.exception("frame callback failed (frames are stored; continuing)")


def _cell_samples(rows: list, fresh: list, inserted: int) -> int:
    """Cell voltages in the ``inserted`` new rows (exact unless duplicates and late frames mix in one batch)."""
    if inserted == len(rows):
        return sum(len(r[4]) for r in rows) // 4
    if inserted == len(fresh):
        return sum(len(r[4]) for r in fresh) // 4
    return round(inserted * sum(len(r[4]) for r in rows) / 4 / len(rows))


def _letter(now: float, topic: str, exc: FrameError, payload: bytes) -> DeadLetter:
    return DeadLetter(now, topic, exc.reason, exc.detail, bytes(payload))


def deadletter_message(letter: DeadLetter) -> bytes:
    """The JSON message published on ``packtwin/v1/{pack_id}/deadletter`` (docs/mqtt.md)."""
    head = letter.payload[:DEADLETTER_PAYLOAD_BYTES]
    return json.dumps({
        "reason": letter.reason, "detail": letter.detail, "topic": letter.topic, "received_at": letter.received_at,
        "payload_bytes": len(letter.payload), "truncated": len(head) < len(letter.payload),
        "payload_b64": base64.b64encode(head).decode(),
    }, separators=(",", ":")).encode()
