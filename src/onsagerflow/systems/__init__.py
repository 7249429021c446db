"""Built-in simulators, looked up by the ``type`` key of a system's config.

Each module exposes ``DIMS`` (its own store dimensions), ``trajectory_count(spec)`` and
``simulate(spec)``, which returns a canonical Dataset or yields consecutive batches of them
(a store larger than memory streams to disk; the simulate stage logs progress per batch). ODE systems also expose ``field(spec)``, ``solve(spec, y0, t)``
for reference trajectories from given starts, ``sample_initial_states(spec, n, seed)``
and ``exact_fixed_points(spec)``; evaluation uses whichever a system has.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {
    "lorenz": "onsagerflow.systems.lorenz",
    "rbc": "onsagerflow.systems.rbc",
    "polymer": "onsagerflow.systems.polymer",
}


def get_system(kind: str) -> ModuleType:
    try:
        return importlib.import_module(_MODULES[kind])
    except KeyError:
        raise ValueError(f"unknown system type '{kind}'; known: {sorted(_MODULES)}") from None


def known_systems() -> list[str]:
    return sorted(_MODULES)
