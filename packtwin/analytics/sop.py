"""State of power: charge and discharge power limits over a horizon (10 s, 30 s), per cell and for a series string,
within the voltage, current and temperature limits.

For a constant current ``I`` held for ``T`` seconds the two-RC model gives, with the OCV linearised at the present SoC,

    V(T) = OCV(s) - g*I*T/(3600*C) - v1*e1 - v2*e2 - I*(R0 + R1*(1-e1) + R2*(1-e2)),   ej = exp(-T/tauj)

which is linear in ``I``, so the current that lands exactly on the voltage limit is one division per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packtwin.analytics.cellmodel import ECMParams, OCVCurve


@dataclass(frozen=True)
class PowerLimits:
    max_discharge_c: float = 3.0
    max_charge_c: float = 1.0
    # Temperature window (degC): full power inside, linear derating to zero at the outer bounds.
    discharge_temp_c: tuple[float, float, float, float] = (-20.0, 0.0, 45.0, 60.0)
    charge_temp_c: tuple[float, float, float, float] = (0.0, 10.0, 40.0, 50.0)


def _derate(t: np.ndarray, window: tuple[float, float, float, float]) -> np.ndarray:
    lo0, lo1, hi1, hi0 = window
    up = np.clip((t - lo0) / (lo1 - lo0), 0.0, 1.0)
    down = np.clip((hi0 - t) / (hi0 - hi1), 0.0, 1.0)
    return np.minimum(up, down)


@dataclass
class PowerState:
    discharge_current_a: np.ndarray   # per cell, A (>= 0)
    charge_current_a: np.ndarray      # per cell, A (>= 0, magnitude)
    discharge_power_w: np.ndarray     # per cell
    charge_power_w: np.ndarray        # per cell
    pack_discharge_power_w: float     # series string: the weakest cell sets the current
    pack_charge_power_w: float


def state_of_power(soc: np.ndarray, v1: np.ndarray, v2: np.ndarray, params: ECMParams, ocv: OCVCurve,
                   voltage_min_v: float, voltage_max_v: float, temperature_c: np.ndarray | float,
                   horizon_s: float, limits: PowerLimits | None = None,
                   nominal_capacity_ah: np.ndarray | None = None) -> PowerState:
    lim = limits or PowerLimits()
    t = np.asarray(temperature_c, dtype=float) * np.ones_like(soc)
    f = params.resistance_factor(t)
    e1 = np.exp(-horizon_s / params.tau1)
    e2 = np.exp(-horizon_s / params.tau2)
    # The charge-transfer term as a resistance on the safe side: its chord falls with the current when r_ct > 0
    # (asinh is concave), so the small-current slope is the largest; when r_ct < 0 the chord at the largest current
    # allowed is.
    one_c = params.capacity_ah if nominal_capacity_ah is None else nominal_capacity_ah
    i_max = max(lim.max_discharge_c, lim.max_charge_c) * one_c
    r_inst = np.maximum(params.r_dc * f, params.pulse_resistance(i_max, f))
    r_eff = r_inst + f * (params.r1 * (1 - e1) + params.r2 * (1 - e2))
    s = np.clip(soc, 0.0, 1.0)
    u, g = ocv.ocv_and_slope(s)
    cap = params.capacity_ah
    drift = g * horizon_s / (3600.0 * cap)
    v_free = u - v1 * e1 - v2 * e2
    i_dis = np.maximum((v_free - voltage_min_v) / (r_eff + drift), 0.0)
    i_chg = np.maximum((voltage_max_v - v_free) / (r_eff + drift), 0.0)
    # Charge available within the horizon bounds the current too (an empty cell cannot deliver for 30 s).
    i_dis = np.minimum.reduce([i_dis, lim.max_discharge_c * one_c, s * cap * 3600.0 / horizon_s])
    i_chg = np.minimum.reduce([i_chg, lim.max_charge_c * one_c, (1 - s) * cap * 3600.0 / horizon_s])
    i_dis = i_dis * _derate(t, lim.discharge_temp_c)
    i_chg = i_chg * _derate(t, lim.charge_temp_c)

    def volt_at(i: np.ndarray) -> np.ndarray:
        return v_free - i * (r_eff + drift)

    p_dis = i_dis * volt_at(i_dis)
    p_chg = i_chg * volt_at(-i_chg)
    i_pack_d = float(np.min(i_dis))
    i_pack_c = float(np.min(i_chg))
    pack_d = float(np.sum(i_pack_d * volt_at(np.full_like(s, i_pack_d))))
    pack_c = float(np.sum(i_pack_c * volt_at(np.full_like(s, -i_pack_c))))
    return PowerState(i_dis, i_chg, p_dis, p_chg, pack_d, pack_c)
