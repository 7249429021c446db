"""``onsagerflow calibrate``: what a simulator measures once before its trajectories (the
polymer's relaxation time λ), in parts that run as separate jobs, then combined.

A part writes ``.npz`` arrays (``--part A-B``: units A..B−1 of the measurement, e.g. chains);
the combining call reads every part and writes the calibration JSON that ``simulate
--calibration`` reads, so every shard of the store uses the same λ.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..data import atomic_path
from ..provenance import stamp
from ..systems import get_system

log = logging.getLogger("onsagerflow.calibrate")


def run_part(spec: dict, units: range, out: str) -> None:
    system = get_system(spec["type"])
    n = calibration_size(system, spec)
    if units.start < 0 or units.stop > n or len(units) == 0:
        raise ConfigError(
            f"systems.{spec['name']}: calibration part {units.start}-{units.stop} is not a range of its {n} units"
        )
    t0 = time.perf_counter()
    log.info("calibrating %s: units %d–%d of %d", spec["name"], units.start, units.stop - 1, n)
    arrays = system.calibrate_part(spec, np.arange(units.start, units.stop))
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    log.info("calibration part written in %.1f s: %s", time.perf_counter() - t0, out)


def run(spec: dict, parts: list[str], out: str) -> None:
    system = get_system(spec["type"])
    loaded = []
    for path in parts:
        try:
            with np.load(path) as f:
                loaded.append({k: f[k] for k in f.files})
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(f"calibration part {path} is missing or malformed: {exc}") from None
    result = system.calibrate(spec, loaded)
    log.info("calibration of %s from %d parts: %s", spec["name"], len(parts), result)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps({"calibration": result, "parts": len(parts), **stamp(spec)}, indent=2))


def calibration_size(system, spec: dict) -> int:
    """Units of a system's calibration (0: it needs none)."""
    size = getattr(system, "calibration_size", None)
    return int(size(spec)) if size is not None else 0
