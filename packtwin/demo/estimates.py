"""The estimator stage of the demo: ingested frames -> analytics worker -> live view and passport submodels.

The worker (:class:`packtwin.analytics.worker.AnalyticsWorker`) estimates on every frame and reports per pack at its
own period; this stage writes those estimates into IDTA 02035-5 Product Condition and 02035-4 Technical Data of the
pack, and the state of charge / certified energy / remaining capacity of its cells, one module at a time, so the
repository (and everything following its events) sees a bounded write rate whatever the fleet size.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from basyx.aas import model

from packtwin.aas.api.errors import ApiError
from packtwin.aas.api.paths import resolve
from packtwin.aas.ids import Level, TwinIds
from packtwin.aas.repository import Repository
from packtwin.analytics.cellmodel import CellSpec, OCVCurve, prior_params
from packtwin.analytics.passport import CellValues, EstimateRecord, passport_values
from packtwin.analytics.soc import SocEKF
from packtwin.connectors.frame import Frame
from packtwin.demo.live import LiveFleet
from packtwin.submodels.product_condition import negative_event_item, template_elements

logger = logging.getLogger(__name__)

AlertSink = Callable[[dict[str, Any]], None]


def set_values(repo: Repository, submodel_id: str, values: list[tuple[str, str]]) -> int:
    """Set Property values by dot-separated idShort path (lexical values) and commit once; returns values set.
    A Product Condition that lacks an optional element of the template gets it, built from the template."""
    with repo.lock:
        try:
            sm = repo.get_submodel(submodel_id)
        except KeyError:
            return 0
        done = 0
        missing = []
        for path, lexical in values:
            node = _find(sm, path)
            if isinstance(node, model.Property):
                node.value = model.datatypes.from_xsd(lexical, node.value_type)
                done += 1
            elif node is None:
                missing.append(path)
        if missing and sm.id_short == "ProductCondition":
            done += _add_from_template(sm, [(p, v) for p, v in values if p.split(".")[0] in
                                            {m.split(".")[0] for m in missing}], missing)
        if done:
            repo.commit(sm)
    return done


def _find(root: model.Submodel, path: str) -> model.SubmodelElement | None:
    try:
        return resolve(root, path)
    except ApiError:
        return None


def _add_from_template(sm: model.Submodel, values: list[tuple[str, str]], missing: list[str]) -> int:
    """Add the template's elements for ``missing`` paths, holding ``values``; returns how many missing values
    were added."""
    import json as _json

    from basyx.aas.adapter.json import AASFromJsonDecoder

    added = 0
    for id_short, doc in template_elements(values).items():
        top = _child(sm, id_short)
        if top is None:
            sm.submodel_element.add(_json.loads(_json.dumps(doc), cls=AASFromJsonDecoder))
            added += sum(1 for m in missing if m.split(".")[0] == id_short)
            continue
        for child_doc in doc.get("value") or []:
            if _child(top, child_doc["idShort"]) is None and isinstance(top, model.SubmodelElementCollection):
                top.value.add(_json.loads(_json.dumps(child_doc), cls=AASFromJsonDecoder))
                added += sum(1 for m in missing if m.split(".")[:2] == [id_short, child_doc["idShort"]])
    return added


def add_negative_event(repo: Repository, submodel_id: str, text: str, t: float,
                       dedupe_prefix: str | None = None) -> bool:
    """Append a NegativeEvent (text, LastUpdate) to the Product Condition ``submodel_id``; False if it has none, or
    if an event whose text starts with ``dedupe_prefix`` is there already."""
    import json as _json

    from basyx.aas.adapter.json import AASFromJsonDecoder

    item = negative_event_item(text, _iso(t))
    element = _json.loads(_json.dumps(item), cls=AASFromJsonDecoder)
    with repo.lock:
        try:
            sm = repo.get_submodel(submodel_id)
            events = sm.get_referable("NegativeEvents")
        except KeyError:
            return False
        if dedupe_prefix is not None and any(
                str(getattr(_child(item, "NegativeEventValue"), "value", "")).startswith(dedupe_prefix)
                for item in events.value):
            return False  # recorded before (e.g. by an earlier run on the same data directory)
        events.value.add(element)
        repo.commit(sm)
    return True


def _child(collection: Any, id_short: str) -> Any:
    try:
        return collection.get_referable(id_short)
    except (KeyError, AttributeError):
        return None


def _by_submodel(values: Iterable[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(submodel idShort, idShortPath, value) triples as {submodel idShort: [(idShortPath, value)]}."""
    out: dict[str, list[tuple[str, str]]] = {}
    for submodel, path, value in values:
        out.setdefault(submodel, []).append((path, value))
    return out


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _EkfWorker:
    """Used only when the analytics worker is not installed: a per-pack SoC/capacity EKF, same callbacks."""

    def __init__(self, spec: CellSpec, period_s: float, on_estimate: Callable, on_alert: Callable) -> None:
        self.spec, self.period_s = spec, period_s
        self.ocv = OCVCurve.from_spec(spec)
        self.on_estimate, self.on_alert = on_estimate, on_alert
        self.packs: dict[str, dict[str, Any]] = {}

    def update(self, frame: Frame) -> None:
        v = np.asarray(frame.cell_voltage_v, dtype=float)
        st = self.packs.get(frame.pack_id)
        if st is None:
            prior = prior_params(self.spec.capacity_ah, frame.n_cells)
            s0 = np.clip(self.ocv.soc_from_ocv(v + prior.r0 * frame.current_a), 0, 1)
            self.packs[frame.pack_id] = {"ekf": SocEKF(prior, self.ocv, s0, nominal_capacity_ah=self.spec.capacity_ah),
                                         "t": frame.t, "emit": frame.t, "ah": 0.0}
            return
        dt_s = frame.t - st["t"]
        if not 0 < dt_s < 60 or not np.isfinite(v).all():
            st["t"] = frame.t
            return
        st["t"] = frame.t
        st["ekf"].step(frame.current_a, v, dt_s)
        st["ah"] += abs(frame.current_a) * dt_s / 3600.0
        if frame.t - st["emit"] >= self.period_s:
            st["emit"] = frame.t
            ekf = st["ekf"]
            self.on_estimate(frame.pack_id, {
                "t": frame.t, "soc_cells": ekf.s.tolist(), "capacity_ah_cells": ekf.capacity_ah.tolist(),
                "full_equivalent_cycles": st["ah"] / (2 * self.spec.capacity_ah), "passport": []})


