"""Bead-spring chains in planar elongational flow: Brownian dynamics in pure JAX (docs/science.md,
"Polymer chains").

``simulate(spec)`` turns a validated polymer system block (``config/schema.yaml``, the one
place of its keys, defaults and bounds) into canonical Datasets of bead positions; the rest of
this package is the physics it runs on, one idea per module:

    chain        parameters, spring laws (hookean, fene, wlc), forces, the Rouse time
    roots        the implicit bond solve Q + c f(Q) = R of the semi-implicit scheme
    noise        the Brownian increments: JAX's Threefry stream, computed fast
    integrators  Euler–Maruyama and the bond-implicit scheme, batched; ``run``
    equilibrium  exact equilibrium coils at rest
    relaxation   the longest relaxation time λ, measured from the end-to-end autocorrelation
    calibration  λ of a spec: given, Rouse, or measured once (in parts that can be separate jobs)
    observables  extension, end-to-end distances, unfolding times, fast/slow labels
    plan         λ, ε̇ = Wi/λ, steps, splits and batches of a validated spec
    dataset      the batches of the canonical store, whole or in shards; labels of gathered shards

The spec gives Wi = ε̇ λ; λ is the longest relaxation time of second moments (a Hookean
dumbbell's coil–stretch transition is at Wi = 1/2). Simulation is float64; stored positions
are relative to the centre of mass. Paper size (NCS24): n_beads 300, hundreds of training
trajectories, 1000+ frames, test ensembles of hundreds of realisations; measure λ once and
set ``parameters.relaxation_time``, since measuring it for N = 300 costs more than a small
data set.
"""

from .calibration import (
    MEASUREMENT_BATCH,
    calibrate,
    calibrate_part,
    calibration_batch,
    calibration_size,
    needs_measurement,
    relaxation_time,
)
from .chain import (
    SPRINGS,
    Chain,
    bead_forces,
    chain_of,
    excluded_volume_forces,
    phi,
    rouse_relaxation_time,
    tension,
)
from .dataset import DERIVED, DIMS, finish_gather, new_noise_observables, probe_coils, probe_observables, simulate
from .equilibrium import equilibrium_coils, random_walks, sample_bonds
from .integrators import INTEGRATORS, Scheme, identity, make_scheme, resolve_integrator, run
from .noise import NOISES, unit_noise
from .observables import (
    end_to_end_vector,
    extension_of,
    label_ensembles,
    observables,
    unfolding_threshold,
    unfolding_time,
)
from .plan import VARIABLE, Plan, batch_size, plan, store_batch_size, trajectory_count
from .relaxation import (
    RelaxationFit,
    autocorrelation,
    fit_correlation,
    fit_relaxation,
    measure_relaxation_time,
    relaxation_vectors,
    slope_lambda,
)
from .roots import bond_root, implicit_bond

__all__ = [
    "relaxation_vectors",
    "batch_size",
    "finish_gather",
    "new_noise_observables",
    "probe_coils",
    "probe_observables",
    "needs_measurement",
    "calibration_size",
    "calibration_batch",
    "calibrate_part",
    "calibrate",
    "MEASUREMENT_BATCH",
    "DERIVED",
    "DIMS",
    "INTEGRATORS",
    "NOISES",
    "SPRINGS",
    "VARIABLE",
    "Chain",
    "Plan",
    "RelaxationFit",
    "Scheme",
    "autocorrelation",
    "bead_forces",
    "bond_root",
    "chain_of",
    "end_to_end_vector",
    "equilibrium_coils",
    "excluded_volume_forces",
    "extension_of",
    "fit_correlation",
    "fit_relaxation",
    "identity",
    "implicit_bond",
    "label_ensembles",
    "make_scheme",
    "measure_relaxation_time",
    "observables",
    "phi",
    "plan",
    "random_walks",
    "relaxation_time",
    "resolve_integrator",
    "rouse_relaxation_time",
    "run",
    "sample_bonds",
    "simulate",
    "slope_lambda",
    "store_batch_size",
    "tension",
    "trajectory_count",
    "unfolding_threshold",
    "unfolding_time",
    "unit_noise",
]
