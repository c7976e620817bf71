"""The telemetry stack of a running twin, in one object: broker (embedded when none answers), ingest into the
time-series store, the Time Series submodels following the telemetry, and optionally the fleet simulator.

    stack = TelemetryStack(repository, settings, simulate=True).start()
    ...
    stack.stop()

Extra consumers of decoded frames (the analytics workers) pass ``on_batch``; they receive every new frame once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from packtwin.aas.repository import Repository
from packtwin.connectors.broker import EmbeddedBroker, ensure_broker
from packtwin.connectors.frame import Frame
from packtwin.connectors.ingest import Ingest
from packtwin.connectors.mqtt import MqttOptions
from packtwin.settings import Settings
from packtwin.timeseries import TimeSeriesStore, open_store
from packtwin.timeseries.aas_sync import TimeSeriesSync, discover

logger = logging.getLogger(__name__)


class TelemetryStack:
    def __init__(self, repository: Repository, settings: Settings, *, simulate: bool = False,
                 sim_speed: float = 1.0, sim_cells: int = 96, sim_faults: tuple[str, ...] = (),
                 on_batch: Callable[[list[Frame]], None] | None = None,
                 store: TimeSeriesStore | None = None) -> None:
        self.repository, self.settings = repository, settings
        self.simulate, self.sim_speed, self.sim_cells, self.sim_faults = simulate, sim_speed, sim_cells, sim_faults
        self._extra = on_batch
        self._store_given = store is not None
        self.store = store
        self.broker: EmbeddedBroker | None = None
        self.ingest: Ingest | None = None
        self.sync: TimeSeriesSync | None = None
        self.simulator = None

    @property
    def store_url(self) -> str:
        return self.settings.timeseries_url or str(Path(self.settings.data_dir) / "timeseries.sqlite")

    def start(self) -> TelemetryStack:
        url = self.settings.mqtt_url
        self.broker = ensure_broker(url)
        if self.store is None:
            self.store = open_store(self.store_url)
        submodels = discover(self.repository)
        self.sync = TimeSeriesSync(self.repository, self.store, submodels,
                                   period_s=self.settings.latest_values_period_s).start()
        self.ingest = Ingest(self.store, MqttOptions(url), known_packs=set(submodels),
                             on_batch=self._on_batch).start()
        if self.simulate and submodels:
            from packtwin.sim.model import PackDesign
            from packtwin.sim.simulator import Simulator

            design = PackDesign(n_series=self.sim_cells, n_temp_sensors=min(16, self.sim_cells))
            self.simulator = Simulator(sorted(submodels), design=design, speed=self.sim_speed,
                                       faults=self.sim_faults, mqtt=url,
                                       state_file=Path(self.settings.data_dir) / "simulator-state.json").start()
        logger.info("telemetry: %d packs, broker %s%s, store %s", len(submodels), url,
                    " (embedded)" if self.broker else "", self.store.url)
        return self

    def _on_batch(self, frames: list[Frame]) -> None:
        if self.sync is not None:
            self.sync.on_batch(frames)
        if self._extra is not None:
            self._extra(frames)

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self.ingest is not None:
            self.ingest.stop()
            self.ingest = None
        if self.sync is not None:
            self.sync.stop()
            self.sync = None
        if self.store is not None and not self._store_given:
            self.store.close()
            self.store = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> TelemetryStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
