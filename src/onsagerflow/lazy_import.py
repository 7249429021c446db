"""Imports deferred to first use.

The workflow builds its DAG by sizing jobs (``onsagerflow.jobs``), which reads the simulators'
plans — sampling, step counts, chain parameters: plain Python — from the modules that also hold
the simulators. Those name JAX at their top as ``jax = lazy("jax")`` (under ``TYPE_CHECKING``
the real import, for the type checker), so that importing them does not import JAX: JAX loads
when a simulator first uses it, and ``snakemake -n`` does not wait for it (about 14 s of the
DAG build on a loaded machine).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``, imported at the first attribute looked up on it."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module '{self._name}'{'' if self._module is None else ' (loaded)'}>"


def lazy(name: str) -> Any:
    """A stand-in for ``import name`` that imports on first use."""
    return LazyModule(name)
