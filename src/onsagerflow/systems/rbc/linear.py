"""Linear theory of the conduction state between free-slip isothermal walls: the critical
Rayleigh number and the growth rate of a normal mode."""

from __future__ import annotations

import math

import numpy as np

RA_C = 27.0 * math.pi**4 / 4.0  # critical Rayleigh number, free-slip walls


def growth_rate(ra: float, pr: float, k: float, n: int = 1) -> float:
    """Largest root s of q²(s + Pr q²)(s + q²) = Ra Pr k², q² = k² + n²π²."""
    q2 = k**2 + (n * np.pi) ** 2
    # s² + (Pr+1) q² s + Pr q⁴ − Ra Pr k²/q² = 0
    b, c = (pr + 1) * q2, pr * q2**2 - ra * pr * k**2 / q2
    return float((-b + np.sqrt(b**2 - 4 * c)) / 2)
