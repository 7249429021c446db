"""Runs, not files: which files hold the pieces of one run, joined along time.

A solver run often spans several files — Dedalus starts a new set (``snapshots_s2.h5``,
``_s3``, ...) every ``max_writes`` writes; restarted jobs write a file per job. Every piece
of a run is the same trajectory, so the store holds one trajectory per run and the split
(made over trajectories) can never put pieces of one run in different splits.

``source.runs.by`` says how files group into runs:

- ``auto`` (default): Dedalus sets of one file handler in one folder form a run, in set
  order; any other file is a run of its own (or several, along a trajectory dimension);
- ``file``: every file is a run of its own (several along a trajectory dimension);
- ``directory``: the files in one folder are the pieces of one run;
- ``pattern``: files whose paths give the same match of the regular expression
  ``runs.pattern`` (its first group if it has one) are the pieces of one run.

Pieces are ordered by their Dedalus set number, else by their first time, and must follow
each other in time. A file holding several trajectories contributes its k-th trajectory to
the k-th run of its group, so every file of a group must hold as many.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .check import IngestError, shortlist
from .map import FileMap

SET_NUMBER = "set_number"  # Dedalus's attribute numbering a handler's sets from 1


@dataclass
class Run:
    """One trajectory of the store: its pieces (file index, trajectory index in that file)
    in time order, its label, its group (the files it came from) and its joined time axis."""

    label: str
    group: int
    pieces: list[tuple[int, int]]
    time: np.ndarray

    @property
    def first(self) -> tuple[int, int]:
        return self.pieces[0]


@dataclass
class Group:
    label: str
    files: list[int]  # indices into the source's files, in time order


def _key(f: FileMap, by: str, pattern: re.Pattern | None) -> str:
    if by == "pattern":
        if pattern is None:  # group_runs compiles source.runs.pattern, which the schema requires
            raise IngestError("source.runs.pattern: by: pattern needs a regular expression naming each file's run")
        m = pattern.search(f.path.as_posix())
        if m is None:
            raise IngestError(
                f"{f.path}: source.runs.pattern '{pattern.pattern}' does not match its path; every "
                "file must name its run"
            )
        return m.group(1) if pattern.groups else m.group(0)
    if by == "directory":
        return str(f.path.parent)
    if by == "auto" and f.dedalus and SET_NUMBER in f.attrs:
        return str(f.path.parent)  # Dedalus writes a handler's sets into a folder of their own
    return str(f.path)


def _labels(keys: list[str], by: str) -> list[str]:
    """Short names for the groups: paths relative to the folder they share."""
    if by == "pattern":
        return keys
    paths = [Path(k) for k in keys]
    if len(paths) == 1:
        return [paths[0].name or keys[0]]
    root = os.path.commonpath([str(p.parent) for p in paths])
    return [os.path.relpath(p, root) if root else str(p) for p in paths]


def _order(files: list[FileMap], members: list[int], label: str) -> list[int]:
    """Pieces of one group in time order: by Dedalus set number where every piece has one,
    else by first time; two pieces may not claim the same place."""
    if len(members) == 1:
        return members
    sets = [files[i].attrs.get(SET_NUMBER) for i in members]  # optional: Dedalus writes it
    keys: list[float]
    if all(s is not None for s in sets):
        keys = [int(s) for s in sets if s is not None]
        what = "set number"
    else:
        keys = [float(files[i].times[0][0]) for i in members]
        what = "first time"
    order = [members[j] for j in np.argsort(keys, kind="stable")]
    ks = sorted(keys)
    dup = next((k for a, k in zip(ks, ks[1:]) if a == k), None)
    if dup is not None:
        same = [str(files[i].path) for i, k in zip(members, keys) if k == dup]
        raise IngestError(
            f"run '{label}': files {same} have the same {what} {dup}; they cannot both be pieces of one run "
            "(set source.runs.by: pattern with runs.pattern naming each file's run, or directory)"
        )
    return order


def group_runs(files: list[FileMap], runs: Mapping[str, Any]) -> tuple[list[Run], list[Group]]:
    """The store's trajectories: every run, its pieces joined along time, in file order."""
    by = runs["by"]
    pattern = re.compile(runs["pattern"]) if by == "pattern" else None
    keys: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        keys.setdefault(_key(f, by, pattern), []).append(i)
    out: list[Run] = []
    groups: list[Group] = []
    for members, label in zip(keys.values(), _labels(list(keys), by)):
        members = _order(files, members, label)
        n = {files[i].n for i in members}
        if len(n) > 1:
            raise IngestError(
                f"run '{label}': its files hold different numbers of trajectories "
                f"({ {str(files[i].path): files[i].n for i in members} }); pieces are joined trajectory by trajectory"
            )
        g = len(groups)
        groups.append(Group(label, members))
        n_traj = files[members[0]].n
        for k in range(n_traj):
            pieces = [(i, k) for i in members]
            name = _run_label(files[members[0]], k, label, n_traj)
            out.append(Run(name, g, pieces, _join(files, pieces, name)))
    return out, groups


def _run_label(f: FileMap, k: int, label: str, n: int) -> str:
    if f.labels is not None:  # a CSV's own trajectory ids
        return str(f.labels[k])
    return f"{label}:{k}" if n > 1 else label


def _join(files: list[FileMap], pieces: list[tuple[int, int]], name: str) -> np.ndarray:
    times = [files[i].times[k] for i, k in pieces]
    for (i, _), (j, _), a, b in zip(pieces, pieces[1:], times, times[1:]):
        if b[0] <= a[-1]:
            raise IngestError(
                f"run '{name}': {files[j].path} starts at t = {b[0]:g}, before {files[i].path} ends "
                f"(t = {a[-1]:g}); the pieces of a run must follow each other in time"
            )
    return times[0] if len(times) == 1 else np.concatenate(times)


def describe(run: Run, files: list[FileMap]) -> str:
    """'run X (file a, b, ...)' for messages."""
    names = [files[i].path.name for i, _ in run.pieces]
    return f"run '{run.label}' ({shortlist(names, 4) if len(names) > 1 else files[run.first[0]].path})"
