"""The Python API: a trained run as one object, in the units of its data.

```python
import onsagerflow

model = onsagerflow.load("results/models/lorenz_r28/onsagernet")
model.vector_field(x)        # dx/dt at states x (..., n)
model.potential(x)           # V; matrices(x) -> (M, W); forcing(x) -> f; sigma(x)
model.fixed_points()         # roots of the learned field, classified
model.rollout(x0, t)         # trajectories (start, time, n)
```

Models learn in normalised units z = (x − mean)/scale, t' = t/T (fitted on the train
split). This object undoes that: with D = diag(scale),

    dx/dt = −(M_x + W_x) ∇_x V + f_x,   M_x = D M D / T,  W_x = D W D / T,  f_x = D f(z) / T,

V_x(x) = V(z(x)) (the potential keeps the model's own energy scale) and, for an
S-OnsagerNet, σ_x = D σ(z) / √T. A run on reduced coordinates (PCA, a PCA-ResNet chart,
a polymer's closure coordinates) lives in its own latent coordinates h1 … hn: ``encode``
and ``decode`` map the stored coordinates to them and back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .data.cf import latent_labels

DEFAULT_FIXED_POINT_STARTS = 256


@dataclass
class LearnedModel:
    """A trained run (checkpoint folder ``path``) as functions of physical states.

    Attributes:
        path: the checkpoint folder.
        run: the run's name (``onsagernet``, ``onsagernet-n3``, ...).
        model_type: ``onsagernet``, ``s_onsagernet``, ``mlp_ode`` or ``sindy``.
        n: the state (or latent) dimension.
        components: the names of the state components (``x, y, z``; ``h1 … hn``).
        units: the units of the states (``"1"``: dimensionless).
        time_units: the units of time.
        meta: everything the checkpoint records (spec, training, provenance).
    """

    path: Path
    run: str
    model_type: str
    n: int
    components: list[str]
    units: str
    time_units: str
    meta: dict
    _loaded: Any = field(repr=False)

    # --- structure of the learned dynamics -------------------------------------------
    @property
    def has_potential(self) -> bool:
        """Whether the model has the OnsagerNet structure (V, M, W, f)."""
        return hasattr(self._loaded.dynamics, "potential")

    @property
    def stochastic(self) -> bool:
        """Whether the model has a noise amplitude σ (S-OnsagerNet)."""
        return hasattr(self._loaded.dynamics, "sigma")

    def vector_field(self, x: ArrayLike) -> np.ndarray:
        """The learned dx/dt (the drift of an SDE).

        Args:
            x: states, shape (..., n), in the units of the data.

        Returns:
            dx/dt, shape (..., n).
        """
        f, args = self._field
        return np.asarray(f(self._x(x), args))

    def potential(self, x: ArrayLike) -> np.ndarray:
        """The learned free energy V(z(x)) (in the model's own energy units).

        Args:
            x: states, shape (..., n).

        Returns:
            V, shape (...).
        """
        dyn, norm = self._structured("potential")
        return np.asarray(dyn.potential(self._z(x)))

    def potential_gradient(self, x: ArrayLike) -> np.ndarray:
        """∇ₓV = D⁻¹ ∇_z V, the gradient of the free energy with respect to physical states.

        Args:
            x: states, shape (..., n).

        Returns:
            ∇ₓV, shape (..., n).
        """
        dyn, norm = self._structured("potential")
        return np.asarray(norm.units().gradient_to_physical(np.asarray(dyn.grad_potential(self._z(x)))))

    def matrices(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """The dissipation M_x (symmetric positive definite) and the conservative part W_x
        (antisymmetric) in physical units.

        Args:
            x: states, shape (..., n).

        Returns:
            (M_x, W_x), each of shape (..., n, n).
        """
        dyn, norm = self._structured("matrices")
        M, W = dyn.matrices(self._z(x))
        units = norm.units()
        return units.matrix_to_physical(np.asarray(M)), units.matrix_to_physical(np.asarray(W))

    def forcing(self, x: ArrayLike) -> np.ndarray:
        """The learned forcing f_x = D f(z) / T.

        Args:
            x: states, shape (..., n).

        Returns:
            f_x, shape (..., n).
        """
        dyn, norm = self._structured("forcing")
        return norm.units().rate_to_physical(np.asarray(dyn.forcing(self._z(x))))

    def sigma(self, x: ArrayLike) -> np.ndarray | None:
        """The noise amplitude σ_x = D σ(z) / √T of an S-OnsagerNet (None for an ODE model).

        Args:
            x: states, shape (..., n).

        Returns:
            σ_x, shape (..., n, n), lower triangular; or None.
        """
        if not self.stochastic:
            return None
        norm = self._loaded.norm
        return np.asarray(norm.units().noise_to_physical(np.asarray(self._loaded.dynamics.sigma(self._z(x)))))

    # --- what the dynamics do ----------------------------------------------------------
    def fixed_points(
        self, starts: ArrayLike | None = None, *, n_starts: int = DEFAULT_FIXED_POINT_STARTS, seed: int = 0
    ) -> list[dict]:
        """Roots of the learned vector field by Newton's method, classified by the
        eigenvalues of the Jacobian.

        Args:
            starts: Newton starts (k, n); default: the evaluation's fixed points when the
                run was evaluated, else ``n_starts`` states drawn from the train split.
            n_starts: how many starts to draw when ``starts`` is None.
            seed: seeds the draw.

        Returns:
            One dict per fixed point: ``x`` (n,), ``kind`` (stable node, saddle, ...),
            ``eigenvalues``, ``residual``.
        """
        from .analysis.fixed_points import find_fixed_points

        if starts is None:
            metrics = self._metrics()
            if metrics is not None and metrics.get("fixed_points") is not None:
                return metrics["fixed_points"]
            frames = self._train_frames()
            starts = frames[np.random.default_rng(seed).choice(len(frames), n_starts)]
        norm = self._loaded.norm
        length = float(np.linalg.norm(norm.scale))
        f, args = self._field
        return find_fixed_points(
            f, self._x(starts), args=args, length_scale=length, field_scale=length / norm.time_scale
        )

    def rollout(self, x0: ArrayLike, t: ArrayLike, *, rtol: float = 1e-8, atol: float = 1e-10) -> np.ndarray:
        """Deterministic rollouts of the learned field (an SDE's drift) with error control.

        Args:
            x0: starts, shape (k, n) or (n,).
            t: save times, increasing, t[0] the start.
            rtol: relative tolerance of the solver.
            atol: absolute tolerance of the solver.

        Returns:
            States, shape (k, len(t), n) (or (len(t), n) for one start); NaN after a
            rollout the solver could not continue.
        """
        from .analysis.rollout import integrate

        x0 = self._x(x0)
        one = x0.ndim == 1
        f, args = self._field
        xs, _ = integrate(f, np.atleast_2d(x0), np.asarray(t, float), args=args, rtol=rtol, atol=atol)
        return xs[0] if one else xs

    def sample_paths(
        self, x0: ArrayLike, t: ArrayLike, *, n_paths: int | None = None, dt: float | None = None, seed: int = 0
    ) -> np.ndarray:
        """Euler–Maruyama paths of the learned SDE (an ODE model gives its own path, σ = 0).

        Args:
            x0: starts (k, n), or one start (n,) run ``n_paths`` times.
            t: uniformly spaced save times, t[0] the start.
            n_paths: realisations from a single start.
            dt: the largest step (default: the save spacing / 10).
            seed: seeds the noise.

        Returns:
            Paths, shape (paths, len(t), n).
        """
        import jax

        from .analysis.sde import physical_sde, simulate_sde

        t = np.asarray(t, float)
        drift, sigma, args = physical_sde(self._loaded.dynamics, self._loaded.norm)
        step = dt if dt is not None else float(t[1] - t[0]) / 10
        return simulate_sde(drift, sigma, self._x(x0), t, step, jax.random.key(seed), args=args, n_paths=n_paths)

    # --- reduced coordinates -------------------------------------------------------------
    def encode(self, y: ArrayLike) -> np.ndarray:
        """Stored (e.g. PCA) coordinates (..., m) to this run's latent coordinates (..., n)."""
        return self._loaded.chart.encode(np.asarray(y, float))

    def decode(self, h: ArrayLike) -> np.ndarray:
        """This run's latent coordinates (..., n) back to the stored coordinates."""
        return self._loaded.chart.decode(np.asarray(h, float))

    # --- internals ----------------------------------------------------------------------
    def _x(self, x: ArrayLike) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.n:
            raise ValueError(
                f"{self.path}: states need {self.n} components ({', '.join(self.components)}), got {x.shape[-1]}"
            )
        return x

    def _z(self, x: ArrayLike):
        return self._loaded.norm.encode(self._x(x))

    def _structured(self, what: str):
        if not self.has_potential:
            raise AttributeError(f"{self.run} is a {self.model_type} model: it has no {what} (only OnsagerNets do)")
        return self._loaded.dynamics, self._loaded.norm

    @property
    def _field(self):
        from .models.dynamics import physical_field

        if not hasattr(self, "_field_cache"):
            self._field_cache = physical_field(self._loaded.model, self._loaded.norm)
        return self._field_cache

    def _results(self) -> Path:
        return self.path.parents[2]  # results/models/<system>/<run>

    def _metrics(self) -> dict | None:
        p = self._results() / "eval" / self.path.parent.name / self.run / "metrics.json"
        return json.loads(p.read_text()) if p.exists() else None

    def _train_frames(self) -> np.ndarray:
        from .data import open_store
        from .stages.common import observed, split_array

        store = _data_store(self.path, self.meta)
        ds = open_store(store)
        frames = split_array(ds, observed(ds, str(store)), "train")
        frames = self.encode(frames) if self.meta.get("latent") else frames
        return frames.reshape(-1, frames.shape[-1])


def _data_store(path: Path, meta: dict) -> Path:
    """The store a run learned from, by the workflow's layout (results/models/<system>/<run>)."""
    results, system = path.parents[2], path.parent.name
    if meta.get("latent"):
        return results / "reduce" / system / "latent.zarr"
    return results / "data" / system / "trajectories.zarr"


def load(path: str | Path) -> LearnedModel:
    """Load a trained run of the workflow.

    Args:
        path: a checkpoint folder, ``results/models/<system>/<run>``.

    Returns:
        The :class:`LearnedModel`; its component names and units come from the store the
        run learned from when that store is where the workflow puts it.

    Raises:
        FileNotFoundError: ``path`` is not a checkpoint folder.
    """
    import sys

    if "jax" in sys.modules:  # already configured or imported by the caller: float64 is enough
        import jax

        jax.config.update("jax_enable_x64", True)
    else:
        from .runtime import configure

        configure()
    from .stages.common import load_run

    p = Path(path)
    if not (p / "model.json").exists():
        raise FileNotFoundError(f"not a trained run (no model.json): {p}")
    loaded = load_run(p)
    meta = loaded.meta
    n = int(meta["n"])
    components, units, time_units = latent_labels(n), "1", "1"
    store = _data_store(p, meta)
    if store.exists():
        import xarray as xr

        with xr.open_zarr(store, consolidated=None) as ds:
            var = ds[ds.attrs.get("observed", meta.get("variable"))]
            dim = var.dims[-1]
            if not meta.get("latent") and dim in ds.coords and ds.sizes[dim] == n:
                components = [str(c) for c in ds[dim].values]
            units = str(var.attrs.get("units", "1")) if not meta.get("latent") else "1"
            time_units = str(ds["time"].attrs.get("units", "1"))
    return LearnedModel(
        path=p,
        run=str(meta.get("run", p.name)),
        model_type=str(meta["model_spec"]["type"]),
        n=n,
        components=components,
        units=units,
        time_units=time_units,
        meta=meta,
        _loaded=loaded,
    )
