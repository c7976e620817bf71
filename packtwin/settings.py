"""One settings object for ports, paths and addresses.

Values come, in rising priority, from the defaults below, a TOML file (``PACKTWIN_CONFIG`` or ``./packtwin.toml``)
and ``PACKTWIN_<FIELD>`` environment variables (e.g. ``PACKTWIN_HTTP_PORT=9090``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Settings:
    # Identifiers of every twin are IRIs under this base; set it to a domain you control.
    base_iri: str = "https://example.org/packtwin"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    api_prefix: str = "/api/v3.0"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    data_dir: str = "packtwin-data"
    # SQLite file path, or a postgresql:// URL for scale.
    timeseries_url: str = ""
    max_body_bytes: int = 16 * 1024 * 1024
    # HTTP API access (docs/api.md): a TOML file with [api_keys] key = "role", and the HS256 secret for bearer JWTs.
    api_keys_file: str = ""
    jwt_secret: str = ""
    jwt_audience: str = ""
    # Comma-separated origins allowed by CORS ("*" lets any web UI, e.g. the BaSyx AAS Web UI, call the API).
    cors_origins: str = "*"
    # Twins a SQLite repository keeps decoded in memory, least recently used dropped first (0: all). Each is some
    # 500 objects that every full garbage collection walks; see SQLiteStore and bench/repository_memory.py.
    repository_max_decoded: int = 0
    estimate_period_s: float = 5.0
    latest_values_period_s: float = 1.0
    # /sparql (docs/rdf.md §6): per-query time limit (the query is stopped, 400), most rows or triples in one
    # answer (the rest cut, X-SPARQL-Truncated), longest query text (413), concurrent queries (more wait up to the
    # time limit, then 503), and how old the store snapshot a query sees may be while writes go on (0 =
    # read-your-writes, a fresh query process after each write).
    sparql_timeout_s: float = 10.0
    sparql_max_rows: int = 10_000
    sparql_max_query_bytes: int = 100_000
    sparql_max_parallel: int = 2
    sparql_max_staleness_s: float = 0.0

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


def _coerce(field: dataclasses.Field[Any], raw: Any) -> Any:
    if field.type in ("int", int):
        return int(raw)
    if field.type in ("float", float):
        return float(raw)
    return str(raw)


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the TOML file, the environment and explicit overrides (highest)."""
    values: dict[str, Any] = {}
    path = Path(config_file or os.environ.get("PACKTWIN_CONFIG", "packtwin.toml"))
    if path.is_file():
        with path.open("rb") as fh:
            values.update(tomllib.load(fh).get("packtwin", {}))
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    for name in fields:
        env = os.environ.get(f"PACKTWIN_{name.upper()}")
        if env is not None:
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return Settings(**{k: _coerce(fields[k], v) for k, v in values.items()})
