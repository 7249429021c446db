"""A sharded config through SLURM (profiles/slurm) against a local run: every job an sbatch job
that completed, the same numbers out.

tests/configs/shards.yaml simulates each of its three systems (Lorenz-63, Rayleigh–Bénard, the
polymer with its λ measured) in several shards, gathered; the local run is the same config with
the shards taken out, one simulate job per system. The gathered stores must equal the local ones
bit for bit, and so must every metrics file and table.

Runs only where a SLURM cluster is up and named: .ci/slurm_test.sh starts a one-node cluster and
sets ONSAGERFLOW_SLURM_PARTITION (and ONSAGERFLOW_SLURM_JOBCOMP, its job completion log). On a
real cluster: ONSAGERFLOW_SLURM_PARTITION=<partition> [ONSAGERFLOW_SLURM_ACCOUNT=<account>]
[ONSAGERFLOW_SLURM_GPU=0 where the partition has no GPUs] pytest -m slurm tests/test_slurm.py
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARDED = ROOT / "tests" / "configs" / "shards.yaml"
GPU_RULES = ("train", "evaluate", "evaluate_ensembles")
PARTITION = os.environ.get("ONSAGERFLOW_SLURM_PARTITION")
RUN_TIMEOUT = int(os.environ.get("ONSAGERFLOW_SLURM_RUN_TIMEOUT", "2400"))  # seconds per Snakemake run

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not PARTITION, reason="no SLURM cluster named (ONSAGERFLOW_SLURM_PARTITION); bash .ci/slurm_test.sh starts one"
    ),
]

TIMING_KEYS = re.compile(r"seconds|created")  # wall-clock facts, the only fields allowed to differ


def slurm_profile(tmp_path):
    """profiles/slurm with this cluster's partition/account and laptop-sized requests; the rest as shipped."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    defaults = profile["default-resources"]
    defaults["slurm_partition"] = PARTITION
    if os.environ.get("ONSAGERFLOW_SLURM_ACCOUNT"):
        defaults["slurm_account"] = os.environ["ONSAGERFLOW_SLURM_ACCOUNT"]
    else:  # the plugin then tries to guess one, and goes on without
        del defaults["slurm_account"]
    gpu = os.environ.get("ONSAGERFLOW_SLURM_GPU", "1") != "0"
    for res in profile["set-resources"].values():
        if "mem_mb" in res:  # the rules that simulate, train and evaluate size themselves
            res["mem_mb"] = min(res["mem_mb"], 2000)
        if "gpu" in res:
            res["cpus_per_gpu"] = 1
            if not gpu:
                del res["gpu"], res["cpus_per_gpu"]
    # One XLA thread per job as in the local run: results are then bit-identical.
    profile.pop("set-threads", None)
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["slurm-logdir"] = str(tmp_path / "slurm_logs")
    if subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True).returncode:
        profile["slurm-status-command"] = "squeue"  # no accounting database here
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    return tmp_path / "profile"


def unsharded(work: Path) -> Path:
    """tests/configs/shards.yaml with the shards taken out: one simulate job per system."""
    config = yaml.safe_load(SHARDED.read_text())
    for system in config["systems"].values():
        system.pop("shards", None)
    path = work / "unsharded.yaml"
    # in the file's order: the order of the systems is the order of the tables' rows
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    assert shutil.which("sbatch") and shutil.which("squeue"), "SLURM's commands are not on PATH"
    work = Path(os.environ.get("ONSAGERFLOW_SLURM_WORK") or tmp_path_factory.mktemp("slurm"))
    work.mkdir(parents=True, exist_ok=True)
    profile = slurm_profile(work)
    out = {}
    for name, args, config in (
        ("plan", ["-n", "--cores", "2"], SHARDED),  # the jobs the sharded run must submit
        ("local", ["--cores", "2"], unsharded(work)),
        ("slurm", ["--executor", "slurm", "--workflow-profile", str(profile)], SHARDED),
    ):
        t0 = time.perf_counter()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                *args,
                "--configfile",
                str(config),
                "--config",
                f"results={work / name}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        seconds = time.perf_counter() - t0
        text = run.stdout + run.stderr
        (work / f"{name}.log").write_text(text)
        print(f"{name} run: {seconds:.0f} s")
        assert run.returncode == 0, f"{name} run failed:\n{text[-6000:]}"
        out[name] = (work / name, text)
    return out


