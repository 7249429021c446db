"""What ingestion refuses, and how it says so: one error type whose message names the file,
the variable and (where there is one) the trajectory, and the checks of time axes and data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..schema import SchemaError, time_axis_problem


class IngestError(SchemaError):
    """A source file that cannot become a canonical store; the message names the file,
    the variable and the trajectory where there is one."""


def shortlist(names: Sequence[str], k: int = 20) -> str:
    """Up to ``k`` names, sorted, for an error message."""
    names = sorted(names)
    return ", ".join(names[:k]) + (f", ... ({len(names)} in all)" if len(names) > k else "") or "nothing"


def traj(k: int, n: int) -> str:
    """' (trajectory k of the file)' where a file holds several, else nothing."""
    return f" (trajectory {k} of the file)" if n > 1 else ""


def check_time(t: np.ndarray, path: Path | str, k: int, n: int) -> None:
    """A time axis must be finite and strictly increasing."""
    problem = time_axis_problem(t)
    if problem:
        raise IngestError(f"{path}: variable 'time': the time axis{traj(k, n)} {problem}")


def check_finite(a: np.ndarray, path: Path | str, variable: str, where) -> None:
    """``a`` is (trajectory, time, ...); ``where(i)`` names its i-th trajectory."""
    ok = np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    if not ok.all():
        i = int(np.argmin(ok))
        t, *_ = np.argwhere(~np.isfinite(a[i]))[0]
        raise IngestError(f"{path}: variable '{variable}': NaN or inf{where(i)} at time index {int(t)}")
