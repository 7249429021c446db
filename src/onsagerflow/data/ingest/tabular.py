"""CSV (long format) on the canonical schema: one row per (trajectory, time), a column of
trajectory ids, a time column (or a uniform step), one column per state component. The
columns are read whole here (CSV files are small); each trajectory's rows keep file order
unless ``csv.sort`` sorts them by time."""

from __future__ import annotations

import numpy as np

from .check import IngestError, check_time
from .map import FileMap, VarMap, carried_attrs, source_names, var_spec
from .open import CsvReader


def _label(reader: CsvReader, k: int) -> str:
    return f"'{reader.labels[k]}'"


def map_csv(reader: CsvReader, source, layout) -> FileMap:
    path = reader.path
    csv = source["csv"]
    n = len(reader.rows)
    if len(layout) != 1:
        first = next(iter(source["variables"]))
        raise IngestError(
            f"{path}: variable '{first}': CSV holds state data (layout 'state'), not a '{source['layout']}' layout"
        )
    specs = {variable: var_spec(v) for variable, v in source["variables"].items()}
    tcol = csv.get("time_column") or source["time"].get("name")
    lengths = [len(r) for r in reader.rows]
    if tcol is not None:
        times = [np.asarray(t, np.float64) for t in reader.column(tcol, "time")]
        for k, t in enumerate(times):
            if t.size > 1 and not np.all(np.diff(t) > 0):
                order = np.argsort(t, kind="stable")
                if np.any(np.diff(t[order]) == 0) or not csv["sort"]:
                    i = int(np.argmin(np.diff(t) > 0))
                    raise IngestError(
                        f"{path}: variable 'time': trajectory {_label(reader, k)} is not "
                        f"strictly increasing in '{tcol}' (at its row {i}: {t[i]} then "
                        f"{t[i + 1]}); set source.csv.sort: true to sort rows by time"
                    )
                reader.rows[k] = reader.rows[k][order]
                times[k] = t[order]
        for k, t in enumerate(times):
            check_time(t, path, k, 1)
        time_attrs = {"units": source["time"]["units"]} if "units" in source["time"] else {}
    elif "dt" in source["time"]:
        tspec = source["time"]
        times = [tspec["start"] + tspec["dt"] * np.arange(m) for m in lengths]
        time_attrs = {}
    else:
        raise IngestError(f"{path}: variable 'time': set source.csv.time_column or source.time.dt")
    vars_ = {}
    for variable, vspec in specs.items():  # columns read in the (possibly) sorted row order
        names = source_names(vspec)
        cols = [reader.column(c, variable) for c in names]
        vars_[variable] = VarMap(
            variable,
            cols,
            ("trajectory", "time"),
            ("trajectory", "time", "state"),
            layout[-1],
            carried_attrs(vspec, {}, variable),
            labels={"state": list(names)},
        )
    params = {}
    for coord, pname in source["trajectory_parameters"].items():
        params[coord] = _constant(reader, pname, f"trajectory parameter '{coord}'", True)
    given = source.get("split")  # optional: no block means splits by fraction
    split = (
        _constant(reader, given["variable"], "source.split.variable", False) if given and "variable" in given else None
    )
    return FileMap(
        path,
        "csv",
        n,
        times,
        vars_,
        params,
        labels=np.asarray(reader.labels),
        sizes={"time": max(lengths)},  # 'state' is stacked: its size is the number of columns
        time_attrs=time_attrs,
        split=split,
    )


def _constant(reader: CsvReader, column: str, what: str, numeric: bool) -> np.ndarray:
    """A column's one value per trajectory; it must not change within a trajectory."""
    vals = []
    for k, c in enumerate(reader.column(column, what, numeric)):
        if not np.all(c == c[0]):
            raise IngestError(f"{reader.path}: {what}: column '{column}' changes within trajectory {_label(reader, k)}")
        vals.append(c[0])
    return np.asarray(vals)
