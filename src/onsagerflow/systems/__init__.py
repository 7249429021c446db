"""Built-in simulators, looked up by the ``type`` key of a system's config.

Each module exposes ``DIMS`` (its own store dimensions), ``VARIABLE`` (the observed
state variable) and ``simulate(spec)``, which returns a canonical ``xarray.Dataset`` or
yields consecutive batches of one along ``trajectory`` (``onsagerflow.data.write_store``
takes either). Where they make sense it also has ``solve(spec, y0, t)`` for reference
trajectories from given starts, ``sample_initial_states(spec, n, seed)`` and
``exact_fixed_points(spec)`` (None where none are known).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {"lorenz": "onsagerflow.systems.lorenz", "polymer": "onsagerflow.systems.polymer"}


def get_system(kind: str) -> ModuleType:
    try:
        return importlib.import_module(_MODULES[kind])
    except KeyError:
        raise ValueError(f"unknown system type '{kind}'; known: {sorted(_MODULES)}") from None


def known_systems() -> list[str]:
    return sorted(_MODULES)
