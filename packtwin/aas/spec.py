"""The pack specification (TOML) a fleet is built from: chemistry, cell type, topology, ratings, manufacturer,
plant, dates, carbon footprint, materials. ``resources/default-pack.toml`` is the documented example.

Errors name the file and the key, e.g. ``spec.toml: battery.cells_per_module: expected int, got str``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class BatterySpec:
    chemistry: str
    chemistry_name: str
    category: str
    cell_type: str
    cells_per_module: int
    modules_per_pack: int
    cells_in_parallel: int
    cell_rated_capacity_ah: float
    cell_nominal_voltage_v: float
    cell_min_voltage_v: float
    cell_max_voltage_v: float
    cell_mass_kg: float
    cell_internal_resistance_ohm: float
    module_housing_mass_kg: float
    pack_housing_mass_kg: float
    max_permitted_power_w_per_cell: float
    idle_temperature_min_c: float
    idle_temperature_max_c: float
    expected_lifetime_years: int
    expected_cycles: int
    capacity_threshold_exhaustion_pct: float
    c_rate_life_cycle_test: float
    cycle_life_reference_test: str
    initial_round_trip_efficiency_pct: int
    round_trip_efficiency_at_50pct_cycle_life_pct: int
    initial_self_discharge_pct_per_month: int
    warranty_months: int
    part_number: str


@dataclass(frozen=True)
class ManufacturerSpec:
    name: str
    identifier: str
    street: str
    zip: str
    city: str
    country: str
    email: str
    web: str


@dataclass(frozen=True)
class PlantSpec:
    facility_id: str


@dataclass(frozen=True)
class DatesSpec:
    manufactured: dt.date
    put_into_service: dt.date | None = None


@dataclass(frozen=True)
class CarbonFootprintSpec:
    kg_co2e_per_kwh: float
    performance_class: str
    study_document: str
    raw_material_acquisition_pct: float
    main_production_pct: float
    distribution_pct: float
    end_of_life_pct: float


@dataclass(frozen=True)
class CircularitySpec:
    dismantling_document: str
    safety_document: str
    extinguishing_agents: list[str]
    spare_part_supplier: str


@dataclass(frozen=True)
class MaterialSpec:
    name: str
    cas: str
    location: str
    mass_kg_per_cell: float
    critical: bool
    recycled_pre_consumer_pct: float = 0.0
    recycled_post_consumer_pct: float = 0.0


@dataclass(frozen=True)
class HazardousSpec:
    name: str
    cas: str
    class_: str
    concentration_pct: float
    location: str
    impact: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PackSpec:
    battery: BatterySpec
    manufacturer: ManufacturerSpec
    plant: PlantSpec
    dates: DatesSpec
    carbon_footprint: CarbonFootprintSpec
    circularity: CircularitySpec
    materials: list[MaterialSpec]
    hazardous: list[HazardousSpec] = field(default_factory=list)

    # -- derived ratings ---------------------------------------------------------------------------------------------
    @property
    def cells_per_pack(self) -> int:
        return self.battery.cells_per_module * self.battery.modules_per_pack

    @property
    def series_cells(self) -> int:
        """Cells in series (one voltage reading each); each may be a parallel group of ``cells_in_parallel``."""
        return self.cells_per_pack // self.battery.cells_in_parallel

    def rated_capacity_ah(self, level: str) -> float:
        b = self.battery
        if level == "cell":
            return b.cell_rated_capacity_ah
        return b.cell_rated_capacity_ah * b.cells_in_parallel

    def voltages_v(self, level: str) -> tuple[float, float, float]:
        """(nominal, min, max) at a level."""
        b = self.battery
        series = {"cell": 1, "module": b.cells_per_module // b.cells_in_parallel, "pack": self.series_cells}[level]
        return b.cell_nominal_voltage_v * series, b.cell_min_voltage_v * series, b.cell_max_voltage_v * series

    def cells_at(self, level: str) -> int:
        return {"cell": 1, "module": self.battery.cells_per_module, "pack": self.cells_per_pack}[level]

    def energy_kwh(self, level: str) -> float:
        return self.cells_at(level) * self.battery.cell_rated_capacity_ah * self.battery.cell_nominal_voltage_v / 1000

    def mass_kg(self, level: str) -> float:
        b = self.battery
        cells = self.cells_at(level) * b.cell_mass_kg
        if level == "cell":
            return cells
        modules = (b.modules_per_pack if level == "pack" else 1) * b.module_housing_mass_kg
        return cells + modules + (b.pack_housing_mass_kg if level == "pack" else 0.0)

    def with_topology(self, modules: int | None = None, cells: int | None = None) -> PackSpec:
        b = dataclasses.replace(self.battery,
                                modules_per_pack=modules or self.battery.modules_per_pack,
                                cells_per_module=cells or self.battery.cells_per_module)
        return dataclasses.replace(self, battery=b)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _load(tp, value, where)
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is dt.date and isinstance(value, dt.date):
        return value
    if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    raise SpecError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {type(value).__name__}")


def _load(cls: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    keys = {name.rstrip("_"): name for name in fields}  # `class` is spelled class_ in Python
    unknown = set(data) - set(keys)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kwargs = {}
    for key, name in keys.items():
        f = fields[name]
        if key not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{where}.{key}: missing")
            continue
        kwargs[name] = _convert(hints[name], data[key], f"{where}.{key}" if where else key)
    return cls(**kwargs)


def load_spec(path: str | Path | None = None) -> PackSpec:
    """Read a pack specification; ``None`` gives the bundled default."""
    if path is None:
        text = resources.files("packtwin.aas").joinpath("resources", "default-pack.toml").read_text("utf-8")
        name = "default-pack.toml"
    else:
        name = str(path)
        text = Path(path).read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{name}: {exc}") from None
    try:
        spec: PackSpec = _load(PackSpec, data, "")
    except SpecError as exc:
        raise SpecError(f"{name}: {str(exc).lstrip('.')}") from None
    b = spec.battery
    if b.cells_per_module % b.cells_in_parallel:
        raise SpecError(f"{name}: battery.cells_per_module must be a multiple of cells_in_parallel")
    return spec
