"""``onsagerflow <stage>``: the only entry point the workflow's rules call.

Each stage takes a JSON ``--spec`` (the slice of the config it depends on, or
``@file.json``), its inputs and its outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="onsagerflow", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="stage")

    def stage(name, help_):
        s = sub.add_parser(name, help=help_)
        s.add_argument("--spec", type=_spec, required=True, help="JSON object or @file.json")
        s.add_argument("--threads", type=int, default=None, help="CPU threads XLA may use")
        return s

    s = stage("simulate", "simulate a built-in system into a canonical store")
    s.add_argument("--out", required=True)
    s = stage("reduce", "fit a PCA on a field store's train split and write the latent store")
    s.add_argument("--data", required=True)
    s.add_argument("--out-dir", required=True)
    s = stage("train", "train a model on a store's train split")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--pretrained", help="checkpoint an autoencoder run starts its dynamics from")
    s = stage("evaluate", "evaluate a checkpoint on the store's test split")
    s.add_argument("--data", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--reducer", help="pca.zarr of a reduced system (decoded-field errors)")
    s.add_argument("--fields", help="the field store a reduced system's latents came from")
    s = stage("figures", "draw one system's figures")
    s.add_argument("--model", action="append", default=[], metavar="NAME=DIR")
    s.add_argument("--eval", action="append", default=[], metavar="NAME=DIR")
    s.add_argument("--out-dir", required=True)
    s = stage("potential", "draw a model's learned potential V")
    s.add_argument("--model", required=True)
    s.add_argument("--eval-dir", required=True)
    s.add_argument("--out", required=True, help="file stem; .png and .pdf are written")
    s = stage("figures-fields", "draw a reduced field system's figures")
    s.add_argument("--model", action="append", default=[], metavar="RUN=DIR")
    s.add_argument("--eval", action="append", default=[], metavar="RUN=DIR")
    s.add_argument("--reducer", required=True)
    s.add_argument("--data", required=True)
    s.add_argument("--latent", required=True)
    s.add_argument("--out-dir", required=True)
    s = stage("figures-polymer", "draw a polymer closure run's figures")
    s.add_argument("--run", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--eval-dir", required=True)
    s.add_argument("--reducer", required=True)
    s.add_argument("--latent", required=True)
    s.add_argument("--out-dir", required=True)
    t = sub.add_parser("table", help="results table from metrics.json files")
    t.add_argument("metrics", nargs="+")
    t.add_argument("--csv", required=True)
    t.add_argument("--md", required=True)
    t.add_argument("--latent", action="store_true", help="the latent-model table (PRF21 Table I)")
    t.add_argument("--polymer", action="store_true", help="the stochastic closure-model table (NCS24)")
    t.add_argument("--baselines", action="store_true",
                   help="every system's runs beside the baselines (MLP-ODE, SINDy, drift-only)")
    i = sub.add_parser("info", help="print the provenance of a result")
    i.add_argument("result")
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
    from .runtime import configure, setup_logging

    log = setup_logging()
    if args.stage == "info":
        from .stages import info

        info.run(args.result)
        return 0
    if args.stage == "table":
        from .stages import table

        make = (table.run_baselines if args.baselines else table.run_polymer if args.polymer
                else table.run_latent if args.latent else table.run)
        make(args.metrics, args.csv, args.md)
        return 0
    configure(args.threads)
    from .config import ConfigError
    from .data import SchemaError, StoreError

    USER_ERRORS = (ConfigError, SchemaError, StoreError, FileNotFoundError)
    try:
        if args.stage == "simulate":
            from .stages import simulate

            simulate.run(args.spec, args.out)
        elif args.stage == "reduce":
            from .stages import reduce

            reduce.run(args.spec, args.data, args.out_dir)
        elif args.stage == "train":
            from .stages import train

            train.run(args.spec, args.data, args.out, args.pretrained)
        elif args.stage == "evaluate":
            from .stages import evaluate

            evaluate.run(args.spec, args.data, args.model, args.out_dir, args.reducer, args.fields)
        elif args.stage == "figures":
            from .stages import figures

            figures.run(args.spec, _pairs(args.model, "--model"), _pairs(args.eval, "--eval"),
                        args.out_dir)
        elif args.stage == "figures-fields":
            from .stages import figures

            figures.run_fields(args.spec, _pairs(args.model, "--model"), _pairs(args.eval, "--eval"),
                               args.reducer, args.data, args.latent, args.out_dir)
        elif args.stage == "figures-polymer":
            from .stages import figures

            figures.run_polymer(args.spec, args.run, args.model, args.eval_dir, args.reducer, args.latent,
                                args.out_dir)
        elif args.stage == "potential":
            from .stages import figures

            figures.run_potential(args.spec, args.model, args.eval_dir, args.out)
    except USER_ERRORS as exc:  # bad input: a clear message is worth more than a traceback
        log.error("%s failed: %s", args.stage, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
