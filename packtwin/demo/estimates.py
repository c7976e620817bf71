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
import multiprocessing as mp
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
        set_paths = []
        for path, lexical in values:
            node = _find(sm, path)
            if isinstance(node, model.Property):
                node.value = model.datatypes.from_xsd(lexical, node.value_type)
                set_paths.append(path)
                done += 1
            elif node is None:
                missing.append(path)
        added = 0
        if missing and sm.id_short == "ProductCondition":
            added = _add_from_template(sm, [(p, v) for p, v in values if p.split(".")[0] in
                                            {m.split(".")[0] for m in missing}], missing)
        if done or added:
            # Only values changed unless elements were added: followers may redo just those elements.
            repo.commit(sm, changed_paths=None if added else set_paths)
    return done + added


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


def _estimator_process(spec: CellSpec, period_s: float, inbox: Any, outbox: Any, stop: Any) -> None:
    """The worker in a process of its own: batches of frames in on ``inbox`` until ``stop`` is set (frames still
    queued then are dropped), estimates and alerts out on ``outbox`` as ``(kind, pack_id, dict)``, then None."""
    worker = make_worker(spec, period_s, lambda p, rec: outbox.put(("estimate", p, rec)),
                         lambda p, a: outbox.put(("alert", p, a.to_dict() if hasattr(a, "to_dict") else dict(a))))
    while not stop.is_set():
        try:
            frames = inbox.get(timeout=0.2)
        except queue.Empty:
            continue
        for frame in frames:
            try:
                worker.update(frame)
            except Exception:  # one bad pack state must not stop the others
                logger.exception("estimator failed on %s seq %d", frame.pack_id, frame.seq)
    outbox.put(None)


class EstimatorStage:
    """Runs the worker in a child process, and the repository writes on a thread; :meth:`submit` is the ingest's
    ``on_batch`` callback.

    The demo's simulator, ingest, RDF loader, HTTP server and writes are busy Python threads of one process: the
    worker (a quarter of a core for 20 packs at 20x on a 2-core machine) got too small a share of the interpreter
    lock, fell to a tenth of real time (a third with the writes moved off its thread) and, once its queue was full,
    skipped most frames: the demo's short was never flagged. In its own process it has a core. The writes (JSON,
    SQLite, one BaSyx event each) cost a hundred times the estimates, so the writer takes the latest estimate of each
    pack when that pack's write is due; estimates that arrive meanwhile replace it (the passport holds the latest
    values).
    """

    def __init__(self, repo: Repository, live: LiveFleet, spec: CellSpec, base_iri: str, *,
                 estimate_period_s: float = 30.0, write_period_s: float = 10.0, cells_per_write: int = 12,
                 write_duty: float = 0.3, on_alert: AlertSink | None = None) -> None:
        self.repo, self.live, self.base = repo, live, base_iri
        self.write_period_s, self.cells_per_write = write_period_s, cells_per_write
        # Share of the time the writer may take: unpaced it held the interpreter lock 80 % of the time (a pack's
        # write is ~27 submodels, each read, serialised twice and stored) and slowed the HTTP server and RDF.
        self.write_duty = write_duty
        self.alert_sink = on_alert
        # spawn, not fork: this process has many threads, whose locks a forked child would inherit mid-use.
        ctx = mp.get_context("spawn")
        self._inbox: Any = ctx.Queue(maxsize=2000)
        self._outbox: Any = ctx.Queue()
        self._process_stop = ctx.Event()
        self._process = ctx.Process(target=_estimator_process, name="packtwin-demo-estimator", daemon=True,
                                    args=(spec, estimate_period_s, self._inbox, self._outbox, self._process_stop))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._last_write: dict[str, float] = {}
        self._pending: dict[str, dict[str, Any]] = {}  # pack -> latest estimate not written yet
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._cell_cursor: dict[str, int] = {}
        self.frames_skipped = 0  # frames the estimator could not keep up with (still stored in the time series)
        self.estimates = 0  # estimate records produced by the worker
        self.records_written = 0  # submodels written with estimates (packs and cells)
        self.alerts = 0
        self.negative_events = 0  # NegativeEvents written into Product Condition (one per battery and alert kind)
        self._events_seen: set[tuple[str, str]] = set()

    def start(self) -> EstimatorStage:
        self._process.start()
        self._thread = threading.Thread(target=self._receive, name="packtwin-demo-estimates", daemon=True)
        self._thread.start()
        self._writer = threading.Thread(target=self._write_loop, name="packtwin-demo-writer", daemon=True)
        self._writer.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        self._process_stop.set()
        if self._process.is_alive():
            self._process.join(max(deadline - time.monotonic(), 0.1))
            if self._process.is_alive():
                logger.warning("estimator process still busy after %.0f s: terminated", timeout)
                self._process.terminate()
                self._process.join(1.0)
                self._outbox.put(None)  # the receiver would wait for the child's end mark forever
        if self._thread is not None:
            self._thread.join(max(deadline - time.monotonic(), 1.0))
        self._stop.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(max(deadline - time.monotonic(), 1.0))
        for q in (self._inbox, self._outbox):
            q.close()
            q.cancel_join_thread()  # frames still queued for a terminated child are dropped, not waited for

    def submit(self, frames: list[Frame]) -> None:
        self.live.on_frames(frames)
        try:
            self._inbox.put_nowait(frames)
        except queue.Full:
            self.frames_skipped += len(frames)

    def _receive(self) -> None:
        """Estimates and alerts from the estimator process, until it ends."""
        while (item := self._outbox.get()) is not None:
            kind, pack_id, doc = item
            try:
                if kind == "estimate":
                    self._on_estimate(pack_id, doc)
                else:
                    self._on_alert(pack_id, doc)
            except Exception:
                logger.exception("handling the %s of %s failed", kind, pack_id)

    # -- what the worker reports (receiver thread) -------------------------------------------------------------------
    def _on_estimate(self, pack_id: str, rec: dict[str, Any]) -> None:
        self.estimates += 1
        soc = np.asarray(rec["soc_cells"], dtype=float)
        cap = np.asarray(rec["capacity_ah_cells"], dtype=float)
        t = float(rec.get("t", time.time()))
        self.live.on_estimate(pack_id, t, soc, cap, float(rec.get("full_equivalent_cycles") or 0.0))
        with self._pending_lock:
            self._pending[pack_id] = rec
        self._wake.set()

    # -- repository writes (writer thread) ---------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            self._write_due(time.monotonic())
        self._write_due(math.inf)  # the last estimates of each pack land before the demo stops

    def _write_due(self, now: float) -> None:
        """Write the pending estimate of every pack whose last write is ``write_period_s`` old (all: ``now`` inf)."""
        with self._pending_lock:
            due = {p: rec for p, rec in self._pending.items()
                   if now - self._last_write.get(p, -math.inf) >= self.write_period_s}
            for p in due:
                del self._pending[p]
        for pack_id, rec in due.items():
            started = self._last_write[pack_id] = time.monotonic()
            t = float(rec.get("t", time.time()))
            self._write_pack(pack_id, rec)
            self._write_cells(pack_id, t, CellValues.from_estimate(rec, self.live.rated_capacity_ah))
            if math.isfinite(now):  # paced, except for the last writes at stop
                self._stop.wait((time.monotonic() - started) * (1.0 - self.write_duty) / self.write_duty)

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
