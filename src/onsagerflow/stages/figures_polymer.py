"""``onsagerflow figures-polymer``: the figures of a polymer closure run: its learned landscape,
extension and unfolding times of held-out ensembles, decoded chains at V's critical points."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..data.cf import axis_label
from ..figures.common import save_figure
from ..provenance import stamp
from .common import load_run, read_json

log = logging.getLogger("onsagerflow.figures")


def run_polymer(spec: dict, run: str, model_dir: str, eval_dir: str, reducer: str, latent: str, out_dir: str) -> None:
    """landscape, extension, unfolding_times and conformations of a polymer closure run."""
    import jax

    from ..data import Unfolding, open_store, split_mask
    from ..figures.polymer import conformations_figure, extension_figure, landscape_figure, unfolding_figure
    from ..models.dynamics import physical_potential
    from ..models.reducers import PCA
    from .evaluate_sde import decoded_chains

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = spec["system"]["name"]
    provenance = stamp(spec)
    m = read_json(Path(eval_dir) / "metrics.json")
    loaded = load_run(model_dir)
    norm, chart, dyn = loaded.norm, loaded.chart, loaded.dynamics
    lat = open_store(latent)
    test = np.flatnonzero(split_mask(lat, "test"))
    z = chart.encode(lat["h"].isel(trajectory=test).values)
    t = lat["time"].values
    labels = np.asarray(lat["unfolding"].values)[test]
    critical = m["critical_points"] or []  # V's own critical points (none without a potential)

    if z.shape[-1] >= 3:
        v = jax.jit(physical_potential(dyn, norm))
        lo, hi = np.percentile(z.reshape(-1, z.shape[-1]), [0.5, 99.5], axis=0)
        pad = 0.1 * (hi - lo)
        trajs = {
            c.name.lower(): z[np.flatnonzero(labels == c)[0], :, :3]
            for c in (Unfolding.FAST, Unfolding.SLOW)
            if (labels == c).any()
        }
        fig = landscape_figure(
            lambda x: v(np.pad(x, ((0, 0), (0, z.shape[-1] - 3)))),
            lo[:3] - pad[:3],
            hi[:3] + pad[:3],
            critical,
            trajs,
            title=f"{name}: learned potential V of {run}",
        )
        save_figure(fig, out / f"landscape_{run}", provenance, f"{name} landscape")

    groups = {f"ensemble {e['ensemble']} ({e['label']})": e["extension"] for e in m["ensembles"]}
    save_figure(
        extension_figure(
            t, groups, title=f"{name}: extension of held-out ensembles vs {run}", time_label=axis_label(lat["time"])
        ),
        out / f"extension_{run}",
        provenance,
        f"{name} extension",
    )
    groups = {f"ensemble {e['ensemble']} ({e['label']})": e["unfolding_time"] for e in m["ensembles"]}
    save_figure(
        unfolding_figure(groups, float(t[-1]), title=f"{name}: unfolding times", time_label=axis_label(lat["time"])),
        out / f"unfolding_times_{run}",
        provenance,
        f"{name} unfolding times",
    )

    chains = decoded_chains(
        chart, PCA.load(reducer), np.array([c["x"] for c in critical]), int(lat.attrs.get("n_observables", 0))
    )
    save_figure(
        conformations_figure(
            list(chains), critical, title=f"{name}: decoded chains at the critical points of V, {run}"
        ),
        out / f"conformations_{run}",
        provenance,
        f"{name} conformations",
    )
    log.info("wrote figures of %s to %s", name, out)
