"""The telemetry history: SQLite embedded (default), PostgreSQL for scale, behind :class:`TimeSeriesStore`."""

from __future__ import annotations

from pathlib import Path

from packtwin.settings import Settings
from packtwin.timeseries.base import DeadLetter, FrameSeries, Gap, Row, TimeSeriesStore, downsample

__all__ = ["DeadLetter", "FrameSeries", "Gap", "Row", "TimeSeriesStore", "downsample", "open_store"]


def store_location(settings: Settings, override: str | None = None) -> str:
    """Where the commands' time series live: ``override``, else settings ``timeseries_url``, else
    ``<data_dir>/timeseries.sqlite``."""
    return override or settings.timeseries_url or str(settings.data_path / "timeseries.sqlite")


def open_store(url: str | Path) -> TimeSeriesStore:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from packtwin.timeseries.postgres import PostgresTimeSeries

        return PostgresTimeSeries(text)
    from packtwin.timeseries.sqlite import SQLiteTimeSeries

    return SQLiteTimeSeries(text)
