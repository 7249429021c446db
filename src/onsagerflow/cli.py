"""``onsagerflow <stage>``: the only entry point the workflow's rules call.

Each stage takes a JSON ``--spec`` (the slice of the config it depends on, or
``@file.json``), its inputs and its outputs — or, by hand, ``--config FILE --system NAME``
(and ``--model RUN`` where a stage works on one run): the same spec and the workflow's
paths under ``results``, each path overridable. Every stage fails the same way: an
expected failure (bad config value, missing or damaged file, diverged training) is one
line naming the culprit and exit status 1; a bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

_STARTED = time.time()  # this module loads first: the stage's wall time counts from here
INTERACTIVE = ("info", "jobs", "check")  # commands for a person at a terminal, not workflow jobs
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


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes NAME=PATH, got '{item}'")
        out[key] = path
    return out


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
    p = argparse.ArgumentParser(prog="onsagerflow", description=__doc__.splitlines()[0])
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
    s = stage("evaluate", "evaluate a checkpoint on the store's test split")
    s.add_argument("--data")
    s.add_argument("--model", help=run_or_dir)
    s.add_argument("--out-dir")
    s.add_argument("--reducer", help="pca.zarr of a reduced system (decoded-field errors)")
    s.add_argument("--fields", help="the field store a reduced system's latents came from")
    s.add_argument("--pde-states", help="pde_states.zarr: the PDE's own steady states to compare with")
    s.add_argument("--pde-orbits", help="pde_orbits.zarr: the PDE's own periodic orbits to compare with")
    s = stage("nearest-neighbour", "PRF21's nearest-neighbour baseline on a latent store's held-out trajectories")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="metrics.json")
    s = stage("lstm-baseline", "PRF21's LSTM baseline (Table III) on a latent store's coarse samples")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="metrics.json")
    s = stage("pde-states", "converge the RBC PDE's steady states from a field store's last snapshots")
    s.add_argument("--data")
    s.add_argument("--out", help="pde_states.zarr (default: {results}/reduce/SYSTEM/pde_states.zarr)")
    s = stage("pde-orbits", "converge the RBC PDE's periodic orbits from near-returns of a field store's trajectories")
    s.add_argument("--data")
    s.add_argument("--out", help="pde_orbits.zarr (default: {results}/reduce/SYSTEM/pde_orbits.zarr)")
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.stage is None:
        parser().print_help()
        return 2
    from .runtime import setup_logging

    log = setup_logging()
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        run_stage(args)
        if args.stage not in INTERACTIVE:
            log.info("%s: %s", args.stage, resource_summary())
    except KeyboardInterrupt:
        from .errors import EXIT_INTERRUPTED

        log.error("%s interrupted", args.stage)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return failed(args.stage, exc, log, debug)
    return 0


def resource_summary() -> str:
    """What this process used, start-up (imports, compilation) included: the numbers a job's
    size in a cluster profile (config `jobs`) should be checked against."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    wall = time.time() - _STARTED
    return f"{wall:.1f} s wall, {cpu:.1f} CPU-s, peak memory {max(me.ru_maxrss, kids.ru_maxrss) / 1024:.0f} MB"


def failed(stage: str, exc: Exception, log, debug: bool = False) -> int:
    """The one error path of every stage: an expected failure (a UserError, an OSError of
    the environment such as a read-only or full disk, or a codec error traced back to a
    damaged chunk of a store this process read) is one line naming its culprit; anything
    else is a bug and keeps its traceback. ``debug`` shows the traceback always."""
    from .errors import EXIT_USER_ERROR, UserError, expected_os_error, one_line

    message = one_line(exc) if isinstance(exc, UserError) else expected_os_error(exc)
    if message is None:
        from .data.store import diagnose

        cause = diagnose(exc)
        message = one_line(cause) if cause is not None else None
    if message is None:
        log.error(
            "%s failed with an unexpected error, a bug in onsagerflow; please report it with this log",
            stage,
            exc_info=exc,
        )
        return EXIT_USER_ERROR
    log.error("%s failed: %s", stage, message)
    if debug:
        log.error("traceback (--debug):", exc_info=exc)
    return EXIT_USER_ERROR