def make_worker(spec: CellSpec, period_s: float, on_estimate: Callable, on_alert: Callable) -> Any:
    try:
        from packtwin.analytics.worker import AnalyticsWorker, WorkerConfig
    except ImportError:
        logger.warning("packtwin.analytics.worker not available: estimating SoC and capacity with the plain EKF")
        return _EkfWorker(spec, period_s, on_estimate, on_alert)
    return AnalyticsWorker(spec, WorkerConfig(estimate_period_s=period_s), on_estimate=on_estimate,
                           on_alert=on_alert)


class EstimatorStage:
    """Runs the worker in its own thread; :meth:`submit` is the ingest's ``on_batch`` callback."""

    def __init__(self, repo: Repository, live: LiveFleet, spec: CellSpec, base_iri: str, *,
                 estimate_period_s: float = 30.0, write_period_s: float = 10.0, cells_per_write: int = 12,
                 on_alert: AlertSink | None = None) -> None:
        self.repo, self.live, self.base = repo, live, base_iri
        self.write_period_s, self.cells_per_write = write_period_s, cells_per_write
        self.alert_sink = on_alert
        self.worker = make_worker(spec, estimate_period_s, self._on_estimate, self._on_alert)
        self._queue: queue.Queue[list[Frame]] = queue.Queue(maxsize=2000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_write: dict[str, float] = {}
        self._cell_cursor: dict[str, int] = {}
        self.frames_skipped = 0  # frames the estimator could not keep up with (still stored in the time series)
        self.estimates = 0  # estimate records produced by the worker
        self.records_written = 0  # submodels written with estimates (packs and cells)
        self.alerts = 0
        self.negative_events = 0  # NegativeEvents written into Product Condition (one per battery and alert kind)
        self._events_seen: set[tuple[str, str]] = set()

    def start(self) -> EstimatorStage:
        self._thread = threading.Thread(target=self._run, name="packtwin-demo-estimator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, frames: list[Frame]) -> None:
        self.live.on_frames(frames)
        try:
            self._queue.put_nowait(frames)
        except queue.Full:
            self.frames_skipped += len(frames)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frames = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            for frame in frames:
                try:
                    self.worker.update(frame)
                except Exception:  # one bad pack state must not stop the others
                    logger.exception("estimator failed on %s seq %d", frame.pack_id, frame.seq)

    # -- worker callbacks (estimator thread) -------------------------------------------------------------------------
    def _on_estimate(self, pack_id: str, rec: dict[str, Any]) -> None:
        self.estimates += 1
        soc = np.asarray(rec["soc_cells"], dtype=float)
        cap = np.asarray(rec["capacity_ah_cells"], dtype=float)
        t = float(rec.get("t", time.time()))
        self.live.on_estimate(pack_id, t, soc, cap, float(rec.get("full_equivalent_cycles") or 0.0))
        now = time.monotonic()
        if now - self._last_write.get(pack_id, -math.inf) < self.write_period_s:
            return
        self._last_write[pack_id] = now
        self._write_pack(pack_id, rec)
        self._write_cells(pack_id, t, CellValues.from_estimate(rec, self.live.rated_capacity_ah))

    def _write_pack(self, pack_id: str, rec: dict[str, Any]) -> None:
        ids = TwinIds(self.base, Level.PACK, pack_id)
        by_submodel = _by_submodel((v["submodel"], v["id_short_path"], v["value"]) for v in rec.get("passport") or [])
        if not by_submodel:  # the plain EKF gives no passport mapping: state of charge and capacity only
            by_submodel = self._record_values(EstimateRecord(
                timestamp=float(rec.get("t", time.time())), soc=float(np.mean(rec["soc_cells"])),
                capacity_ah=float(np.min(rec["capacity_ah_cells"])),
                rated_capacity_ah=self.live.rated_capacity_ah, level="pack"))
        for id_short, values in by_submodel.items():
            if set_values(self.repo, ids.submodel_id(id_short), values):
                self.records_written += 1

    @staticmethod
    def _record_values(rec: EstimateRecord) -> dict[str, list[tuple[str, str]]]:
        """The passport values of ``rec`` (the same mapping as the packs' and the scaled writer's), by submodel."""
        return _by_submodel((v.submodel, v.id_short_path, v.value) for v in passport_values(rec))

    def _write_cells(self, pack_id: str, t: float, cells: CellValues) -> None:
        n = len(cells)
        start = self._cell_cursor.get(pack_id, 0)
        for k in range(min(self.cells_per_write, n)):
            i = (start + k) % n
            if cells.values["soc"][i] is None or cells.values["capacity_ah"][i] is None:
                continue
            ids = TwinIds(self.base, Level.CELL, self.live.cell_serial(pack_id, i))
            for id_short, values in self._record_values(cells.record(i, t)).items():
                if set_values(self.repo, ids.submodel_id(id_short), values):
                    self.records_written += 1
        self._cell_cursor[pack_id] = (start + self.cells_per_write) % n

    def _on_alert(self, pack_id: str, alert: Any) -> None:
        self.alerts += 1
        doc = alert.to_dict() if hasattr(alert, "to_dict") else dict(alert)
        cells = doc.get("cells") or []
        doc["cell_serials"] = [self.live.cell_serial(pack_id, int(c)) for c in cells]
        doc = self.live.on_alert(pack_id, doc)
        if self.alert_sink is not None:
            self.alert_sink(doc)
        self._record_event(pack_id, doc)

    def _record_event(self, pack_id: str, doc: dict[str, Any]) -> None:
        """The passport keeps safety-relevant events: each alert kind once per affected cell (else the pack)."""
        kind = str(doc.get("kind", "alert"))
        targets = [(Level.CELL, s) for s in doc.get("cell_serials") or []] or [(Level.PACK, pack_id)]
        for level, serial in targets:
            if (serial, kind) in self._events_seen:
                continue
            self._events_seen.add((serial, kind))
            text = f"{kind} ({doc.get('severity', '')}): {doc.get('message', '')}"
            t = float(doc.get("t") or time.time())
            if add_negative_event(self.repo, TwinIds(self.base, level, serial).submodel_id("ProductCondition"),
                                  text, t, dedupe_prefix=f"{kind} ("):
                self.negative_events += 1
