"""Estimates -> passports in the scaled deployment: the estimator workers publish each pack's estimate on
``packtwin/v1/{pack_id}/estimate``; this writer takes them and sets the pack's Digital Battery Passport values
(IDTA 02035-5 Product Condition, the fade values of 02035-4 Technical Data) through the AAS HTTP API of whatever
server holds the twins -- ``packtwin serve`` or an Eclipse BaSyx submodel repository -- with one
``PATCH /submodels/{id}/$value`` per submodel (its ValueOnly form, naming just the values written: one request and
one change event on the server instead of one per value). Where the server refuses that (an element the twin lacks,
or a server without the operation) the values go one by one, ``PATCH .../submodel-elements/{idShortPath}/$value``,
and the missing elements are added from the template. The
estimate's per-cell values go to the cells' passports the same way, ``cells_per_write`` cells per pack write in
turn (a pack of 96 cells is refreshed over 12 writes at the default 8), the cell twins found through the pack's
BoMs (:mod:`packtwin.connectors.remote.bom`). Alerts (``packtwin/v1/{pack_id}/alert``) are written at once as a
NegativeEvents item of the Product Condition of each cell they name (else of the pack), each kind once per battery
(the passport keeps that it happened, the alert stream keeps every occurrence); the server then announces the change
as its own AAS event.

Writers join a shared subscription, so several of them split the packs; only the newest estimate of a pack is kept
while a write is due, and a pack is written at most once per ``min_period_s`` (estimates arrive every few seconds of
data, a passport needs far less). A message that is not an estimate is dead-lettered on the pack's ``deadletter``
topic with its reason, as the ingest does with bad frames; a value the server refuses is counted and logged, the
other values of the pack are still written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from packtwin.aas.ids import Level, TwinIds
from packtwin.analytics.passport import CELL_FIELDS, PRODUCT_CONDITION, CellValues, passport_values
from packtwin.connectors import topics
from packtwin.connectors.ingest import deadletter_message
from packtwin.connectors.mqtt import MqttOptions, connect_async, make_client
from packtwin.connectors.remote.bom import SeriesOrder, SeriesOrderError
from packtwin.connectors.remote.client import AasClient, RemoteError
from packtwin.submodels.product_condition import negative_event_item, template_elements
from packtwin.timeseries.base import DeadLetter

logger = logging.getLogger(__name__)

SHARE_GROUP = "packtwin-passport"
PASSPORT_SUBMODELS = frozenset({"ProductCondition", "TechnicalData"})


# Statuses on which a submodel's ValueOnly PATCH is retried value by value: an element missing (400 from packtwin,
# 404 elsewhere), or the operation not offered (405, 501).
FALLBACK_STATUSES = frozenset({400, 404, 405, 501})


def value_tree(values: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The ValueOnly form of a submodel holding just ``values`` (dot-separated idShort paths, lexical values);
    None when a path runs through a list item (``[i]``) or is both a value and a parent, which the form cannot say."""
    tree: dict[str, Any] = {}
    for path, value in values:
        if "[" in path:
            return None
        *parents, leaf = path.split(".")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                return None
        if leaf in node:
            return None
        node[leaf] = value
    return tree


@dataclass
class WritebackStats:
    messages: int = 0
    rejected: int = 0
    superseded: int = 0        # estimates replaced by a newer one before their write was due
    packs_written: int = 0
    values_written: int = 0
    value_requests: int = 0    # PATCH requests for values (one per submodel, or one per value where refused)
    value_errors: int = 0
    events_written: int = 0
    events_known: int = 0      # alerts of a kind the passport already records for that pack
    cells_written: int = 0
    cell_order_errors: int = 0  # writes and alerts whose cell twins the BoM could not give (or not as many)
    last_error: str = ""
    written: dict[str, float] = field(default_factory=dict)  # pack_id -> estimate time last written

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "written"}


class EstimateError(ValueError):
    pass


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x


