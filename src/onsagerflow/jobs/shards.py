"""Which trajectories each simulate job holds: the shard plan of a system.

A system is simulated by one job when its whole store fits the time a job may take
(``shards.hours``, else ``jobs.max_hours``, after ``jobs.margin``); otherwise in shards of
consecutive trajectories, each one job writing its own store, gathered afterwards. A shard holds
whole simulator batches where it can (a polymer batch is padded to full size, and every RBC
batch compiles its solver again, so a split batch costs more than a whole one). ``shards.size``
fixes the trajectories per shard instead; a size whose shards would not fit the cap is an
error, as is a single batch that does not. The polymer's λ measurement, when it has one, is cut
into parts of chains the same way.

Shards are named by their range, ``{start}-{stop}``, so a shard of another plan (another size,
other rates) is never taken for one of this plan.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..config import ConfigError
from . import work
from .rates import load_rates
from .work import Estimate


def parse_range(text: str, what: str = "shard") -> range:
    """'A-B' -> range(A, B): a shard's or calibration part's name."""
    a, sep, b = str(text).partition("-")
    if not (sep and a.isdigit() and b.isdigit() and int(a) < int(b)):
        raise ValueError(f"{what} '{text}': expected START-STOP with 0 <= START < STOP")
    return range(int(a), int(b))


def range_name(r: range) -> str:
    return f"{r.start}-{r.stop}"


def cut(n: int, size: int) -> list[range]:
    return [range(a, min(a + size, n)) for a in range(0, n, size)]


def rates_of(config: Mapping[str, Any]) -> dict[str, float]:
    return load_rates(config["jobs"]["rates"])


def budget_seconds(config: Mapping[str, Any], system: str) -> float:
    """The most estimated time one job of this system may hold: its target over the margin."""
    jobs = config["jobs"]
    hours = config["systems"][system]["shards"]["hours"]
    if hours is not None and hours > jobs["max_hours"]:
        raise ConfigError(
            f"systems.{system}.shards.hours: {hours} exceeds jobs.max_hours ({jobs['max_hours']}), "
            "the most any job may take"
        )
    return (hours or jobs["max_hours"]) * 3600 / jobs["margin"]


def cap_seconds(config: Mapping[str, Any]) -> float:
    return config["jobs"]["max_hours"] * 3600 / config["jobs"]["margin"]


_PLANS: dict[str, list[range]] = {}


def _memo(kind: str, config: Mapping[str, Any], system: str, make: Callable[[], list[range]]) -> list[range]:
    key = json.dumps([kind, system, config["systems"][system], config["jobs"]], sort_keys=True, default=str)
    if key not in _PLANS:
        _PLANS[key] = make()
    return _PLANS[key]


def shard_plan(config: Mapping[str, Any], system: str) -> list[range]:
    """The trajectories of each simulate job of a simulated system; one range: a single job."""
    return _memo("shards", config, system, lambda: _shard_plan(config, system))


def _shard_plan(config: Mapping[str, Any], system: str) -> list[range]:
    sz = work.sizes(config, system)
    if sz is None:  # a simulator without a work estimate runs as one job
        return [range(0, _count(config, system))]
    rates = rates_of(config)
    size = config["systems"][system]["shards"]["size"]
    batch = work.batch_size(config, system)
    if size is None and work.simulate(config, system, rates).seconds <= budget_seconds(config, system):
        return [range(0, sz.n)]

    def fits(s: int, limit: float) -> bool:
        return max(work.simulate(config, system, rates, r).seconds for r in cut(sz.n, s)) <= limit

    if size is not None:
        if size % batch and size < sz.n:
            raise ConfigError(
                f"systems.{system}.shards.size: {size} is not a whole number of the simulator's batches "
                f"of {batch} trajectories (a shard holds whole batches, so that it is bit for bit the same)"
            )
        if size >= sz.n and work.simulate(config, system, rates).seconds <= cap_seconds(config):
            return [range(0, sz.n)]
        if not fits(min(size, sz.n), cap_seconds(config)):
            best = _largest(sz.n, batch, lambda s: fits(s, cap_seconds(config)))
            raise ConfigError(
                f"systems.{system}.shards.size: shards of {size} trajectories are estimated above "
                f"jobs.max_hours ({config['jobs']['max_hours']} h, margin {config['jobs']['margin']}); "
                + (f"at most {best} fit" if best else "not even one batch fits: lower the simulation's batch_size")
            )
        return cut(sz.n, min(size, sz.n))
    best = _largest(sz.n, batch, lambda s: fits(s, budget_seconds(config, system)))
    if not best:  # not even one batch fits
        one = max((work.simulate(config, system, rates, r) for r in cut(sz.n, batch)), key=lambda e: e.seconds)
        raise ConfigError(
            f"systems.{system}: one batch of {min(batch, sz.n)} trajectories is estimated at up to "
            f"{one.hours:.1f} h, over the {budget_seconds(config, system) / 3600:.1f} h a job may hold "
            "(shards.hours or jobs.max_hours over jobs.margin); lower the simulation's batch size or raise the cap"
        )
    return cut(sz.n, best)


def _largest(n: int, batch: int, ok: Callable[[int], bool]) -> int:
    """The largest whole number of batches (at most n) for which ``ok`` holds, or 0."""
    candidates = [min(k * batch, n) for k in range(1, math.ceil(n / batch) + 1)]
    lo, hi = 0, len(candidates)  # binary search: ok is monotone in the size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(candidates[mid - 1]):
            lo = mid
        else:
            hi = mid - 1
    return candidates[lo - 1] if lo else 0


def _count(config: Mapping[str, Any], system: str) -> int:
    from ..config import data_spec
    from ..systems import get_system

    spec = data_spec(config, system)
    return int(get_system(spec["type"]).trajectory_count(spec))


def calibration_plan(config: Mapping[str, Any], system: str) -> list[range]:
    """Parts of the system's calibration (the polymer's λ measurement, in chains), or [] where
    it needs none."""
    return _memo("calibration", config, system, lambda: _calibration_plan(config, system))


def _calibration_plan(config: Mapping[str, Any], system: str) -> list[range]:
    from ..config import data_spec

    spec = data_spec(config, system)
    if spec["type"] != "polymer":
        return []
    from ..systems import get_system

    P = get_system("polymer")
    units = P.calibration_size(spec)
    if not units:
        return []
    rates = rates_of(config)
    limit = budget_seconds(config, system)
    batch = P.calibration_batch(spec)

    def estimate(r: range) -> Estimate:
        return work.calibration(config, system, rates, r)

    best = _largest(units, batch, lambda s: max(estimate(r).seconds for r in cut(units, s)) <= limit)
    if best < min(batch, units):
        raise ConfigError(
            f"systems.{system}.simulation.relaxation_measurement: one batch of {batch} chains at rest is "
            f"estimated at {estimate(range(0, batch)).hours:.1f} h, over the time a job may hold; lower "
            "simulation.batch_size, shorten the measurement's duration, or give parameters.relaxation_time"
        )
    return cut(units, best)


def noise_floor_plan(config: Mapping[str, Any], system: str) -> list[range]:
    """Parts of a test ensemble's realisations, each one job of a noise-floor draw (whole
    batches, within the time a job may hold); one range: one job reruns and judges it."""
    return _memo("noise_floor", config, system, lambda: _noise_floor_plan(config, system))


def _noise_floor_plan(config: Mapping[str, Any], system: str) -> list[range]:
    rates = rates_of(config)
    limit = budget_seconds(config, system)
    n = config["systems"][system]["simulation"]["n_realisations"]
    if work.noise_floor(config, system, rates).seconds <= limit:
        return [range(0, n)]
    batch = work.batch_size(config, system)
    best = _largest(
        n, batch, lambda s: max(work.noise_floor(config, system, rates, r).seconds for r in cut(n, s)) <= limit
    )
    if not best:
        raise ConfigError(
            f"systems.{system}: one batch of {min(batch, n)} chains of the noise floor is estimated at "
            f"{work.noise_floor(config, system, rates, range(0, min(batch, n))).hours:.1f} h, over the time a job may "
            "hold; lower the simulation's batch size, raise the cap, or set evaluation.noise_floor_draws: 0"
        )
    return cut(n, best)
