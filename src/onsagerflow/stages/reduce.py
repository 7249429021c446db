"""``onsagerflow reduce``: PCA of a field store (train split only; with ``symmetry: mirror``,
of the train snapshots and their mirror images) and the latent store of every trajectory's
projections (the stored trajectories only: training adds the images, stages.common)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dask.array as da
import numpy as np

from ..config import ConfigError
from ..config.paths import LATENT_STORE, PCA_STORE
from ..data import Split, build_dataset, open_store, split_mask, write_store
from ..data.cf import latent_labels
from ..models.reducers import Mirror, fit_pca, grid_mirror
from ..provenance import stamp

log = logging.getLogger("onsagerflow.reduce")

CARRIED_ATTRS = (
    "system_type",
    "r",
    "Ra",
    "Pr",
    "dt_sample",
    "Wi",
    "relaxation_time",
    "unfolding_threshold",
    "strain_rate",
    "time_unit",
    "burst_size",
    "parameter_names",
)


def run(spec: dict, data: str, out_dir: str) -> None:
    t0 = time.perf_counter()
    red = spec["reduction"]
    ds = open_store(data)
    mirror = _mirror(spec, ds, data)
    pca = fit_pca(
        ds,
        red["fields"],
        red["components"],
        seed=red["seed"],
        power_iterations=red["power_iterations"],
        select=red.get("select"),
        mirror=mirror,
    )
    kept = pca.components.shape[0]
    if kept < red["components"]:  # never lowered without a word (the config check catches what it can)
        log.warning(
            "systems.%s.reduction.components: %d asked, but the train split of %s allows only %d "
            "(its rows and features); kept %d",
            spec["name"],
            red["components"],
            data,
            kept,
            kept,
        )
    cum = np.cumsum(pca.explained_variance_ratio)
    log.info(
        "PCA of %s on %d train trajectories: %s",
        red["fields"],
        int(split_mask(ds, Split.TRAIN).sum()),
        ", ".join(f"{k} PCs {cum[k - 1]:.2%}" for k in (1, 3, 5, 7) if k <= len(cum)),
    )
    if pca.parity is not None:
        log.info("the PCs' parity under the mirror: %s", " ".join(f"{p:+d}" for p in pca.parity))
    if pca.weights is not None:
        log.info(
            "columns weighted by the grid's quadrature weights (the L2 inner product): %.3g to %.3g, mean 1",
            pca.weights.min(),
            pca.weights.max(),
        )
    provenance = stamp(spec)
    out = Path(out_dir)
    pca.save(out / PCA_STORE, {"system": ds.attrs["system"], "source_store": str(data), **provenance})
    # Macroscopic observables (NCS24's Z*: the polymer's extension) lead the latent state,
    # the PCA coordinates follow; a chart passes the observables through unlearned.
    observables = list(red.get("observables", []))
    H = pca.transform(ds)
    if observables:
        H = da.concatenate([da.stack([ds[o].data for o in observables], axis=-1).astype(np.float64), H], axis=-1)
    k = H.shape[-1]
    kept = {c: ds[c].values for c in ds.coords if ds[c].dims == ("trajectory",) and c not in ("trajectory", "split")}
    # the data's parameters travel on: the simulators' known keys, and every parameter an
    # ingested store lists (its config's parameters block: Ra, Pr, Nx, Nz, ...)
    carried = [*CARRIED_ATTRS, *ds.attrs.get("parameter_names", [])]
    latent = build_dataset(
        system=ds.attrs["system"],
        data_vars={
            "h": (
                ("trajectory", "time", "state"),
                H,
                {"units": "1", "long_name": "observables, then PCA coordinates of the scaled fields"},
            )
        },
        time=ds["time"].values,
        time_units=ds["time"].attrs.get("units", "1"),
        time_long_name=ds["time"].attrs.get("long_name", "time"),
        split=ds["split"].values,
        trajectory=ds["trajectory"].values,
        trajectory_coords=kept,
        coords={"state": (("state",), latent_labels(k))},
        attrs={
            "observed": "h",
            "reduction": "pca",
            "fields": " ".join(red["fields"]),
            "observables": " ".join(observables),
            "n_observables": len(observables),
            "source_store": str(data),
            **{key: ds.attrs[key] for key in ds.attrs if key in carried},
            **({"symmetry": "mirror", "parity": [int(p) for p in pca.parity]} if pca.parity is not None else {}),
            **(
                {"quadrature": "latent coordinates of the L2 inner product (grid quadrature weights)"}
                if pca.weights is not None
                else {}
            ),
            **provenance,
        },
    )
    latent["time"].attrs.update(ds["time"].attrs)  # the source's time units stay
    write_store(latent, out / LATENT_STORE, dims=("state",))
    log.info("wrote %s in %.1f s", out, time.perf_counter() - t0)


def _mirror(spec: dict, ds, data: str) -> Mirror | None:
    """The mirror of ``reduction.symmetry`` on the store's fields, or None."""
    red = spec["reduction"]
    if red.get("symmetry", "none") == "none":
        return None
    from ..systems.rbc.symmetry import store_mirror

    where = f"systems.{spec['name']}.reduction.symmetry"
    if red.get("observables") or red.get("select"):
        raise ConfigError(f"{where}: the mirror acts on whole fields, not on observables or a selection")
    try:
        return grid_mirror(ds, red["fields"], *store_mirror(ds, red["fields"]))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc} ({data})") from None
