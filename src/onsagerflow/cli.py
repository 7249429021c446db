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
import os
import sys
import time

_STARTED = time.time()  # this module loads first: the stage's wall time counts from here
INTERACTIVE = ("info", "jobs", "check")  # commands for a person at a terminal, not workflow jobs

from .cli_parser import DEBUG_ENV, parser  # noqa: E402 (after the clock starts)

__all__ = ["entry", "failed", "main", "parser", "run_stage"]


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes NAME=PATH, got '{item}'")
        out[key] = path
    return out


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


def entry() -> None:
    """The ``onsagerflow`` command: ``main``, then an immediate exit. When ``main`` returns, a
    stage's outputs are complete (written atomically and closed); what the interpreter's own
    teardown would add (JAX's backends and threads, a few hundred modules) changes nothing
    and cost about a CPU-second per workflow job (dozens in a run), so only the logs and
    standard streams are flushed."""
    code = main()
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # `onsagerflow jobs | head`: the reader is gone
            pass
    os._exit(code)


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
        from .config import ConfigError
        from .stages import table

        if args.noise_floor and not args.polymer:
            raise ConfigError("onsagerflow table: --noise-floor goes with --polymer")
        if args.polymer:
            table.run_polymer(args.metrics, args.csv, args.md, args.noise_floor)
            return
        make = table.run_baselines if args.baselines else table.run_latent if args.latent else table.run
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
    elif args.stage == "evaluate-system":
        from .stages import evaluate

        evaluate.run_system(
            args.spec,
            args.data,
            _pairs(args.model, "--model"),
            _pairs(args.eval, "--eval"),
            args.reducer,
            args.fields,
            args.pde_states,
            args.pde_orbits,
        )
    elif args.stage == "figures":
        from .stages import figures

        figures.run(args.spec, _pairs(args.model, "--model"), _pairs(args.eval, "--eval"), args.out_dir)
    elif args.stage == "figures-fields":
        from .stages import figures_fields

        figures_fields.run_fields(
            args.spec,
            _pairs(args.model, "--model"),
            _pairs(args.eval, "--eval"),
            args.reducer,
            args.data,
            args.latent,
            args.out_dir,
        )
    elif args.stage == "figures-polymer":
        from .stages import figures_polymer

        figures_polymer.run_polymer(
            args.spec, args.run, args.model, args.eval_dir, args.reducer, args.latent, args.out_dir
        )
    elif args.stage == "potential":
        from .stages import figures

        figures.run_potential(args.spec, args.model, args.eval_dir, args.out)
    elif args.stage == "potential-3d":
        from .stages import figures_fields

        figures_fields.run_potential_3d(args.spec, args.model, args.eval_dir, args.latent, args.out)
    elif args.stage == "nearest-neighbour":
        from .stages import nearest_neighbour

        nearest_neighbour.run(args.spec, args.data, args.out)
    elif args.stage == "noise-floor":
        from .stages import noise_floor

        noise_floor.run(args.spec, args.data, args.draw, args.out, args.ensemble, args.part, args.parts)
    elif args.stage == "pde-states":
        from .stages import pde_states

        pde_states.run(args.spec, args.data, args.out)
    elif args.stage == "pde-orbits":
        from .stages import pde_orbits

        pde_orbits.run(args.spec, args.data, args.out)
    elif args.stage == "lstm-baseline":
        from .stages import lstm_baseline

        lstm_baseline.run(args.spec, args.data, args.out)


if __name__ == "__main__":
    sys.exit(main())
