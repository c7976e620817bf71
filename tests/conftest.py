"""Shared fixtures. Fixture plugins of sub-packages are listed in ``pytest_plugins``."""

from __future__ import annotations

import datetime as dt

import pytest

from packtwin.aas.fleet import Fleet, build_fleet

# Real MQTT brokers (Mosquitto, or the embedded amqtt broker when Mosquitto is absent).
pytest_plugins = ["tests.fixtures.brokers"]

BASE = "https://batteries.example.com/twins"
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def small_fleet() -> Fleet:
    """Two packs of 2 modules × 3 cells: every level, every submodel, quick to build."""
    return build_fleet(2, 2, 3, base=BASE, now=NOW)
