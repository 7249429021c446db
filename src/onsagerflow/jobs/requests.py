"""What each job asks the scheduler for, and the table of every job of a config.

runtime (minutes) = jobs.margin × the estimate (onsagerflow.jobs.work), at least
jobs.min_minutes; memory = the estimate's. A job whose request would pass jobs.max_hours is a
config error naming it: simulate jobs are cut into shards that fit (onsagerflow.jobs.shards),
but a training run or an evaluation cannot be. Work that cannot be known before the run (an
ingested store not yet ingested) asks for the cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, runs_of
from ..config.paths import noise_floor_jobs
from . import work
from .shards import calibration_plan, noise_floor_plan, range_name, rates_of, shard_plan
from .work import BASE_MB, Estimate

SIMULATED_TYPES = ("lorenz", "langevin", "rbc", "polymer")  # the systems with a work estimate of their simulation


def runtime_minutes(config: Mapping[str, Any], est: Estimate | None, job: str) -> int:
    jobs = config["jobs"]
    cap = int(round(jobs["max_hours"] * 60))
    if est is None:
        return cap
    minutes = max(jobs["min_minutes"], math.ceil(jobs["margin"] * est.seconds / 60))
    if minutes > cap:
        raise ConfigError(
            f"{job}: estimated {est.hours:.1f} h ({est.work}) × jobs.margin {jobs['margin']} passes "
            f"jobs.max_hours ({jobs['max_hours']} h); raise jobs.max_hours or make the job smaller"
        )
    return minutes


def estimate(config: Mapping[str, Any], rule: str, system: str, item: str | None = None) -> Estimate | None:
    """The estimate of one job: ``rule`` a rule name, ``item`` its shard, part or run."""
    rates = rates_of(config)
    if (
        rule in ("simulate_shard", "calibrate_part", "noise_floor_part", "train", "evaluate", "evaluate_ensembles")
        and item is None
    ):
        raise ValueError(f"rule '{rule}' needs its shard, part or run")
    if (
        rule in ("simulate", "simulate_shard", "gather", "calibrate_part")
        and config["systems"][system]["type"] not in SIMULATED_TYPES
    ):
        return None
    if rule == "simulate":
        return work.simulate(config, system, rates)
    if rule == "simulate_shard":
        from .shards import parse_range

        return work.simulate(config, system, rates, parse_range(str(item)))
    if rule == "gather":
        return work.gather(config, system, rates)
    if rule == "calibrate_part":
        from .shards import parse_range

        return work.calibration(config, system, rates, parse_range(str(item), "calibration part"))
    if rule == "calibrate":
        return Estimate(rates["startup"], BASE_MB + 500, "fit")
    if rule == "noise_floor":  # every draw of every test ensemble costs the same
        return work.noise_floor(config, system, rates)
    if rule == "noise_floor_part":  # item: draw<k>_ensemble<e>_<start>-<stop>
        from .shards import parse_range

        return work.noise_floor(config, system, rates, parse_range(str(item).rpartition("_")[2], "noise-floor part"))
    if rule == "noise_floor_judge":
        return work.noise_floor_judge(config, system, rates)
    if rule == "train":
        return work.train(config, system, str(item), rates)
    if rule in ("evaluate", "evaluate_ensembles"):
        return work.evaluate(config, system, str(item), rates)
    if rule == "evaluate_system":  # its runs one after another, started once
        parts = [work.evaluate(config, system, r, rates) for r in runs_of(config, system)]
        if any(p is None for p in parts):
            return None
        return Estimate(
            sum(p.seconds for p in parts if p) - (len(parts) - 1) * rates["startup"],
            max(p.mem_mb for p in parts if p),
            "; ".join(sorted({p.work for p in parts if p})) + " per run",
        )
    raise ValueError(f"no estimate for rule '{rule}'")


def resources(config: Mapping[str, Any], rule: str, system: str, item: str | None = None) -> dict[str, int]:
    """{'runtime': minutes, 'mem_mb': MB} for one job (what a rule's resources read)."""
    est = estimate(config, rule, system, item)
    name = f"{rule} {system}" + (f" {item}" if item else "")
    mem = est.mem_mb if est is not None else BASE_MB * 4
    return {"runtime": runtime_minutes(config, est, name), "mem_mb": int(mem)}


@dataclass(frozen=True)
class Job:
    rule: str
    system: str
    item: str | None
    estimate: Estimate | None
    runtime: int  # minutes requested
    mem_mb: int


def jobs(config: Mapping[str, Any]) -> list[Job]:
    """Every job whose size is computed: calibration, simulation, gather, noise floor, train, evaluate."""
    out = []

    def add(rule, system, item=None):
        est = estimate(config, rule, system, item)
        res = resources(config, rule, system, item)
        out.append(Job(rule, system, item, est, res["runtime"], res["mem_mb"]))

    for system, block in config["systems"].items():
        if "source" not in block:
            parts = calibration_plan(config, system)
            for part in parts:
                add("calibrate_part", system, range_name(part))
            if parts:
                add("calibrate", system)
            plan = shard_plan(config, system)
            if len(plan) == 1:
                add("simulate", system)
            else:
                for r in plan:
                    add("simulate_shard", system, range_name(r))
                add("gather", system)
        for draw, ensemble in noise_floor_jobs(config, system):
            name = f"draw{draw}_ensemble{ensemble}"
            parts = noise_floor_plan(config, system)
            if len(parts) == 1:
                add("noise_floor", system, name)
            else:
                for part in parts:
                    add("noise_floor_part", system, f"{name}_{range_name(part)}")
                add("noise_floor_judge", system, name)
        for run in runs_of(config, system):
            add("train", system, run)
            if not config["jobs"]["evaluate_per_system"]:
                add("evaluate_ensembles" if block["type"] == "polymer" else "evaluate", system, run)
        if config["jobs"]["evaluate_per_system"]:
            add("evaluate_system", system)
    return out


def table(config: Mapping[str, Any]) -> str:
    """The job table and its totals, as text."""
    rows = jobs(config)
    cap = config["jobs"]["max_hours"]
    lines = [
        f"{'rule':18s} {'system':16s} {'shard/run':28s} {'estimate h':>10s} {'request h':>9s} {'mem MB':>7s}  work"
    ]
    for j in rows:
        est = f"{j.estimate.hours:10.2f}" if j.estimate else f"{'unknown':>10s}"
        rule, item = j.rule, j.item or ""
        if rule == "evaluate_system":  # the workflow's rule for it: one per system
            k = len(runs_of(config, j.system))
            rule, item = f"evaluate_system_{j.system}", f"{k} run{'s' if k != 1 else ''}"
        lines.append(
            f"{rule:18s} {j.system:16s} {item:28s} {est} {j.runtime / 60:9.2f} {j.mem_mb:7d}  "
            f"{j.estimate.work if j.estimate else 'not known before the run: asks for the cap'}"
        )
    lines.append(summary(config, rows))
    lines.append(f"every job within jobs.max_hours = {cap} h: {all(j.runtime <= cap * 60 for j in rows)}")
    return "\n".join(lines)


def summary(config: Mapping[str, Any], rows: list[Job] | None = None) -> str:
    """One line: jobs, estimated core-hours, requested hours and the longest job against the cap."""
    rows = jobs(config) if rows is None else rows
    known = [j.estimate for j in rows if j.estimate is not None]
    core = sum(e.hours for e in known)
    longest = max(rows, key=lambda j: j.runtime) if rows else None
    by_rule: dict[str, float] = {}
    for j in rows:
        if j.estimate is not None:
            by_rule[j.rule] = by_rule.get(j.rule, 0.0) + j.estimate.hours
    parts = ", ".join(f"{r} {h:.1f}" for r, h in by_rule.items())
    text = (
        f"{len(rows)} sized jobs: {core:.1f} estimated core-hours ({parts}); "
        f"{sum(j.runtime for j in rows) / 60:.1f} h requested"
    )
    if longest:
        text += (
            f"; longest request {longest.runtime / 60:.1f} h ({longest.rule} {longest.system}"
            f"{' ' + longest.item if longest.item else ''}) of jobs.max_hours {config['jobs']['max_hours']} h"
        )
    if len(known) < len(rows):
        text += f"; {len(rows) - len(known)} jobs of unknown size ask for the cap"
    return text
