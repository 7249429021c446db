"""The config as the Snakefile receives it: files read by Snakemake, ``--config`` values
typed, then validated and checked here — at DAG build, so ``snakemake -n`` fails on a
config that cannot work, with one line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .validate import SCHEMA, load_yaml, parse_yaml, validate_config


def shown_path(path: str | os.PathLike) -> str:
    """A path as a user would type it: relative to the working directory where inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def check_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Read each config file with the strict loader: a YAML error or a key given twice names
    the file and line. Returns the files' shown paths."""
    shown = [shown_path(p) for p in paths]
    for p in shown:
        load_yaml(p)
    return shown


def typed_overrides(config_args: Iterable[str] | None) -> dict[str, Any]:
    """The nested ``--config KEY=VALUE`` values, parsed as YAML with their types.

    Snakemake reads a mapping or list given on the command line with YAML's base loader,
    so every number and boolean inside arrives as a string; scalars at the top level it
    types itself (int, float, True/False), and those are left to it."""
    typed = {}
    for arg in config_args or ():
        key, sep, text = str(arg).partition("=")
        if not sep:
            continue  # Snakemake itself refuses it
        value = parse_yaml(text, f"--config {key}")
        if isinstance(value, dict | list):
            typed[key] = value
    return typed


def overlay(base: dict, typed: Mapping[str, Any]) -> None:
    """Lay typed values over the same keys, recursing into mappings as Snakemake merges them."""
    for key, value in typed.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            overlay(base[key], value)
        else:
            base[key] = value


def workflow_config(
    config: dict,
    configfiles: Iterable[str | os.PathLike],
    config_args: Iterable[str] | None = None,
    schema_path: str | os.PathLike = SCHEMA,
) -> dict:
    """Type the ``--config`` values, validate, fill defaults, expand seeds and check, in place.
    An error names the config file(s), or ``--config`` where the key was set there."""
    files = ", ".join(shown_path(p) for p in configfiles)
    overlay(config, typed_overrides(config_args))
    given = {str(arg).partition("=")[0] for arg in config_args or ()}
    try:
        return validate_config(config, schema_path)
    except ConfigError as exc:
        source = "--config" if exc.path[:1] and exc.path[0] in given else files
        raise ConfigError(f"{source}: {exc}", exc.path) from None
