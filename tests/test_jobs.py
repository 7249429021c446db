"""Job sizes from the work and measured rates (onsagerflow.jobs): estimates that scale with the
work they count, shard plans that keep every simulate job under the cap, and requests that
never pass it — for config/paper.yaml with the shipped rates too."""

import copy
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from onsagerflow.config import ConfigError, load_config, validate_config
from onsagerflow.jobs import (
    RATES,
    RATES_VERSION,
    calibration_plan,
    estimate,
    jobs,
    load_rates,
    noise_floor_plan,
    shard_plan,
)
from onsagerflow.jobs.work import sizes, windows

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "config" / "paper.yaml"


@pytest.fixture
def rates(tmp_path):
    """A rates file with round numbers, so that the tests do not depend on the measured ones."""
    values = dict.fromkeys(RATES, 1.0e5)
    values.update(startup=10.0, lorenz=500.0, rbc=4.0e6, rbc_call=2.0, polymer=2.5e6, store=200.0)
    path = tmp_path / "rates.yaml"
    doc = {"version": RATES_VERSION, "rates": {k: {"value": v, "unit": RATES[k]} for k, v in values.items()}}
    path.write_text(yaml.safe_dump(doc))
    return path


def paper(rates=None, **jobs_):
    raw = yaml.safe_load(PAPER.read_text())
    raw["jobs"] = {**({"rates": str(rates)} if rates else {}), **jobs_}
    return validate_config(raw)


def compute(config, rule, system, item=None):
    """An estimate's seconds without the start-up, which does not scale with the work."""
    return estimate(config, rule, system, item).seconds - load_rates(config["jobs"]["rates"])["startup"]


def requests_fit(rows, cap_hours) -> bool:
    """Every job's requested run time (minutes, computed by the sizing: nothing is timed) is
    within the cap."""
    return all(j.runtime <= cap_hours * 60 for j in rows)


def padded_hours(config, rule, system, item=None) -> float:
    """The sizing's estimate for a job, with the config's margin, in hours (computed from rates)."""
    return config["jobs"]["margin"] * estimate(config, rule, system, item).seconds / 3600


def test_every_job_of_the_paper_config_fits_the_cap_with_the_shipped_rates():
    config = load_config(PAPER)
    cap = config["jobs"]["max_hours"]
    rows = jobs(config)
    assert rows and requests_fit(rows, cap)
    for j in rows:  # the request covers the estimate with the margin
        assert j.runtime >= config["jobs"]["margin"] * j.estimate.seconds / 60 - 1e-9, j
    sharded = {j.system for j in rows if j.rule == "simulate_shard"}
    assert (
        "polymer_n300" in sharded
    )  # about 16 core-hours of Brownian dynamics at the shipped rate: no one job holds it
    assert any(j.rule == "calibrate_part" for j in rows)  # λ is measured, in parts


def test_estimates_scale_with_the_work(rates):
    base = paper(rates)
    # RBC: trajectories × steps × grid points (+ a compile per solver call: per batch, the run
    # and, with bursts, the fine run of the bursts; a burn-in would add one more)
    more = copy.deepcopy(base)
    more["systems"]["rbc_r28"]["simulation"]["nx"] *= 2
    sim = base["systems"]["rbc_r28"]["simulation"]
    per_batch = 1 + (sim["t_burn"] > 0) + (sim["burst_size"] > 1)
    calls = (
        per_batch * math.ceil(sim["n_trajectories"] / sim["batch_size"]) * load_rates(base["jobs"]["rates"])["rbc_call"]
    )
    assert compute(more, "simulate", "rbc_r28") - calls == pytest.approx(
        2 * (compute(base, "simulate", "rbc_r28") - calls)
    )
    assert compute(base, "simulate_shard", "rbc_r28", "0-50") - calls / 2 == pytest.approx(
        (compute(base, "simulate", "rbc_r28") - calls) / 2
    )
    # polymer: chains × beads × steps (λ given: the steps per chain stay the same)
    base["systems"]["polymer_n300"]["parameters"]["relaxation_time"] = 91.0
    more = copy.deepcopy(base)
    more["systems"]["polymer_n300"]["parameters"]["n_beads"] = 600
    assert compute(more, "simulate_shard", "polymer_n300", "0-64") == pytest.approx(
        2 * compute(base, "simulate_shard", "polymer_n300", "0-64"), rel=0.02
    )
    # Lorenz: trajectories × time
    more = copy.deepcopy(base)
    more["systems"]["lorenz_r16"]["simulation"]["n_trajectories"] = 200
    assert compute(more, "simulate", "lorenz_r16") == pytest.approx(2 * compute(base, "simulate", "lorenz_r16"))
    # training: epochs × windows
    more = copy.deepcopy(base)
    more["training"]["epochs"] *= 2
    assert compute(more, "train", "lorenz_r16", "onsagernet_s1") == pytest.approx(
        2 * compute(base, "train", "lorenz_r16", "onsagernet_s1")
    )
    assert windows(base, "lorenz_r16", sizes(base, "lorenz_r16")) == (
        70 * 100,
        10 * 100,
    )  # PRF21: 100 pairs from each of 70 train trajectories
    # evaluation grows with the test trajectories' rollouts
    more = copy.deepcopy(base)
    more["systems"]["polymer_n300"]["simulation"]["n_realisations"] *= 2
    assert compute(more, "evaluate_ensembles", "polymer_n300", "s_onsagernet_s1-n3") > 1.9 * compute(
        base, "evaluate_ensembles", "polymer_n300", "s_onsagernet_s1-n3"
    )


