"""``onsagerflow table``: one row per system and model, CSV and Markdown.

Every metrics file is checked as it is read (valid JSON, the keys a row needs); a run
whose training did not learn (training.warnings in its metrics) gets its warnings in
the 'training warnings' column of the CSV, and a mark after its name in the Markdown,
with the warnings as notes under the table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from ..data import atomic_path
from ..errors import DamagedFileError
from .common import read_json
from .table_format import WARNINGS, to_markdown, with_seed_summaries
from .table_rows import (
    BASELINE_COLUMNS,
    BASELINE_NOTES,
    LATENT_NOTES,
    POLYMER_NOTES,
    baseline_row,
    latent_row,
    noise_floor_row,
    polymer_row,
    row,
)

log = logging.getLogger("onsagerflow.table")

__all__ = [
    "read_metrics",
    "rows",
    "run",
    "run_baselines",
    "run_latent",
    "run_polymer",
    "to_markdown",
    "with_seed_summaries",
]

METRICS_KEYS = ("system", "training", "provenance")


def read_metrics(path: str) -> dict:
    return read_json(path, "metrics file", needs=METRICS_KEYS)


def learning_warnings(m: dict) -> str:
    return "; ".join(m["training"].get("warnings", []))  # metrics made before the judge have none


def rows(metrics_files: list[str], make_row) -> list[dict]:
    """One row per metrics file; a file without a key its row needs is named."""
    out = []
    for f in metrics_files:
        m = read_metrics(f)
        try:
            r = make_row(m)
        except (KeyError, TypeError, IndexError) as exc:
            raise DamagedFileError(
                f"metrics file {f} lacks {exc} for this table (made by another version of onsagerflow, or "
                "damaged); delete it and rerun the evaluate rule"
            ) from None
        r[WARNINGS] = learning_warnings(m)
        out.append(r)
    return out


def run(
    metrics_files: list[str],
    out_csv: str,
    out_md: str,
    make_row=None,
    notes: list[str] | None = None,
    extra_rows: list[dict] | None = None,
) -> None:
    """One row per metrics file (``row`` by default), each system's ``extra_rows`` after its
    runs, written as CSV and Markdown (``notes`` as footnotes under the Markdown table)."""
    table_rows = rows(metrics_files, make_row or row)
    for extra in extra_rows or []:
        last = max((i for i, r in enumerate(table_rows) if r["system"] == extra["system"]), default=len(table_rows) - 1)
        table_rows.insert(last + 1, {**extra, WARNINGS: ""})
    df = pd.DataFrame(table_rows)
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    footer = "\n" + "\n".join(f"- {note}" for note in notes) + "\n" if notes else ""
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(df) + footer)
    log.info("wrote %s and %s (%d rows)", out_csv, out_md, len(df))


def run_latent(metrics_files: list[str], out_csv: str, out_md: str) -> None:
    def order(f):
        m = read_metrics(f)
        try:
            return (m["system"], m["latent"], m["autoencoder"], m["model_key"])
        except KeyError as exc:
            raise DamagedFileError(
                f"metrics file {f} lacks {exc} for the latent table; rerun the evaluate rule"
            ) from None

    run(sorted(metrics_files, key=order), out_csv, out_md, latent_row, LATENT_NOTES)


NOISE_FLOOR_KEYS = ("system", "draw", "ensembles")


def run_polymer(metrics_files: list[str], out_csv: str, out_md: str, noise_floor_files: Sequence[str] = ()) -> None:
    """The polymer runs, and after each system's the mean of its ``onsagerflow noise-floor``
    draws (the simulator judged against its own test ensembles)."""
    by_system: dict[str, dict[str, dict]] = {}
    for f in noise_floor_files:
        d = read_json(f, "noise-floor file", needs=NOISE_FLOOR_KEYS)
        by_system.setdefault(d["system"], {})[str(f)] = d
    floors = []
    for system, draws in by_system.items():
        try:
            floors.append(noise_floor_row(list(draws.values())))
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedFileError(
                f"the noise-floor files of {system} ({', '.join(draws)}) lack {exc} (made by another version of "
                "onsagerflow, or damaged); delete them and rerun the noise_floor rule"
            ) from None
    run(metrics_files, out_csv, out_md, polymer_row, POLYMER_NOTES if floors else None, floors)


def run_baselines(metrics_files: list[str], out_csv: str, out_md: str) -> None:
    """Every run of every system, OnsagerNet beside the baselines, with footnotes in the Markdown."""
    df = pd.DataFrame(rows(metrics_files, baseline_row), columns=BASELINE_COLUMNS)
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(df) + "\n" + "\n".join(f"- {note}" for note in BASELINE_NOTES) + "\n")
    log.info("wrote %s and %s (%d rows)", out_csv, out_md, len(df))