def jobs_of(log: str) -> dict[int, str]:
    """Snakemake job id -> rule, from a run's log."""
    return {
        int(j): rule for rule, j in re.findall(r"^\s*(?:local)?rule (\w+):\n(?:.*\n)*?\s*jobid: (\d+)", log, flags=re.M)
    }


def test_every_job_ran_as_a_completed_slurm_job(runs):
    _, plan_log = runs["plan"]
    _, slurm_log = runs["slurm"]
    expected = sorted(r for r in jobs_of(plan_log).values() if r != "all")
    # several shards per system, gathered; the polymer's λ measured by calibrate jobs
    assert {"simulate_shard", "gather", "calibrate_part", "calibrate"} <= set(expected)
    assert "simulate" not in expected
    assert expected.count("simulate_shard") == 3 + 2 + 3 and expected.count("gather") == 3
    jobs = jobs_of(slurm_log)
    sbatch = {int(j): s for j, s in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", slurm_log)}
    assert sorted(jobs[j] for j in sbatch) == expected, "a job ran outside SLURM, or twice"
    assert not re.search(r"^\s*localrule (?!all:)", slurm_log, flags=re.M)
    print("sbatch ids:", {f"{jobs[j]}#{j}": s for j, s in sorted(sbatch.items())})

    ids = set(sbatch.values())
    jobcomp = os.environ.get("ONSAGERFLOW_SLURM_JOBCOMP")
    if jobcomp:  # jobcomp/filetxt: one line per finished job
        states = dict(re.findall(r"JobId=(\d+) .*?JobState=(\S+)", Path(jobcomp).read_text()))
    else:
        acct = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-o", "JobIdRaw,State", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        states = dict(line.split("|")[:2] for line in acct.splitlines() if "|" in line)
    assert {i: states.get(i) for i in ids} == {i: "COMPLETED" for i in ids}

    if os.environ.get("ONSAGERFLOW_SLURM_GPU", "1") != "0":
        for j, sid in sbatch.items():
            shown = subprocess.run(["scontrol", "-o", "show", "job", sid], capture_output=True, text=True).stdout
            if shown:  # the controller forgets finished jobs after MinJobAge
                asked = "gpu" in shown.lower()
                assert asked == (jobs[j] in GPU_RULES), f"{jobs[j]} job {sid}: {shown}"


def same(a, b, where=""):
    """Equal in every number (NaN equals NaN), timings aside."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            if not TIMING_KEYS.search(k):
                same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_gathered_stores_equal_the_stores_of_one_job_each(runs):
    from conftest import assert_stores_identical

    from onsagerflow.data import open_store

    local, _ = runs["local"]
    slurm, _ = runs["slurm"]
    systems = yaml.safe_load(SHARDED.read_text())["systems"]
    for system in systems:
        assert_stores_identical(
            open_store(slurm / "data" / system / "trajectories.zarr"),
            open_store(local / "data" / system / "trajectories.zarr"),
        )
        # the shard stores were temp(): gone once gathered
        assert not list((slurm / "data" / system).glob("shards/*.zarr")), system
    assert (slurm / "data" / "polymer_shards" / "calibration.json").exists()


def test_outputs_equal_a_local_run(runs):
    local, _ = runs["local"]
    slurm, _ = runs["slurm"]
    metrics = sorted(p.relative_to(local) for p in local.rglob("metrics.json"))
    # one per model run of each system, plus PRF21's nearest-neighbour baseline (Table II) for
    # each RBC latent size, and the same files from both runs
    systems = yaml.safe_load(SHARDED.read_text())["systems"]
    baselines = sum(len(s["reduction"]["latent_dims"]) for s in systems.values() if s["type"] == "rbc")
    assert len(metrics) == sum(len(s["models"]) for s in systems.values()) + baselines
    assert metrics == sorted(p.relative_to(slurm) for p in slurm.rglob("metrics.json"))
    for rel in metrics:
        same(json.loads((local / rel).read_text()), json.loads((slurm / rel).read_text()), str(rel))
    for table in local.glob("tables/*.csv"):
        a, b = pd.read_csv(table), pd.read_csv(slurm / "tables" / table.name)
        timing = [c for c in a.columns if TIMING_KEYS.search(c)]
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing), check_exact=True)
    for system in systems:
        figures = sorted(p.name for p in (local / "figures" / system).iterdir())
        assert figures and figures == sorted(p.name for p in (slurm / "figures" / system).iterdir())