@pytest.mark.parametrize("cap", [12.0, 24.0, 48.0])
def test_shards_hold_whole_batches_cover_every_trajectory_once_and_fit_the_cap(rates, cap):
    config = paper(rates, max_hours=cap)
    for system, batch in (("rbc_r28", 10), ("rbc_r84", 10), ("polymer_n300", 64)):
        plan = shard_plan(config, system)
        n = plan[-1].stop
        assert [i for r in plan for i in r] == list(range(n))
        assert all(r.start % batch == 0 for r in plan)
        for r in plan:
            rule, item = ("simulate", None) if len(plan) == 1 else ("simulate_shard", f"{r.start}-{r.stop}")
            assert padded_hours(config, rule, system, item) <= cap
        # as few shards as fit: two of them would not
        if len(plan) > 1:
            joined = f"0-{min(2 * len(plan[0]), n)}"
            assert padded_hours(config, "simulate_shard", system, joined) > cap
    assert requests_fit(jobs(config), cap)
    parts = calibration_plan(config, "polymer_n300")
    assert [i for r in parts for i in r] == list(range(128)) and all(r.start % 16 == 0 for r in parts)


def test_a_target_job_time_makes_more_shards_and_a_size_fixes_them(rates):
    assert len(shard_plan(paper(rates), "rbc_r28")) == 1
    config = paper(rates)
    config["systems"]["rbc_r28"]["shards"]["hours"] = 1.0
    plan = shard_plan(config, "rbc_r28")
    assert len(plan) > 1 and all(
        1.5 * estimate(config, "simulate_shard", "rbc_r28", f"{r.start}-{r.stop}").hours <= 1 for r in plan
    )
    config = paper(rates)
    config["systems"]["rbc_r28"]["shards"]["size"] = 30
    assert [(r.start, r.stop) for r in shard_plan(config, "rbc_r28")] == [(0, 30), (30, 60), (60, 90), (90, 100)]


def test_shard_sizes_that_split_batches_or_pass_the_cap_are_config_errors(rates):
    config = paper(rates)
    config["systems"]["rbc_r84"]["shards"]["size"] = 25
    with pytest.raises(ConfigError, match=r"rbc_r84.shards.size: 25 is not a whole number .* batches of 10"):
        shard_plan(config, "rbc_r84")
    whole = estimate(paper(rates), "simulate", "rbc_r84").hours
    config = paper(rates, max_hours=whole / 2)  # one shard of all 100 cannot fit, a batch of 10 can
    config["systems"]["rbc_r84"]["shards"]["size"] = 100
    with pytest.raises(ConfigError, match=r"rbc_r84.shards.size: shards of 100 .* at most \d+ fit"):
        shard_plan(config, "rbc_r84")
    config = paper(rates, max_hours=0.5)
    with pytest.raises(ConfigError, match=r"polymer_n300: one batch of 64 trajectories is estimated at"):
        shard_plan(config, "polymer_n300")


def test_a_training_run_over_the_cap_is_a_config_error_naming_it(rates):
    config = paper(rates)
    config["training"]["epochs"] = 10**6
    with pytest.raises(
        ConfigError, match=r"train lorenz_r16 onsagernet_s1: estimated .* passes jobs.max_hours \(12 h\)"
    ):
        jobs(config)


def test_rates_file_errors_name_the_file_and_the_rate(tmp_path, rates):
    with pytest.raises(ConfigError, match="cannot read the rates file .*nope.yaml"):
        load_rates(tmp_path / "nope.yaml")
    doc = yaml.safe_load(rates.read_text())
    del doc["rates"]["polymer"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"bad.yaml: rates.polymer.value must be a positive number"):
        load_rates(bad)
    bad.write_text(yaml.safe_dump({**doc, "version": 99}))
    with pytest.raises(ConfigError, match="not a rates file of version 1"):
        load_rates(bad)


def test_the_shipped_rates_file_says_how_it_was_measured():
    doc = yaml.safe_load((ROOT / "config" / "rates.yaml").read_text())
    assert doc["version"] == RATES_VERSION
    assert doc["measured"]["command"].startswith("python benchmarks/measure_rates.py")
    assert set(doc["rates"]) == set(RATES)
    for key, entry in doc["rates"].items():
        assert entry["value"] > 0 and entry["unit"] == RATES[key] and entry["case"], key


