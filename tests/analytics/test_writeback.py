"""Estimates published on MQTT reach the pack's passport through the AAS HTTP API of a separate ``packtwin serve``."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt
import pytest

from packtwin.aas.ids import Level, TwinIds, cell_serial, module_serial, pack_serial
from packtwin.analytics.passport import EstimateRecord, passport_values
from packtwin.analytics.service import estimate_message
from packtwin.analytics.writeback import (
    PassportWriteback,
    parse_alert,
    parse_cells,
    parse_estimate,
    value_tree,
)
from packtwin.connectors import topics
from packtwin.connectors.remote.client import AasClient
from packtwin.settings import Settings
from tests.connectors.remote.test_sync_http import KEY, served_fleet

BASE = Settings().base_iri
PACK = pack_serial(1)
CELLS = [cell_serial(module_serial(PACK, 1), i) for i in (1, 2)]  # the fixture's pack: one module of two cells


def _estimate(t: float, soc: float, capacity_ah: float, cell_soc: tuple[float, float] = (0.5, 0.5)) -> dict:
    # Measured temperature, power capability and remaining useful life have no element in a twin built at the
    # beginning of life (the template leaves out what has no value yet): the writer adds them from the template.
    rec = EstimateRecord(timestamp=t, soc=soc, capacity_ah=capacity_ah, rated_capacity_ah=5.0, level="pack",
                         resistance_increase_pct=12.5, full_equivalent_cycles=40.0, measured_temp_c=31.5,
                         power_capability_w=5200.0, remaining_useful_life_days=100.0 * capacity_ah)
    return {"t": t, "soc": soc, "passport": [v.__dict__ for v in passport_values(rec)],
            "rated_capacity_ah": 5.0, "soc_cells": list(cell_soc), "capacity_ah_cells": [capacity_ah, capacity_ah - 0.2],
            "resistance_increase_pct_cells": [11.0, float("nan")], "energy_throughput_kwh_cells": [0.25, 0.24]}


@pytest.fixture
def server(tmp_path):
    with served_fleet(tmp_path, 1, 1, 2) as srv:
        yield srv


def _value(client: AasClient, submodel: str, path: str, ids: TwinIds | None = None) -> object:
    sid = (ids or TwinIds(BASE, Level.PACK, PACK)).submodel_id(submodel)
    from packtwin.connectors.remote.client import SUBMODELS, encode_id
    resp = client.session.get(f"{client.base_url}/{SUBMODELS}/{encode_id(sid)}/submodel-elements/{path}/$value",
                              timeout=10)
    resp.raise_for_status()
    body = resp.json()
    return body.get(path.rsplit(".", 1)[-1], body) if isinstance(body, dict) else body


def _same(served: object, sent: dict) -> bool:
    """Equal as values of the element's type (the server answers in its canonical lexical form)."""
    if sent["value_type"] == "xs:dateTime":
        return datetime.fromisoformat(str(served)) == datetime.fromisoformat(sent["value"])
    return float(served) == float(sent["value"])