def parse_cells(body: Any) -> CellValues | None:
    """The ``cells`` object of an estimate message (absent: None), or EstimateError naming what is wrong."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise EstimateError("cells must be an object of per-cell lists")
    rated = body.get("rated_capacity_ah")
    if rated is not None and not (_number(rated) and rated > 0):
        raise EstimateError("cells.rated_capacity_ah must be a positive number")
    n = len(body.get("soc") or [])
    lists = {}
    for key in CELL_FIELDS:
        values = body.get(key)
        if values is None:
            values = [None] * n
        if not isinstance(values, list) or not all(v is None or _number(v) for v in values):
            raise EstimateError(f"cells.{key} must be a list of numbers or nulls")
        if len(values) != n:
            raise EstimateError(f"cells.{key} must have one entry per cell (as cells.soc: {n})")
        lists[key] = [None if v is None else float(v) for v in values]
    if any(v is not None and not 0.0 <= v <= 1.0 for v in lists["soc"]):
        raise EstimateError("cells.soc is a fraction (0..1)")
    return CellValues(None if rated is None else float(rated), lists)


def _topic_pack(topic: str, kind: str) -> str:
    parsed = topics.parse(topic)
    if parsed is None or parsed[1] != kind:
        raise EstimateError(f"not an {kind} topic: {topic}")
    return parsed[0]


def _json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EstimateError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise EstimateError(f"an {what} is a JSON object")
    return body


def parse_alert(topic: str, payload: bytes) -> tuple[str, str, str, float, list[int]]:
    """``(pack_id, kind, text, t, cells)`` of an alert message (docs/mqtt.md, Alerts), or EstimateError."""
    pack_id = _topic_pack(topic, topics.ALERT)
    body = _json_object(payload, "alert")
    kind, severity, message, t = (body.get(k) for k in ("kind", "severity", "message", "t"))
    if not (isinstance(kind, str) and kind.replace("_", "a").isalnum()):
        raise EstimateError("kind must be a word such as over_temperature")
    if not _number(t):
        raise EstimateError("t must be a number (seconds since the Unix epoch)")
    cells = body.get("cells") or []
    if not (isinstance(cells, list) and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                            for c in cells)):
        raise EstimateError("cells must be a list of 0-based cell indexes")
    return pack_id, kind, f"{kind} ({severity}): {message}", float(t), cells


def parse_estimate(topic: str, payload: bytes) -> tuple[str, float, list[tuple[str, str, str]], CellValues | None]:
    """``(pack_id, t, [(submodel idShort, idShortPath, value)], cells)`` of an estimate message, or EstimateError."""
    pack_id = _topic_pack(topic, topics.ESTIMATE)
    body = _json_object(payload, "estimate")
    if body.get("pack_id") != pack_id:
        raise EstimateError(f"pack_id {body.get('pack_id')!r} does not match the topic's {pack_id!r}")
    t = body.get("t")
    if not _number(t):
        raise EstimateError("t must be a number (seconds since the Unix epoch)")
    values = body.get("passport")
    if not isinstance(values, list):
        raise EstimateError("passport must be a list of {submodel, id_short_path, value}")
    out = []
    for n, v in enumerate(values):
        if not (isinstance(v, dict) and isinstance(v.get("submodel"), str) and isinstance(v.get("id_short_path"), str)
                and isinstance(v.get("value"), str)):
            raise EstimateError(f"passport[{n}]: needs string submodel, id_short_path and value")
        if v["submodel"] not in PASSPORT_SUBMODELS:
            raise EstimateError(f"passport[{n}]: submodel {v['submodel']!r} is not one the analytics write "
                                f"({', '.join(sorted(PASSPORT_SUBMODELS))})")
        path = v["id_short_path"]
        if not path or any(not part or not part.replace("_", "a").replace("-", "a").isalnum()
                           for part in path.split(".")):
            raise EstimateError(f"passport[{n}]: {path!r} is not an idShort path")
        out.append((v["submodel"], path, v["value"]))
    return pack_id, float(t), out, parse_cells(body.get("cells"))


class PassportWriteback:
    def __init__(self, client: AasClient, base_iri: str, mqtt_options: MqttOptions | str, *,
                 name: str = "packtwin-passport", shared_group: str | None = SHARE_GROUP,
                 min_period_s: float = 10.0, cells_per_write: int = 8) -> None:
        self.aas = client
        self.base_iri = base_iri
        self.options = MqttOptions(url=mqtt_options) if isinstance(mqtt_options, str) else mqtt_options
        self.name = name
        self.shared_group = shared_group
        self.min_period_s = min_period_s
        self.cells_per_write = max(0, cells_per_write)
        self.series = SeriesOrder(client, base_iri)
        self.stats = WritebackStats()
        self._latest: dict[str, tuple[float, list[tuple[str, str, str]], CellValues | None]] = {}
        self._cell_cursor: dict[str, int] = {}
        self._last_write: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake: queue.Queue[None] = queue.Queue()
        self._events: list[tuple[str, str, str, float, list[int]]] = []
        self._events_seen: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._writing = False
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None

    # -- life cycle --------------------------------------------------------------------------------------------------
    def start(self) -> PassportWriteback:
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-writer", daemon=True)
        self._thread.start()
        client = make_client(self.options, self.name, fast=False)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._client = client
        connect_async(client, self.options)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self._stop.set()
        self._wake.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Write every pending estimate now (ignoring the rate limit); True when nothing is left."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                self._last_write.clear()
                if not self._latest and not self._events and not self._writing:
                    return True
            self._wake.put(None)
            time.sleep(0.02)
        return False

    # -- MQTT --------------------------------------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        subs = [f"{topics.PREFIX}/+/{topics.ESTIMATE}", f"{topics.PREFIX}/+/{topics.ALERT}"]
        client.subscribe([(topics.shared(s, self.shared_group) if self.shared_group else s, 1) for s in subs])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.messages += 1
        try:
            if msg.topic.endswith("/" + topics.ALERT):
                event = parse_alert(msg.topic, msg.payload)
                with self._lock:
                    self._events.append(event)
                self._wake.put(None)
                return
            pack_id, t, values, cells = parse_estimate(msg.topic, msg.payload)
        except EstimateError as exc:
            self.stats.rejected += 1
            self._dead_letter(client, msg, str(exc))
            return
        with self._lock:
            old = self._latest.get(pack_id)
            if old is not None:
                if old[0] > t:  # an older estimate arriving late never overwrites a newer one
                    return
                self.stats.superseded += 1
            self._latest[pack_id] = (t, values, cells)
        self._wake.put(None)

    def _dead_letter(self, client: mqtt.Client, msg: mqtt.MQTTMessage, reason: str) -> None:
        logger.warning("message on %s dead-lettered: %s", msg.topic, reason)
        parsed = topics.parse(msg.topic)
        if parsed is None:
            return  # no pack to file it under; counted and logged
        target = topics.deadletter(parsed[0])
        kind = "bad_alert" if msg.topic.endswith("/" + topics.ALERT) else "bad_estimate"
        letter = DeadLetter(time.time(), msg.topic, kind, reason, bytes(msg.payload))
        client.publish(target, deadletter_message(letter), qos=1)

    # -- writing -----------------------------------------------------------------------------------------------------
    def _due(self) -> list[tuple[str, float, list[tuple[str, str, str]], CellValues | None]]:
        now = time.monotonic()
        due = []
        with self._lock:
            events, self._events = self._events, []
            self._writing = bool(events)
        for pack_id, kind, text, t, cells in events:
            self.record_alert(pack_id, kind, text, t, cells)
        with self._lock:
            for pack_id in list(self._latest):
                if now - self._last_write.get(pack_id, -1e18) >= self.min_period_s:
                    t, values, cells = self._latest.pop(pack_id)
                    self._last_write[pack_id] = now
                    due.append((pack_id, t, values, cells))
            self._writing = self._writing or bool(due)
        return due

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Empty):
                self._wake.get(timeout=min(self.min_period_s, 1.0))
            for pack_id, t, values, cells in self._due():
                self.write_pack(pack_id, t, values)
                if cells is not None:
                    self.write_cells(pack_id, t, cells)
            with self._lock:
                self._writing = False

    def write_pack(self, pack_id: str, t: float, values: list[tuple[str, str, str]]) -> int:
        """Set the values of one pack through the AAS API; returns how many the server took."""
        ok = self._write(TwinIds(self.base_iri, Level.PACK, pack_id), values)
        if ok:
            self.stats.packs_written += 1
            self.stats.written[pack_id] = t
        return ok

    def write_cells(self, pack_id: str, t: float, cells: CellValues) -> int:
        """Set the values of the pack's next ``cells_per_write`` cells (in turn); returns the values written."""
        if not self.cells_per_write or not len(cells):
            return 0
        try:
            twins = self.series.cells(pack_id)
        except (SeriesOrderError, RemoteError) as exc:
            self.stats.cell_order_errors += 1
            self._value_error(f"cell values of {pack_id} not written: {exc}")
            return 0
        if len(twins) != len(cells):  # never write a value to the wrong cell
            self.series.forget(pack_id)
            self.stats.cell_order_errors += 1
            self._value_error(f"cell values of {pack_id} not written: the estimate has {len(cells)} cells, "
                              f"the pack's BoM {len(twins)}")
            return 0
        start = self._cell_cursor.get(pack_id, 0) % len(cells)
        ok = 0
        for k in range(min(self.cells_per_write, len(cells))):
            i = (start + k) % len(cells)
            values = [(v.submodel, v.id_short_path, v.value) for v in passport_values(cells.record(i, t))]
            if values:
                ok += self._write(twins[i], values)
                self.stats.cells_written += 1
        self._cell_cursor[pack_id] = start + self.cells_per_write
        return ok

    def _write(self, ids: TwinIds, values: list[tuple[str, str, str]]) -> int:
        """Set ``values`` in the twin's submodels; Product Condition elements the twin lacks are added from the
        template. Returns how many values the server took."""
        by_submodel: dict[str, list[tuple[str, str]]] = {}
        for submodel, path, value in values:
            by_submodel.setdefault(submodel, []).append((path, value))
        ok = sum(self._write_submodel(ids, submodel, pairs) for submodel, pairs in by_submodel.items())
        self.stats.values_written += ok
        return ok

    def _write_submodel(self, ids: TwinIds, submodel: str, pairs: list[tuple[str, str]]) -> int:
        submodel_id = ids.submodel_id(submodel)
        tree = value_tree(pairs)
        if tree is not None and len(pairs) > 1:
            try:
                self.stats.value_requests += 1
                self.aas.patch_submodel_value(submodel_id, tree)
                return len(pairs)
            except RemoteError as exc:
                # Nothing was set (the server checks every value first): retry value by value, unless the server
                # refused the caller or did not answer, which one request per value would only repeat.
                if exc.status not in FALLBACK_STATUSES:
                    self._value_error(f"passport values of {ids.serial} in {submodel} not written: {exc}")
                    return 0
        ok = 0
        missing: list[str] = []
        for path, value in pairs:
            try:
                self.stats.value_requests += 1
                self.aas.patch_value(submodel_id, path, value)
                ok += 1
            except RemoteError as exc:
                if exc.status == 404 and submodel == PRODUCT_CONDITION:
                    missing.append(path)
                    continue
                self._value_error(f"passport value {submodel} {path} of {ids.serial} not written: {exc}")
        if missing:
            ok += self._add_missing(submodel_id, ids.serial, missing, pairs)
        return ok

    def _value_error(self, message: str) -> None:
        self.stats.value_errors += 1
        self.stats.last_error = message
        logger.warning("%s", message)

    def _add_missing(self, submodel_id: str, serial: str, missing: list[str], values: list[tuple[str, str]]) -> int:
        """A twin built without an optional Product Condition element (the template leaves out what has no value at
        the beginning of life) gets it from the template, holding the values; returns the missing values written."""
        tops = {m.split(".")[0] for m in missing}
        docs = template_elements([(p, v) for p, v in values if p.split(".")[0] in tops])
        written = 0
        for top in tops:
            under = [m for m in missing if m.split(".")[0] == top]
            doc = docs.get(top)
            if doc is None:
                self._value_error(f"passport values {', '.join(under)} of {serial}: not in the twin, not buildable")
                continue
            try:
                self.aas.post_element(submodel_id, "", doc)
                written += len(under)
                continue
            except RemoteError as exc:
                if exc.status != 409:
                    self._value_error(f"passport element {top} of {serial} not added: {exc}")
                    continue
            for child in doc.get("value") or []:  # the collection exists: add the children it lacks
                mine = [m for m in under if m.split(".")[1] == child["idShort"]]
                if not mine:
                    continue
                try:
                    self.aas.post_element(submodel_id, top, child)
                    written += len(mine)
                except RemoteError as exc:
                    self._value_error(f"passport element {top}.{child['idShort']} of {serial} not added: {exc}")
        return written

    def record_alert(self, pack_id: str, kind: str, text: str, t: float, cells: list[int]) -> int:
        """The passport keeps safety-relevant events: an alert goes into the passports of the cells it names (found
        through the pack's BoMs), else -- no cell named, or the cells not found -- into the pack's. Returns the
        NegativeEvents items added."""
        twins: list[TwinIds] = []
        if cells:
            try:
                order = self.series.cells(pack_id)
                if max(cells) < len(order):
                    twins = [order[c] for c in cells]
                else:
                    self.stats.cell_order_errors += 1
                    self._value_error(f"alert {kind} of {pack_id} names cell {max(cells)}, the pack's BoM holds "
                                      f"{len(order)}: recorded on the pack")
            except (SeriesOrderError, RemoteError) as exc:
                self.stats.cell_order_errors += 1
                self._value_error(f"alert {kind} of {pack_id}: cells not found ({exc}), recorded on the pack")
        targets = twins or [TwinIds(self.base_iri, Level.PACK, pack_id)]
        return sum(self.record_event(ids, kind, text, t) for ids in targets)

    def record_event(self, ids: TwinIds, kind: str, text: str, t: float) -> bool:
        """Add a NegativeEvents item for an alert kind the battery's passport does not record yet."""
        if (ids.serial, kind) in self._events_seen:
            self.stats.events_known += 1
            return False
        sid = ids.submodel_id("ProductCondition")
        try:
            present = self.aas.get_value(sid, "NegativeEvents")
            texts = [str(v.get("NegativeEventValue", "")) for v in present or [] if isinstance(v, dict)]
            if any(x.startswith(f"{kind} (") for x in texts):  # recorded before, e.g. by another writer
                self._events_seen.add((ids.serial, kind))
                self.stats.events_known += 1
                return False
            stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.aas.post_element(sid, "NegativeEvents", negative_event_item(text, stamp))
        except RemoteError as exc:
            self.stats.value_errors += 1
            self.stats.last_error = str(exc)
            logger.warning("negative event %s of %s not written: %s", kind, ids.serial, exc)
            return False
        self._events_seen.add((ids.serial, kind))
        self.stats.events_written += 1
        return True
