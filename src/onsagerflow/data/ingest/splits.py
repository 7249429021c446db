"""The split of an ingested store, made over runs: by the fractions and seed of the system
(a seeded permutation, as for simulated data), or as the user gives it — a variable in the
files naming each trajectory's split, or lists of runs — to follow a paper's own split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..schema import SPLIT_CODES
from ..split import assign_splits
from .check import IngestError, shortlist
from .map import FileMap
from .plan import Plan

SPLITS = tuple(SPLIT_CODES)  # train, val, test


def run_splits(spec: Mapping[str, Any], p: Plan) -> np.ndarray:
    """int8 split code per run (store trajectory)."""
    given = spec["source"].get("split")  # optional: no block means splits by fraction
    if given is None:
        try:
            return assign_splits(p.n, spec["splits"], spec["seed"])
        except ValueError as exc:
            raise IngestError(f"source.files: {len(p.files)} file(s) hold {p.n} runs: {exc}") from None
    codes = _from_variable(p, given["variable"]) if "variable" in given else _from_lists(p, given)
    for s in SPLITS:
        if not np.any(codes == SPLIT_CODES[s]):
            raise IngestError(f"source.split: no run is in '{s}'; training and evaluation need train, val and test")
    return codes


def _code(value, where: str) -> int:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        key = value.strip().lower()
        if key in SPLIT_CODES:
            return SPLIT_CODES[key]
    elif float(value) in SPLIT_CODES.values():
        return int(value)
    raise IngestError(f"{where}: split value {value!r} is none of {list(SPLITS)} (or their codes 0, 1, 2)")


def _from_variable(p: Plan, name: str) -> np.ndarray:
    out = np.empty(p.n, np.int8)
    for r, run in enumerate(p.runs):
        values = {_file_code(p.files[i], k, name) for i, k in run.pieces}
        if len(values) > 1:
            raise IngestError(f"run '{run.label}': source.split.variable '{name}' differs between its files")
        out[r] = values.pop()
    return out


def _file_code(f: FileMap, k: int, name: str) -> int:
    """Split code of trajectory ``k`` of file ``f``, from the variable ``name`` it holds."""
    where = f"{f.path}: source.split.variable '{name}'"
    if f.split is None:  # map_file reads the variable whenever source.split names one
        raise IngestError(f"{where}: not read from the file")
    return _code(f.split[k], where)


def _from_lists(p: Plan, given: Mapping[str, Any]) -> np.ndarray:
    """Lists of runs per split: an integer is a run's index in the store (its trajectory
    id: files in order, trajectories in file order), a string its label."""
    by_label = {run.label: r for r, run in enumerate(p.runs)}
    out = np.full(p.n, -1, np.int8)
    for s in SPLITS:
        for entry in given[s]:  # the schema asks for all three lists
            if isinstance(entry, str):
                if entry not in by_label:
                    raise IngestError(
                        f"source.split.{s}: '{entry}' is not a run (runs: {shortlist(list(by_label), 8)})"
                    )
                r = by_label[entry]
            else:
                r = int(entry)
                if not 0 <= r < p.n:
                    raise IngestError(f"source.split.{s}: run {r} is out of range (the store has runs 0..{p.n - 1})")
            if out[r] >= 0:
                raise IngestError(f"source.split.{s}: run '{p.runs[r].label}' is also in '{SPLITS[out[r]]}'")
            out[r] = SPLIT_CODES[s]
    missing = np.flatnonzero(out < 0)
    if missing.size:
        names = [p.runs[r].label for r in missing[:8]]
        raise IngestError(f"source.split: {missing.size} run(s) are in no list, e.g. {names}")
    return out
