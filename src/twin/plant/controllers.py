"""PI controllers with anti-windup, stepped with the plant.

Every control loop of the plant (CDU supply temperature via the facility-water
valve, CDU pump speed on flow, tower fans on loop supply temperature, CRAH valves
on supply air) is one :class:`PiArray`: one gain set, one array of integrators,
so a hall's CDUs or a site's towers are controlled in one vectorised call.
"""

from __future__ import annotations

import numpy as np

#: Steps longer than this use ideal (setpoint-tracking) control instead of the PI
#: loops: at study steps of minutes the loops' time constants (seconds) are far
#: inside one step, so a discrete PI would bang between its limits. Ideal control
#: meets the setpoint whenever the equipment can, as EnergyPlus plant loops do.
IDEAL_CONTROL_STEP_S = 10.0


class PiArray:
    """A bank of PI controllers sharing gains, output limits and sign.

    Parameters
    ----------
    size : int
        Number of independent loops.
    kp : float
        Proportional gain on the normalised error [1/span].
    ti_s : float
        Integral time [s].
    span : float
        Error that counts as 100 % (e.g. 5 K for a temperature loop).
    u_min, u_max : float
        Output limits; the integrator stops at them (clamping anti-windup).
    reverse : bool
        True when the output must rise as the measurement rises above the
        setpoint (cooling: a warm loop opens the valve).
    initial : float
        Output before the first step.

    Notes
    -----
    The integral gain per step is capped at 0.5 so that the same controller stays
    stable at the 1 s live step and at the 60 s study step: with a process gain of
    order one, a discrete integrator with ``dt / ti > 2`` would oscillate.
    """

    def __init__(
        self,
        size: int,
        kp: float,
        ti_s: float,
        span: float,
        u_min: float = 0.0,
        u_max: float = 1.0,
        reverse: bool = True,
        initial: float = 0.5,
    ) -> None:
        self.kp = kp
        self.ti_s = ti_s
        self.span = span
        self.u_min = u_min
        self.u_max = u_max
        self.sign = 1.0 if reverse else -1.0
        self.integral = np.full(size, float(initial))
        self.output = np.full(size, float(initial))

    def step(self, measurement: np.ndarray, setpoint: np.ndarray | float, dt: float) -> np.ndarray:
        """Advance every loop by ``dt`` and return the new outputs."""
        error = self.sign * (np.asarray(measurement) - setpoint) / self.span
        gain = min(dt / self.ti_s, 0.5) * self.kp
        self.integral = np.clip(self.integral + gain * error, self.u_min, self.u_max)
        self.output = np.clip(self.integral + self.kp * error, self.u_min, self.u_max)
        return self.output

    def reset(self, index: np.ndarray | slice, value: float) -> None:
        """Force some loops to an output (e.g. a unit that restarts)."""
        self.integral[index] = value
        self.output[index] = value