def run_stage(args: argparse.Namespace) -> None:
    """Run the stage ``args`` name; every failure propagates to ``main``'s one handler."""
    if args.stage == "info":
        from .stages import info

        info.run(args.result)
        return
    if args.stage == "jobs":
        from .config import load_config
        from .jobs import table as job_table

        print(job_table(load_config(args.config)))
        return
    if args.stage == "check":
        from .config import load_config, runs_of

        config = load_config(args.config)
        runs = sum(len(runs_of(config, s)) for s in config["systems"])
        print(f"{args.config}: valid; {len(config['systems'])} systems, {runs} runs, results in {config['results']}")
        return
    from .stages.from_config import NEEDS

    if args.stage in NEEDS:  # --config FILE --system NAME becomes the spec and paths a rule would pass
        from .stages.from_config import complete

        complete(args)
    if args.stage == "config":
        from .stages import config_file

        config_file.run(args.spec, args.out)
        return
    if args.stage == "accuracy":
        from .stages import figures

        figures.run_accuracy(args.metrics, args.out)
        return
    if args.stage == "table":
        from .stages import table

        make = (
            table.run_baselines
            if args.baselines
            else table.run_polymer
            if args.polymer
            else table.run_latent
            if args.latent
            else table.run
        )
        make(args.metrics, args.csv, args.md)
        return
    from .runtime import configure

    # before a stage imports JAX (ingest has no JAX flags of its own: it runs no JAX)
    configure(
        getattr(args, "threads", None), getattr(args, "xla_preallocate", None), getattr(args, "xla_mem_fraction", None)
    )
    if args.stage == "ingest":
        from .stages import ingest

        ingest.run(args.spec, args.out)
    elif args.stage == "simulate":
        from .stages import simulate

        simulate.run(args.spec, args.out, args.trajectories, args.calibration)
    elif args.stage == "gather":
        from .stages import gather

        gather.run(args.spec, args.shards, args.out)
    elif args.stage == "calibrate":
        from .stages import calibrate

        if args.part is not None:
            calibrate.run_part(args.spec, args.part, args.out)
        else:
            calibrate.run(args.spec, args.parts, args.out)
    elif args.stage == "reduce":
        from .data.scheduler import dask_scheduler
        from .stages import reduce

        with dask_scheduler(args.dask, args.threads):
            reduce.run(args.spec, args.data, args.out_dir)
    elif args.stage == "train":
        from .stages import train

        train.run(args.spec, args.data, args.out, args.pretrained, args.reducer)
    elif args.stage == "evaluate":
        from .stages import evaluate

        evaluate.run(
            args.spec, args.data, args.model, args.out_dir, args.reducer, args.fields, args.pde_states, args.pde_orbits
        )
    elif args.stage == "figures":
        from .stages import figures

        figures.run(args.spec, _pairs(args.model, "--model"), _pairs(args.eval, "--eval"), args.out_dir)
    elif args.stage == "figures-fields":
        from .stages import figures

        figures.run_fields(
            args.spec,
            _pairs(args.model, "--model"),
            _pairs(args.eval, "--eval"),
            args.reducer,
            args.data,
            args.latent,
            args.out_dir,
        )
    elif args.stage == "figures-polymer":
        from .stages import figures

        figures.run_polymer(args.spec, args.run, args.model, args.eval_dir, args.reducer, args.latent, args.out_dir)
    elif args.stage == "potential":
        from .stages import figures

        figures.run_potential(args.spec, args.model, args.eval_dir, args.out)
    elif args.stage == "potential-3d":
        from .stages import figures

        figures.run_potential_3d(args.spec, args.model, args.eval_dir, args.latent, args.out)
    elif args.stage == "nearest-neighbour":
        from .config import ConfigError
        from .stages import nearest_neighbour

        if args.spec is None:
            raise ConfigError("onsagerflow nearest-neighbour: give --spec, --data and --out (as the workflow does)")
        nearest_neighbour.run(args.spec, args.data, args.out)
    elif args.stage == "lstm-baseline":
        from .config import ConfigError
        from .stages import lstm_baseline

        if args.spec is None:
            raise ConfigError("onsagerflow lstm-baseline: give --spec, --data and --out (as the workflow does)")
        lstm_baseline.run(args.spec, args.data, args.out)
    elif args.stage == "pde-states":
        from .stages import pde_states

        pde_states.run(args.spec, args.data, args.out)
    elif args.stage == "pde-orbits":
        from .stages import pde_orbits

        pde_orbits.run(args.spec, args.data, args.out)


if __name__ == "__main__":
    sys.exit(main())