def test_onsagerflow_jobs_prints_the_table_and_the_core_hours(capsys):
    from onsagerflow.cli import main

    assert main(["jobs", "--config", str(PAPER)]) == 0  # in this process: no second interpreter to start
    out = capsys.readouterr().out
    assert re.search(r"\d+ sized jobs: [\d.]+ estimated core-hours", out)
    assert "every job within jobs.max_hours = 12 h: True" in out


# What the workflow's DAG build runs (workflow/rules/common.smk), in a process where importing
# JAX or a library built on it fails: sizing jobs reads the simulators' plans, not JAX.
DAG_TIME = """
import importlib.abc, sys
from pathlib import Path

class NoJax(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"jax", "jaxlib", "flax", "optax", "diffrax", "optimistix", "equinox"}:
            raise ImportError(f"{name} imported while sizing jobs")

sys.meta_path.insert(0, NoJax())
from onsagerflow.config import load_config
from onsagerflow.data.ingest import resolve_files
from onsagerflow.jobs import calibration_plan, jobs, shard_plan, summary

for name in sys.argv[1:]:
    config = load_config(Path(name))
    for system in config["systems"]:
        shard_plan(config, system), calibration_plan(config, system)
    print(name, len(jobs(config)))
"""


def test_sizing_jobs_imports_no_jax():
    """The DAG build sizes every job of the default and the paper config without importing
    JAX (onsagerflow.lazy_import): importing it took seconds of every ``snakemake -n``."""
    out = subprocess.run(
        [sys.executable, "-c", DAG_TIME, str(ROOT / "config" / "config.yaml"), str(PAPER)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout.splitlines()) == 2


@pytest.mark.slow
def test_snakemake_dry_run_of_the_paper_config_shows_every_job_within_the_cap():
    """What the issue asks to see: the dry run's resources, every runtime within 12 h."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "2",
            "--configfile",
            str(PAPER),
            "--config",
            "results=/tmp/x",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    runtimes = [int(m) for m in re.findall(r"resources: .*runtime=(\d+)", text)]
    assert len(runtimes) > 200 and max(runtimes) <= 12 * 60
    assert re.search(r"job sizes: \d+ sized jobs: [\d.]+ estimated core-hours", text)


def test_a_noise_floor_too_long_for_one_job_runs_in_parts_of_whole_batches(rates, tmp_path):
    """With rates at which one ensemble's rerun passes the cap, each (draw, ensemble) of the
    floor is cut into parts of whole batches of realisations, each within the cap, and judged
    by one more job; the DAG holds those jobs."""
    config = paper(rates)
    n, batch = 300, 64
    plan = noise_floor_plan(config, "polymer_n300")
    assert len(plan) > 1 and [i for r in plan for i in r] == list(range(n))
    assert all(r.start % batch == 0 for r in plan)
    assert padded_hours(config, "noise_floor", "polymer_n300", "draw1_ensemble0") > 12
    rows = [j for j in jobs(config) if j.rule.startswith("noise_floor")]
    parts = [j for j in rows if j.rule == "noise_floor_part"]
    judges = [j for j in rows if j.rule == "noise_floor_judge"]
    assert len(judges) == 3 and len(parts) == 3 * len(plan)  # one draw of three ensembles
    assert requests_fit(rows, 12)
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", str(PAPER), "--config"]
        + [f"results={tmp_path}", f"jobs={{'rates': '{rates}'}}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    stats = dict(re.findall(r"^(noise_floor\w*)\s+(\d+)$", out.stdout + out.stderr, re.M))
    assert stats == {"noise_floor_part": str(len(parts)), "noise_floor_judge": "3"}


def test_a_system_evaluated_in_one_job_asks_for_its_runs_work_with_one_start_up(rates):
    """jobs.evaluate_per_system: one evaluate_system job per system, its estimate the sum of its
    runs' (start-up counted once: sum − (k − 1)·startup) and its memory the largest run's."""
    apart, together = paper(rates), paper(rates, evaluate_per_system=True)
    startup = load_rates(apart["jobs"]["rates"])["startup"]
    rows = jobs(together)
    assert not [j for j in rows if j.rule in ("evaluate", "evaluate_ensembles")]
    bundled = {j.system: j for j in rows if j.rule == "evaluate_system"}
    assert sorted(bundled) == sorted(together["systems"])
    for system, job in bundled.items():
        runs = [j for j in jobs(apart) if j.system == system and j.rule in ("evaluate", "evaluate_ensembles")]
        assert len(runs) > 1
        expected = sum(j.estimate.seconds for j in runs) - (len(runs) - 1) * startup
        assert math.isclose(job.estimate.seconds, expected, rel_tol=1e-12), system
        assert job.mem_mb == max(j.mem_mb for j in runs)
