"""The relaxation time λ of a validated polymer spec: given, the Rouse formula's, or measured
at rest — once, possibly in parts that run as separate jobs (``calibrate_part`` of chain ids,
then ``calibrate`` on all parts); ``simulate(..., calibration=...)`` then uses the result
instead of measuring again.

The measurement's chains run in padded batches of ``calibration_batch`` from the first id, and
each chain draws from its own keys, so a part of whole batches gives the very vectors the
whole measurement gives (bit for bit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...lazy_import import lazy
from .chain import Chain, rouse_relaxation_time
from .integrators import resolve_integrator
from .noise import STREAM_RELAX
from .relaxation import fit_relaxation, relaxation_vectors

if TYPE_CHECKING:
    import jax
else:
    jax = lazy("jax")

log = logging.getLogger("onsagerflow.polymer")

# Chains of the λ measurement run together; its parts (calibrate jobs) hold whole batches.
# Small, so that a part of a long measurement (N = 300: hours per batch) fits in a job.
MEASUREMENT_BATCH = 16
MEASURED = "measured: end-to-end autocorrelation at rest"


def needs_measurement(spec: Mapping[str, Any]) -> bool:
    """Whether λ has to be measured (neither given nor the Rouse formula's)."""
    p = spec["parameters"]
    rouse = p["spring"] == "hookean" and p["excluded_volume"]["strength"] == 0
    return p["relaxation_time"] is None and not rouse


def relaxation_time(
    spec: Mapping[str, Any], chain: Chain, integrator: str, calibration: Mapping[str, Any] | None = None
) -> tuple[float, float, str]:
    """(λ, its standard error, how it was obtained) for a validated spec; ``calibration`` is a
    measurement made beforehand (``calibrate``), used instead of measuring again."""
    given = spec["parameters"]["relaxation_time"]
    if given is not None:
        return float(given), 0.0, "given"
    if chain.spring == "hookean" and chain.ev_strength == 0:
        return rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta), 0.0, "rouse"
    if calibration is not None:
        return float(calibration["relaxation_time"]), float(calibration["relaxation_time_stderr"]), MEASURED
    t, R = _relaxation_part(spec, np.arange(spec["simulation"]["relaxation_measurement"]["n_chains"]))
    return _fit_measured(spec, t, R)


def calibration_batch(spec: Mapping[str, Any]) -> int:
    """Chains of the λ measurement run together (padded): ``MEASUREMENT_BATCH``, or all."""
    return min(MEASUREMENT_BATCH, spec["simulation"]["relaxation_measurement"]["n_chains"])


def _relaxation_part(spec: Mapping[str, Any], ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The measurement's chains ``ids`` in padded batches of ``calibration_batch`` from the
    first id: a part of whole batches runs each batch as the whole measurement does."""
    chain = Chain.from_spec(spec)
    m = spec["simulation"]["relaxation_measurement"]
    b = calibration_batch(spec)
    out, t = [], np.zeros(0)
    for start in range(0, len(ids), b):
        part = ids[start : start + b]
        t, R = relaxation_vectors(
            chain,
            jax.random.fold_in(jax.random.PRNGKey(spec["seed"]), STREAM_RELAX),
            np.concatenate([part, np.full(b - len(part), part[-1])]),
            n_chains=m["n_chains"],
            duration=m["duration"],
            dt=spec["simulation"]["dt"],
            integrator=resolve_integrator(chain, spec["simulation"]["integrator"]),
            noise=spec["simulation"]["noise"],
        )
        out.append(R[: len(part)])
    return t, np.concatenate(out)


def _fit_measured(spec: Mapping[str, Any], t: np.ndarray, R: np.ndarray) -> tuple[float, float, str]:
    window = spec["simulation"]["relaxation_measurement"]["window"]
    fit = fit_relaxation(t, R, (window[0], window[1]))
    log.info("measured λ = %.5g ± %.2g (end-to-end autocorrelation at rest)", fit.value, fit.stderr)
    return fit.value, fit.stderr, MEASURED


def calibration_size(spec: Mapping[str, Any]) -> int:
    """Chains of the λ measurement, or 0 where λ is given or from the Rouse formula."""
    return int(spec["simulation"]["relaxation_measurement"]["n_chains"]) if needs_measurement(spec) else 0


def calibrate_part(spec: Mapping[str, Any], ids) -> dict[str, np.ndarray]:
    """The measurement's chains ``ids``: their times and end-to-end vectors at rest."""
    t, R = _relaxation_part(spec, np.asarray(ids))
    return {"time": t, "chain": np.asarray(ids), "end_to_end": R}


def calibrate(spec: Mapping[str, Any], parts: list[Mapping[str, np.ndarray]]) -> dict[str, Any]:
    """λ fitted on every chain of the parts (which must hold each chain once, in order)."""
    ids = np.concatenate([np.asarray(p["chain"]) for p in parts])
    n = spec["simulation"]["relaxation_measurement"]["n_chains"]
    if not np.array_equal(ids, np.arange(n)):
        raise ValueError(
            f"calibration parts hold chains {ids.tolist()[:10]}...; expected each of 0..{n - 1} once, in order"
        )
    R = np.concatenate([np.asarray(p["end_to_end"]) for p in parts])
    lam, stderr, method = _fit_measured(spec, np.asarray(parts[0]["time"]), R)
    return {"relaxation_time": lam, "relaxation_time_stderr": stderr, "relaxation_time_method": method}
