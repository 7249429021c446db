"""The command line of ``onsagerflow``: every stage's options and their types (the parser
``cli.main`` reads them with; ``stages.from_config`` fills in the config form)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = "``onsagerflow <stage>``: the only entry point the workflow's rules call."
DEBUG_ENV = "ONSAGERFLOW_DEBUG"  # set (not 0) to print a traceback for expected failures too


def _spec(value: str) -> dict:
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--spec is not valid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise argparse.ArgumentTypeError("--spec must be a JSON object")
    return spec


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def _range(value: str) -> range:
    from .jobs.shards import parse_range

    try:
        return parse_range(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(value: str) -> float:
    f = float(value)
    if not 0 < f <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value}")
    return f


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="onsagerflow", description=DESCRIPTION)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument(
        "--debug",
        action="store_true",
        help=f"a traceback for expected failures too (they print one line; or set {DEBUG_ENV}=1)",
    )
    sub = p.add_subparsers(dest="stage")

    def by_hand(s, system=True):
        """--spec or --config: the two ways to give a stage its settings."""
        s.add_argument("--spec", type=_spec, help="JSON object or @file.json: the stage's slice of the config")
        s.add_argument("--config", help="instead of --spec: a workflow config file (checked as snakemake -n does)")
        if system:
            s.add_argument("--system", help="with --config: the system (a key of systems)")
        s.add_argument("--results", help="with --config: the results folder (default: the config's results)")

    def stage(name, help_):
        s = sub.add_parser(
            name,
            help=help_,
            description=f"{help_}. Either --spec and the paths (as the workflow calls it), or --config FILE "
            "--system NAME, where every path defaults to the workflow's under results.",
        )
        by_hand(s)
        s.add_argument("--threads", type=int, default=None, help="CPU threads XLA may use")
        s.add_argument(
            "--xla-preallocate",
            type=_bool,
            default=None,
            metavar="true|false",
            help="XLA_PYTHON_CLIENT_PREALLOCATE for this job (default: the environment's, else false)",
        )
        s.add_argument(
            "--xla-mem-fraction",
            type=_fraction,
            default=None,
            metavar="F",
            help="XLA_PYTHON_CLIENT_MEM_FRACTION for this job, in (0, 1]",
        )
        return s

    run_or_dir = "with --config: the run (e.g. onsagernet, onsagernet-n3); with --spec: its checkpoint folder"
    s = stage("simulate", "simulate a built-in system into a canonical store (or one shard of it)")
    s.add_argument("--out", help="the store (default: {results}/data/SYSTEM/trajectories.zarr, or the shard's)")
    s.add_argument("--trajectories", type=_range, metavar="START-STOP", help="a shard: trajectories START..STOP-1 only")
    s.add_argument(
        "--calibration",
        metavar="FILE",
        help="the system's calibration (onsagerflow calibrate; default with --config: the workflow's, where the system has one)",
    )
    s = stage("gather", "a system's shard stores into its canonical store")
    s.add_argument("--out", help="the store (default: {results}/data/SYSTEM/trajectories.zarr)")
    s.add_argument(
        "shards", nargs="*", help="the shard stores, in trajectory order (default with --config: the plan's)"
    )
    s = stage(
        "calibrate",
        "what a simulator measures once before its trajectories (the polymer's λ): "
        "--part START-STOP writes one part, else the parts are combined",
    )
    s.add_argument("--out", help="default with --config: the workflow's part or calibration file")
    s.add_argument("--part", type=_range, metavar="START-STOP", help="measure units START..STOP-1 (.npz out)")
    s.add_argument("parts", nargs="*", help="without --part: the parts to combine (default with --config: the plan's)")
    s = sub.add_parser(
        "ingest",
        help="your own trajectory files (netCDF, HDF5, zarr, npz, CSV) into a canonical store",
        description="Either --spec (the data spec, as the workflow passes it) and --out, or --config FILE "
        "--system NAME (out defaults to {results}/data/NAME/trajectories.zarr).",
    )
    by_hand(s)
    s.add_argument("--out", help="store path (required with --spec)")
    s.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    s = sub.add_parser("config", help="write the run's configuration (defaults filled in) as YAML")
    by_hand(s, system=False)
    s.add_argument("--out", help="default with --config: {results}/config.yaml")
    s = stage("reduce", "fit a PCA on a field store's train split and write the latent store")
    s.add_argument("--data")
    s.add_argument("--out-dir")
    s.add_argument("--dask", type=_spec, default=None, help="JSON: where dask runs (config key dask)")
    s = stage("train", "train a model on a store's train split")
    s.add_argument("--model", help="with --config: the run to train (e.g. onsagernet, onsagernet-n3)")
    s.add_argument("--data")
    s.add_argument("--out")
    s.add_argument("--pretrained", help="checkpoint an autoencoder run starts its dynamics from")
    s.add_argument("--reducer", help="pca.zarr of a reduced system (a chart on bead positions needs it)")

    def evaluation_inputs(s):
        """What an evaluation reads besides the store and the checkpoints, where there is one."""
        s.add_argument("--reducer", help="pca.zarr of a reduced system (decoded-field errors)")
        s.add_argument("--fields", help="the field store a reduced system's latents came from")
        s.add_argument("--pde-states", help="pde_states.zarr: the PDE's own steady states to compare with")
        s.add_argument("--pde-orbits", help="pde_orbits.zarr: the PDE's own periodic orbits to compare with")

    s = stage("evaluate", "evaluate a checkpoint on the store's test split")
    s.add_argument("--data")
    s.add_argument("--model", help=run_or_dir)
    s.add_argument("--out-dir")
    evaluation_inputs(s)
    s = stage("evaluate-system", "evaluate every run of a system in one process (as evaluate does each)")
    s.add_argument("--data")
    s.add_argument("--model", action="append", default=[], metavar="RUN=DIR", help="a run's checkpoint")
    s.add_argument("--eval", action="append", default=[], metavar="RUN=DIR", help="a run's output folder")
    evaluation_inputs(s)
    s = stage("nearest-neighbour", "PRF21's nearest-neighbour baseline on a latent store's held-out trajectories")
    s.add_argument("--model", help="with --config: the baseline's run, nearest_neighbour-nN (N a latent size)")
    s.add_argument("--data", help="the latent store (default: {results}/reduce/SYSTEM/latent.zarr)")
    s.add_argument("--out", help="metrics.json (default: {results}/eval/SYSTEM/RUN/metrics.json)")
    s = stage("lstm-baseline", "PRF21's LSTM baseline (Table III) on a latent store's coarse samples")
    s.add_argument("--model", help="with --config: the baseline's run, lstm-nN (N a latent size)")
    s.add_argument("--data", help="the latent store (default: {results}/reduce/SYSTEM/latent.zarr)")
    s.add_argument("--out", help="metrics.json (default: {results}/eval/SYSTEM/RUN/metrics.json)")
    s = stage("pde-states", "converge the RBC PDE's steady states from a field store's last snapshots")
    s.add_argument("--data")
    s.add_argument("--out", help="pde_states.zarr (default: {results}/reduce/SYSTEM/pde_states.zarr)")
    s = stage("pde-orbits", "converge the RBC PDE's periodic orbits from near-returns of a field store's trajectories")
    s.add_argument("--data")
    s.add_argument("--out", help="pde_orbits.zarr (default: {results}/reduce/SYSTEM/pde_orbits.zarr)")
    s = stage(
        "noise-floor",
        "the ensemble metrics' floor: a polymer system's simulator reruns its test trajectories under new "
        "noise and is judged against the stored ensembles as a model is",
    )
    s.add_argument("--data", help="the system's bead store (default: {results}/data/SYSTEM/trajectories.zarr)")
    s.add_argument("--draw", type=int, required=True, help="which independent draw of new noise (1, 2, …)")
    s.add_argument("--ensemble", type=int, help="one test ensemble only (its number; default: every one)")
    s.add_argument(
        "--part",
        type=_range,
        metavar="START-STOP",
        help="with --ensemble: rerun its realisations START..STOP-1 only and write their paths (.npz out)",
    )
    s.add_argument(
        "--out",
        help="the draw's JSON (default: {results}/eval/SYSTEM/noise_floor/drawK.json, or drawK_ensembleE.json)",
    )
    s.add_argument("parts", nargs="*", help="with --ensemble: judge the ensemble from these --part files")
    s = stage("figures", "draw one system's figures")
    s.add_argument("--model", action="append", default=[], metavar="NAME=DIR")
    s.add_argument("--eval", action="append", default=[], metavar="NAME=DIR")
    s.add_argument("--out-dir")
    s = stage("potential", "draw a model's learned potential V")
    s.add_argument("--model", help=run_or_dir)
    s.add_argument("--eval-dir")
    s.add_argument("--out", help="file stem; .png and .pdf are written")
    s = stage("potential-3d", "draw a 3-coordinate reduced run's learned potential in 3D")
    s.add_argument("--model", help="the run's checkpoint folder")
    s.add_argument("--eval-dir")
    s.add_argument("--latent")
    s.add_argument("--out", help="file stem; .png and .pdf are written")
    s = stage("figures-fields", "draw a reduced field system's figures")
    s.add_argument("--model", action="append", default=[], metavar="RUN=DIR")
    s.add_argument("--eval", action="append", default=[], metavar="RUN=DIR")
    s.add_argument("--reducer")
    s.add_argument("--data")
    s.add_argument("--latent")
    s.add_argument("--out-dir")
    s = stage("figures-polymer", "draw a polymer closure run's figures")
    s.add_argument("--run")
    s.add_argument("--model", help=run_or_dir)
    s.add_argument("--eval-dir")
    s.add_argument("--reducer")
    s.add_argument("--latent")
    s.add_argument("--out-dir")
    a = sub.add_parser("accuracy", help="accuracy bar charts (PRF21 Figs. 2a, 7, 8) from metrics.json files")
    a.add_argument("metrics", nargs="+")
    a.add_argument("--out", required=True, help="file stem; .png and .pdf are written")
    t = sub.add_parser("table", help="results table from metrics.json files")
    t.add_argument("metrics", nargs="+")
    t.add_argument("--csv", required=True)
    t.add_argument("--md", required=True)
    t.add_argument("--latent", action="store_true", help="the latent-model table (PRF21 Table I)")
    t.add_argument("--polymer", action="store_true", help="the stochastic closure-model table (NCS24)")
    t.add_argument(
        "--noise-floor",
        action="append",
        default=[],
        metavar="FILE",
        help="with --polymer: a draw of onsagerflow noise-floor (the simulator's row is the mean over the draws)",
    )
    t.add_argument(
        "--baselines", action="store_true", help="every system's runs beside the baselines (MLP-ODE, SINDy, drift-only)"
    )
    c = sub.add_parser(
        "check",
        help="check a workflow config as snakemake -n does (YAML, schema, every config-only check)",
        description="Reads the file (a YAML error names the line), validates it against "
        "config/schema.yaml, fills the defaults and runs every check that needs only the config.",
    )
    c.add_argument("config", help="a workflow config file")
    i = sub.add_parser("info", help="print the provenance of a result")
    i.add_argument("result")
    j = sub.add_parser(
        "jobs",
        help="every sized job of a config (simulate shards, train, evaluate): estimated and requested "
        "hours, memory, total core-hours, against the cap jobs.max_hours",
    )
    j.add_argument("--config", default="config/config.yaml", help="a workflow config file")
    return p
