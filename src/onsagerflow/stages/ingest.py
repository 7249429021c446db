"""``onsagerflow ingest``: a user's own trajectory files into a canonical store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..data import Split, open_store, split_mask
from ..data.ingest import LAYOUT_DIMS, ingest

log = logging.getLogger("onsagerflow.ingest")


def run(spec: dict, out: str) -> None:
    t0 = time.perf_counter()
    ingest(spec, out)
    dims = LAYOUT_DIMS[spec["source"]["layout"]]
    ds = open_store(out, dims=dims, validate=False)
    counts = {s.name.lower(): int(split_mask(ds, s).sum()) for s in Split}
    log.info(
        "wrote %d trajectories x %d samples (%s) in %.1f s: %s",
        ds.sizes["trajectory"],
        ds.sizes["time"],
        ", ".join(f"{k} {v}" for k, v in counts.items()),
        time.perf_counter() - t0,
        out,
    )


def run_from_config(config_path: str, system: str, out: str | None = None) -> str:
    """The friendly form: a config file and a system name; the store goes where the workflow
    would put it (``{results}/data/{system}/trajectories.zarr``) unless ``out`` says otherwise."""
    import yaml

    from ..config import ConfigError, prepare_config, stage_spec

    cfg_file = Path(config_path)
    config = yaml.safe_load(cfg_file.read_text())
    schema = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"
    if not schema.exists():
        raise ConfigError(
            f"--config needs config/schema.yaml of an onsagerflow checkout (pip install -e .); "
            f"not found at {schema}: use --spec and --out instead"
        )
    from snakemake.utils import validate

    try:
        validate(config, str(schema))  # fills the defaults too
    except Exception as exc:  # snakemake's WorkflowError carries jsonschema's message
        raise ConfigError(f"{config_path}: {exc}") from None
    prepare_config(config)
    if system not in config["systems"]:
        raise ConfigError(
            f"--system: '{system}' is not a key of systems in {config_path} (known: {sorted(config['systems'])})"
        )
    if "source" not in config["systems"][system]:
        raise ConfigError(
            f"systems.{system}: has no source block (type "
            f"'{config['systems'][system]['type']}' is simulated: use snakemake)"
        )
    out = out or f"{config.get('results', 'results')}/data/{system}/trajectories.zarr"
    run(stage_spec(config, "ingest", system), out)
    return out