def test_estimates_reach_the_passport_and_bad_ones_are_dead_lettered(server, mqtt_broker):
    aas = AasClient(server.url, api_key=KEY)
    shared = None if getattr(mqtt_broker, "kind", "") == "amqtt" else "test-passport"
    writer = PassportWriteback(aas, BASE, mqtt_broker.url, shared_group=shared, min_period_s=0.2).start()
    letters: list[dict] = []
    got_letter = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-deadletters")
    subscribed = threading.Event()
    sub.on_connect = lambda c, *a: c.subscribe(topics.deadletter(PACK), qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()

    def on_message(c, u, msg):
        letters.append(json.loads(msg.payload))
        got_letter.set()

    sub.on_message = on_message
    host, port = mqtt_broker.url.removeprefix("mqtt://").split(":")
    sub.connect(host, int(port))
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-estimator")
    pub.connect(host, int(port))
    pub.loop_start()
    try:
        assert subscribed.wait(10)
        deadline = time.monotonic() + 10
        while writer._client is None or not writer._client.is_connected():
            assert time.monotonic() < deadline, "writer did not connect"
            time.sleep(0.05)
        time.sleep(0.3)  # the writer's subscription is sent right after its connect
        t0 = 1_790_000_000.0
        older, newer = _estimate(t0, 0.40, 4.6, (0.42, 0.38)), _estimate(t0 + 60, 0.35, 4.5, (0.36, 0.34))
        for est in (older, newer):
            pub.publish(topics.estimate(PACK), estimate_message("est-1", PACK, est), qos=1).wait_for_publish(5)
        pub.publish(topics.estimate(PACK), b"{not json", qos=1).wait_for_publish(5)
        alert = {"pack_id": PACK, "kind": "over_temperature", "severity": "critical", "t": t0 + 30, "cells": [],
                 "sensors": [1], "value": 72.0, "message": "sensor 1 at 72.0 degC"}
        short = {"pack_id": PACK, "kind": "internal_short", "severity": "critical", "t": t0 + 40, "cells": [1],
                 "sensors": [], "value": 0.03, "message": "cell 1 loses 30.0 mA against the pack"}
        for _ in range(2):  # the passport records a kind once per battery
            pub.publish(topics.alert(PACK), json.dumps(alert), qos=1).wait_for_publish(5)
            pub.publish(topics.alert(PACK), json.dumps(short), qos=1).wait_for_publish(5)
        assert writer.flush(20)
        deadline = time.monotonic() + 20
        while writer.stats.written.get(PACK) != t0 + 60 or writer.stats.events_known < 2:
            assert time.monotonic() < deadline, writer.stats.as_dict()
            writer.flush(1)
        assert got_letter.wait(10)
    finally:
        writer.stop()
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()
    assert letters[0]["reason"] == "bad_estimate" and "not JSON" in letters[0]["detail"]
    events = _value(aas, "ProductCondition", "NegativeEvents")
    assert [e["NegativeEventValue"] for e in events] == ["over_temperature (critical): sensor 1 at 72.0 degC"]
    assert datetime.fromisoformat(events[0]["LastUpdate"]).timestamp() == t0 + 30
    # An alert naming a cell goes into that cell's passport (found through the BoMs), not the pack's.
    cell_events = _value(aas, "ProductCondition", "NegativeEvents", TwinIds(BASE, Level.CELL, CELLS[1]))
    assert [e["NegativeEventValue"] for e in cell_events] == [
        "internal_short (critical): cell 1 loses 30.0 mA against the pack"]
    assert _value(aas, "ProductCondition", "NegativeEvents", TwinIds(BASE, Level.CELL, CELLS[0])) == []
    assert writer.stats.events_written == 2 and writer.stats.events_known == 2
    assert writer.stats.rejected == 1 and writer.stats.value_errors == 0
    # The newest estimate is what the passport holds, value for value.
    for v in newer["passport"]:
        assert _same(_value(aas, v["submodel"], v["id_short_path"]), v), v
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue")) == 35.0
    assert float(_value(aas, "ProductCondition", "RemainingUsefulLife.RemainingUsefulLifeValue")) == 450.0
    assert float(_value(aas, "TechnicalData",
                        "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryPackLevel")) == 12.5
    # Each cell's passport holds its own values of the newest estimate (the pack's cells in BoM order).
    assert writer.stats.cells_written >= 2 and writer.stats.cell_order_errors == 0
    first, second = (TwinIds(BASE, Level.CELL, c) for c in CELLS)
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", first)) == 36.0
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", second)) == 34.0
    assert float(_value(aas, "ProductCondition", "RemainingCapacity.RemainingCapacityValue", second)) == 4.3
    assert datetime.fromisoformat(str(_value(aas, "ProductCondition", "StateOfCharge.LastUpdate", second))
                                  ).timestamp() == t0 + 60
    resistance = "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryCellLevel"
    assert float(_value(aas, "TechnicalData", resistance, first)) == 11.0
    assert float(_value(aas, "ProductCondition", "EnergyThroughput.EnergyThroughputValue", first)) == 0.25
    assert float(_value(aas, "TechnicalData", "TechnicalPropertyAreas.CapacityEnergyVoltage.CapacityFade",
                        second)) == 14.0


def test_cell_values_are_not_written_when_the_pack_bom_has_other_cells(server):
    aas = AasClient(server.url, api_key=KEY)
    writer = PassportWriteback(aas, BASE, "mqtt://127.0.0.1:1", cells_per_write=8)  # not started: no broker needed
    cell = TwinIds(BASE, Level.CELL, CELLS[0])
    before = _value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", cell)
    three = parse_cells({"rated_capacity_ah": 5.0, "soc": [0.1, 0.2, 0.3], "capacity_ah": [4.0, 4.0, 4.0]})
    assert writer.write_cells(PACK, 1_790_000_000.0, three) == 0
    assert writer.stats.cell_order_errors == 1 and "3 cells" in writer.stats.last_error
    assert _value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", cell) == before
    two = parse_cells({"rated_capacity_ah": 5.0, "soc": [0.1, 0.2], "capacity_ah": [4.0, None]})
    assert writer.write_cells(PACK, 1_790_000_000.0, two) > 0
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", cell)) == 10.0


def test_a_record_is_one_value_patch_per_submodel_and_value_by_value_where_the_server_refuses_it(server):
    aas = AasClient(server.url, api_key=KEY)
    writer = PassportWriteback(aas, BASE, "mqtt://127.0.0.1:1")  # not started: no broker needed
    cell = TwinIds(BASE, Level.CELL, CELLS[1])
    t0 = 1_790_000_000.0
    rec = EstimateRecord(timestamp=t0, soc=0.61, capacity_ah=4.7, rated_capacity_ah=5.0, full_equivalent_cycles=12.0,
                         resistance_increase_pct=3.5)
    values = [(v.submodel, v.id_short_path, v.value) for v in passport_values(rec)]
    submodels = {s for s, _, _ in values}
    assert writer._write(cell, values) == len(values)
    assert writer.stats.value_requests == len(submodels) == 2 and writer.stats.value_errors == 0
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", cell)) == 61.0
    assert float(_value(aas, "ProductCondition", "NumberOfFullCycles.NumberOfFullCyclesValue", cell)) == 12.0
    assert float(_value(aas, "TechnicalData", "TechnicalPropertyAreas.Resistance.InternalResistanceIncreaseOfBatteryCellLevel",
                        cell)) == 3.5
    # The twin has no remaining useful life element yet (400 on the whole PATCH, nothing set): value by value, the
    # missing element added from the template; a value the server refuses is counted and the others still land.
    later = EstimateRecord(timestamp=t0 + 60, soc=0.55, capacity_ah=4.6, remaining_useful_life_days=321.0)
    values = [(v.submodel, v.id_short_path, v.value) for v in passport_values(later)]
    values.append(("ProductCondition", "NumberOfFullCycles.NumberOfFullCyclesValue", "many"))
    assert writer._write(cell, values) == len(values) - 1
    assert writer.stats.value_requests == 2 + 1 + len(values)
    assert writer.stats.value_errors == 1 and "NumberOfFullCycles" in writer.stats.last_error
    assert float(_value(aas, "ProductCondition", "StateOfCharge.StateOfChargeValue", cell)) == 55.0
    assert float(_value(aas, "ProductCondition", "RemainingUsefulLife.RemainingUsefulLifeValue", cell)) == 321.0
    assert float(_value(aas, "ProductCondition", "NumberOfFullCycles.NumberOfFullCyclesValue", cell)) == 12.0


def test_value_tree_is_the_valueonly_form_of_the_paths_or_none():
    assert value_tree([("A.B", "1"), ("A.C", "2"), ("D", "x")]) == {"A": {"B": "1", "C": "2"}, "D": "x"}
    assert value_tree([("A.B[0]", "1")]) is None
    assert value_tree([("A", "1"), ("A.B", "2")]) is None
    assert value_tree([("A.B", "1"), ("A", "2")]) is None


@pytest.mark.parametrize(("payload", "reason"), [
    (b"[]", "JSON object"),
    (json.dumps({"pack_id": "other", "t": 1.0, "passport": []}).encode(), "does not match"),
    (json.dumps({"pack_id": PACK, "t": "x", "passport": []}).encode(), "t must be a number"),
    (json.dumps({"pack_id": PACK, "t": 1.0, "passport": [{"submodel": "Nameplate", "id_short_path": "A",
                                                          "value": "1"}]}).encode(), "not one the analytics"),
    (json.dumps({"pack_id": PACK, "t": 1.0, "passport": [{"submodel": "ProductCondition",
                                                          "id_short_path": "A/../B", "value": "1"}]}).encode(),
     "not an idShort path"),
    (json.dumps({"pack_id": PACK, "t": 1.0, "passport": [], "cells": {"soc": [0.5, 1.5]}}).encode(),
     "fraction"),
    (json.dumps({"pack_id": PACK, "t": 1.0, "passport": [],
                 "cells": {"soc": [0.5, 0.4], "capacity_ah": [4.0]}}).encode(), "one entry per cell"),
    (json.dumps({"pack_id": PACK, "t": 1.0, "passport": [], "cells": {"soc": ["x"]}}).encode(),
     "numbers or nulls"),
])
def test_malformed_estimates_are_refused_with_a_reason(payload, reason):
    with pytest.raises(ValueError, match=reason):
        parse_estimate(topics.estimate(PACK), payload)


def test_malformed_alerts_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="kind must be"):
        parse_alert(topics.alert(PACK), json.dumps({"kind": "a b/c", "t": 1.0}).encode())
    with pytest.raises(ValueError, match="t must be"):
        parse_alert(topics.alert(PACK), json.dumps({"kind": "over_temperature"}).encode())
    assert parse_alert(topics.alert(PACK), json.dumps({"kind": "sensor_stuck", "severity": "warning", "t": 5,
                                                       "message": "cell 3 stuck", "cells": [2]}).encode()) == \
        (PACK, "sensor_stuck", "sensor_stuck (warning): cell 3 stuck", 5.0, [2])
    with pytest.raises(ValueError, match="0-based cell indexes"):
        parse_alert(topics.alert(PACK), json.dumps({"kind": "sensor_stuck", "t": 5, "cells": [-1]}).encode())
