"""The measured rates that job sizes are computed from (config/rates.yaml).

One versioned YAML file, written by ``benchmarks/measure_rates.py`` on the machine it
describes: every rate with its value, unit and the case it was measured on, and how (the
command, the machine, the load, the date, the code). ``jobs.rates`` in the config names the
file, so a cluster's own measurements replace ours without touching the workflow.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import yaml

from ..config import ConfigError

RATES_VERSION = 1

# rate -> its unit; each is one number the estimates in onsagerflow.jobs.work use
RATES = {
    "startup": "seconds a job spends before its work: Python and imports, first JAX compilations",
    "lorenz": "trajectory time units per second (Dormand–Prince 8, the default tolerance)",
    "rbc": "grid-point steps per second (one trajectory, one time step, 2 nz × nx points)",
    "rbc_call": "seconds per solver call beyond its steps (the solver compiles at every call)",
    "polymer": "bead-steps per second (FENE chains, bond-implicit scheme)",
    "train": "training windows per second, deterministic models (OnsagerNet, MLP-ODE)",
    "train_sde": "training windows per second, S-OnsagerNet (Euler–Maruyama likelihood)",
    "train_joint": "training windows per second, a PCA-ResNet chart trained with its OnsagerNet",
    "rollout_ode": "saved samples per second of batched ODE rollouts (evaluate)",
    "rollout_sde": "trajectory-steps per second of batched SDE rollouts (evaluate)",
    "store": "MB per second a job reads or writes a canonical store at",
}


@functools.lru_cache(maxsize=8)
def _load(path: str) -> dict[str, float]:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"jobs.rates: cannot read the rates file {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"jobs.rates: {p} is not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping) or doc.get("version") != RATES_VERSION:
        raise ConfigError(
            f"jobs.rates: {p} is not a rates file of version {RATES_VERSION} "
            "(python benchmarks/measure_rates.py writes one)"
        )
    rates = doc.get("rates")
    if not isinstance(rates, Mapping):
        raise ConfigError(f"jobs.rates: {p} has no 'rates' mapping")
    out = {}
    for key in RATES:
        entry = rates.get(key)
        value = entry.get("value") if isinstance(entry, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"jobs.rates: {p}: rates.{key}.value must be a positive number, got {value!r}")
        out[key] = float(value)
    return out


def load_rates(path: str | Path) -> dict[str, float]:
    """Rate name -> value from a rates file; a missing file, version or rate is a ConfigError."""
    return dict(_load(str(Path(path).resolve())))
