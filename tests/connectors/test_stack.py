import datetime as dt
import time

from packtwin.aas.fleet import build_fleet
from packtwin.aas.repository import Repository
from packtwin.connectors.broker import free_port
from packtwin.connectors.stack import TelemetryStack
from packtwin.settings import load_settings
from packtwin.submodels.template import element_values
from packtwin.timeseries.aas_sync import discover


def test_stack_with_embedded_broker_and_simulator(tmp_path):
    repo = Repository(build_fleet(2, 1, 2, base="https://batteries.example.com/twins",
                                  now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).objects)
    settings = load_settings(config_file=tmp_path / "none.toml", mqtt_url=f"mqtt://127.0.0.1:{free_port()}",
                             data_dir=str(tmp_path / "data"), latest_values_period_s=0.2)
    batches = []
    with TelemetryStack(repo, settings, simulate=True, sim_speed=20, sim_cells=12, on_batch=batches.append) as stack:
        assert stack.broker is not None  # nothing answered at the URL: the embedded broker runs
        deadline = time.monotonic() + 60
        while stack.store.count() < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    submodel_id = discover(repo)["PT-P000001"]
    linked = element_values(repo.get_submodel(submodel_id))["Segments"]["LinkedSegment"]
    assert linked["RecordCount"] >= 50
    assert sum(len(b) for b in batches) >= 100
