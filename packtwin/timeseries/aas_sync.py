"""Operational data into the AAS: each pack's IDTA 02008 Time Series submodel follows its telemetry.

- The LinkedSegment (pointing at the time-series store) gets RecordCount, StartTime, EndTime, SamplingRate, State and
  LastUpdate; its Endpoint is set to the store when the submodel has none.
- An InternalSegment "Latest values" holds one Record with the latest values of the pack (the variables of
  ``Metadata.Record``: pack current, pack voltage, min/max cell voltage, max temperature).

Frames arrive at fleet rate (the ingest calls :meth:`TimeSeriesSync.on_batch`, which only keeps the latest values);
the submodels are written at a bounded rate, by default once a second per pack with new data, each write persisted
by the repository and announced as one change event on ``Segments``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from basyx.aas import model
from basyx.aas.adapter.json import StrictAASFromJsonDecoder
from basyx.aas.model import datatypes

from packtwin.aas.ids import SERIAL_NUMBER
from packtwin.aas.repository import Repository
from packtwin.connectors.frame import Frame
from packtwin.submodels import time_series
from packtwin.timeseries.base import TimeSeriesStore

logger = logging.getLogger(__name__)

_SEGMENTS = "Segments"
_LATEST_NAME = "Latest values"


def _sem(path: str) -> str:
    """Semantic id of a template element (semantic ids come from the template, not from this module)."""
    for p, node in time_series.PART.template.nodes():
        if p == path:
            return node.semantic_id or ""
    raise KeyError(path)


def discover(repository: Repository) -> dict[str, str]:
    """``{pack serial: id of its Time Series submodel}`` from the shells in ``repository``."""
    semantic_id = time_series.PART.semantic_id
    out: dict[str, str] = {}
    for shell in repository.shells():
        serial = next((s.value for s in shell.asset_information.specific_asset_id if s.name == SERIAL_NUMBER), None)
        if serial is None:
            continue
        for ref in shell.submodel:
            sid = ref.key[0].value
            # Submodel ids end in the template's idShort (packtwin.aas.ids): decode only the candidates.
            if not sid.endswith("/" + time_series.PART.id_short):
                continue
            try:
                sm = repository.get_submodel(sid)
            except KeyError:
                continue
            if sm.semantic_id is not None and sm.semantic_id.key[0].value == semantic_id:
                out[serial] = sid
    return out


@dataclass
class _PackState:
    frame: Frame
    max_temperature: float | None
    frames: int  # frames seen since the last write
    dirty: bool = True
    period_s: float | None = None  # time between consecutive seqs, as stamped by the gateway


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _child(collection: model.SubmodelElementCollection, semantic_id: str) -> model.SubmodelElement | None:
    for e in collection.value:
        if e.semantic_id is not None and e.semantic_id.key[0].value == semantic_id:
            return e
    return None


class TimeSeriesSync:
    """Keeps the Time Series submodels of the packs in ``submodel_of`` in step with their telemetry.

    ``submodel_of`` maps a pack id to its Time Series submodel id (a mapping, e.g. from :func:`discover`, or a
    callable returning None for packs without a twin).
    """

    def __init__(self, repository: Repository, store: TimeSeriesStore,
                 submodel_of: Mapping[str, str] | Callable[[str], str | None], period_s: float = 1.0,
                 sampling_rate_hz: int | None = None) -> None:
        self.repository, self.store, self.period_s = repository, store, period_s
        # None: the rate measured from consecutive frames.
        self.sampling_rate_hz = sampling_rate_hz
        self._lookup = submodel_of.get if isinstance(submodel_of, Mapping) else submodel_of
        self._latest: dict[str, _PackState] = {}
        self._counts: dict[str, int] = {}
        self._starts: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.writes = 0

    # -- fed by the ingest (cheap: no AAS work here) -----------------------------------------------------------------------
    def on_frame(self, frame: Frame) -> None:
        self.on_batch([frame])

    def on_batch(self, frames: Iterable[Frame]) -> None:
        latest = self._latest
        for frame in frames:
            state = latest.get(frame.pack_id)
            temps = frame.temperature_c
            t_max = float(temps.max()) if temps.size else (state.max_temperature if state else None)
            if state is None:
                latest[frame.pack_id] = _PackState(frame, t_max, 1)
            elif frame.seq >= state.frame.seq:
                if frame.seq == state.frame.seq + 1 and frame.t > state.frame.t:
                    state.period_s = frame.t - state.frame.t
                state.frame, state.max_temperature, state.dirty = frame, t_max, True
                state.frames += 1

    # -- bounded-rate writer -----------------------------------------------------------------------------------------------
    def start(self) -> TimeSeriesSync:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="packtwin-timeseries-aas", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.flush()
            except Exception:
                logger.exception("time-series sync failed; retrying next period")

    def flush(self) -> int:
        """Write every pack with new data now; returns how many submodels were written."""
        written = 0
        for pack_id, state in list(self._latest.items()):
            if not state.dirty:
                continue
            submodel_id = self._lookup(pack_id)
            if submodel_id is None:
                state.dirty = False
                continue
            state.dirty = False
            try:
                self._write(pack_id, submodel_id, state)
            except KeyError:
                logger.warning("pack %s: time-series submodel %s not in the repository", pack_id, submodel_id)
                continue
            written += 1
        self.writes += written
        return written

    def _write(self, pack_id: str, submodel_id: str, state: _PackState) -> None:
        frame = state.frame
        repo = self.repository
        if pack_id not in self._counts:
            extent = self.store.extent(pack_id)
            self._counts[pack_id] = extent[0] if extent else state.frames
            self._starts[pack_id] = extent[1] if extent else frame.t
        else:
            self._counts[pack_id] += state.frames
        state.frames = 0
        with repo.lock:
            submodel = repo.get_submodel(submodel_id)
            segments = next((e for e in submodel.submodel_element if e.id_short == _SEGMENTS), None)
            if not isinstance(segments, model.SubmodelElementCollection):
                raise KeyError(f"{submodel_id} has no Segments")
            now = _iso(time.time())
            linked = _child(segments, _sem("Segments.LinkedSegment"))
            if isinstance(linked, model.SubmodelElementCollection):
                self._set(linked, "Segments.LinkedSegment", {
                    "RecordCount": self._counts[pack_id], "StartTime": _iso(self._starts[pack_id]),
                    "EndTime": _iso(frame.t), "State": "in progress", "LastUpdate": now,
                    **({"SamplingRate": rate} if (rate := self._rate(state)) else {}),
                })
                endpoint = _child(linked, _sem("Segments.LinkedSegment.Endpoint"))
                if isinstance(endpoint, model.Property) and not endpoint.value:
                    endpoint.value = self.store.url
            internal = _child(segments, _sem("Segments.InternalSegment"))
            if not isinstance(internal, model.SubmodelElementCollection):
                internal = self._new_internal_segment(submodel)
                segments.value.add(internal)
            self._set(internal, "Segments.InternalSegment", {
                "RecordCount": 1, "StartTime": _iso(frame.t), "EndTime": _iso(frame.t), "State": "in progress",
                "LastUpdate": now})
            records = _child(internal, _sem("Segments.InternalSegment.Records"))
            record = _child(records, _sem("Segments.InternalSegment.Records.Record")) \
                if isinstance(records, model.SubmodelElementCollection) else None
            if isinstance(record, model.SubmodelElementCollection):
                self._set_record(record, frame, state.max_temperature)
        repo.commit(submodel, id_short_path=_SEGMENTS, element=segments)

    def _rate(self, state: _PackState) -> int | None:
        if self.sampling_rate_hz is not None:
            return self.sampling_rate_hz
        return round(1.0 / state.period_s) if state.period_s else None

    @staticmethod
    def _set(collection: model.SubmodelElementCollection, path: str, values: Mapping[str, object]) -> None:
        for id_short, value in values.items():
            e = _child(collection, _sem(f"{path}.{id_short}"))
            if e is None:
                e = _property(path, id_short)
                collection.value.add(e)
            if isinstance(e, model.Property):
                e.value = value

    @staticmethod
    def _set_record(record: model.SubmodelElementCollection, frame: Frame, max_temperature: float | None) -> None:
        v = frame.cell_voltage_v
        values = {"Time": 0, "PackCurrent": float(frame.current_a), "PackVoltage": float(np.sum(v, dtype=np.float64)),
                  "MinCellVoltage": float(v.min()), "MaxCellVoltage": float(v.max()),
                  "MaxTemperature": max_temperature}
        for e in record.value:
            if isinstance(e, model.Property) and e.id_short in values:
                value = values[e.id_short]
                e.value = None if value is None else (round(value, 6) if isinstance(value, float) else value)

    def _new_internal_segment(self, submodel: model.Submodel) -> model.SubmodelElementCollection:
        """An InternalSegment built from the template, its Record holding the variables of Metadata.Record."""
        sm_json = time_series.PART.instantiate("urn:packtwin:scratch", {
            "Metadata": {"Name": {"en": "scratch"}, "Record": {"Time": 0}},
            "Segments": {"InternalSegment": {"Name": {"en": _LATEST_NAME}, "RecordCount": 1,
                                             "Records": {"Record": {"Time": 0}}}},
        })
        segments = next(e for e in sm_json["submodelElements"] if e["idShort"] == _SEGMENTS)
        internal = next(e for e in segments["value"] if e["idShort"].startswith("InternalSegment"))
        records = next(e for e in internal["value"] if e["idShort"].startswith("Records"))
        record = records["value"][0]
        metadata = next(e for e in submodel.submodel_element if e.id_short == "Metadata")
        meta_record = _child(metadata, _sem("Metadata.Record"))  # type: ignore[arg-type]
        known = {e["idShort"] for e in record["value"]}
        for e in meta_record.value if isinstance(meta_record, model.SubmodelElementCollection) else ():
            if isinstance(e, model.Property) and e.id_short not in known:
                raw: dict = {"idShort": e.id_short, "valueType": datatypes.XSD_TYPE_NAMES[e.value_type],
                             "modelType": "Property"}
                if e.semantic_id is not None:
                    raw["semanticId"] = {"type": "ExternalReference", "keys": [
                        {"type": "GlobalReference", "value": e.semantic_id.key[0].value}]}
                record["value"].append(raw)
        return json.loads(json.dumps(internal), cls=StrictAASFromJsonDecoder)


def _property(path: str, id_short: str) -> model.Property:
    for p, node in time_series.PART.template.nodes():
        if p == f"{path}.{id_short}":
            raw = {"idShort": id_short, "modelType": "Property", "valueType": node.value_type or "xs:string"}
            if node.semantic_id:
                raw["semanticId"] = {"type": "ExternalReference",
                                     "keys": [{"type": "GlobalReference", "value": node.semantic_id}]}
            return json.loads(json.dumps(raw), cls=StrictAASFromJsonDecoder)
    raise KeyError(f"{path}.{id_short} is not in the IDTA 02008 template")

