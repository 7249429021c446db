"""The profiles cover every rule: local (profiles/default) and SLURM (profiles/slurm)."""

import re
from pathlib import Path

import yaml
from conftest import workflow_rules

ROOT = Path(__file__).resolve().parent.parent
GPU_RULES = {"train", "evaluate", "evaluate_ensembles"}


def rules() -> dict[str, str]:
    """Rule name -> its text, from workflow/rules/*.smk (generated ones too)."""
    return workflow_rules()


def test_every_rule_declares_threads_memory_runtime_and_a_benchmark_and_no_gpu():
    found = rules()
    assert GPU_RULES <= set(found)
    for name, text in found.items():
        for key in ("threads:", "mem_mb=", "runtime=", "benchmark:", "log:"):
            assert key in text, f"rule {name} lacks {key}"
        # GPU requests come from a profile: a CPU-only local run never waits on one.
        assert "gpu" not in text, f"rule {name} asks for a GPU itself"


def sized_rules() -> set[str]:
    """Rules whose run time and memory the workflow computes from their work (onsagerflow.jobs)."""
    return {name for name, text in rules().items() if re.search(r"runtime=(lambda w: )?job_size\(", text)}


def test_slurm_profile_sizes_every_other_rule_and_gives_train_and_evaluate_a_gpu():
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert {"slurm_account", "slurm_partition"} <= set(profile["default-resources"])
    per_rule = profile["set-resources"]
    sized = sized_rules()
    assert {"simulate", "simulate_shard", "gather", "calibrate_part", "calibrate", *GPU_RULES} <= sized
    # every rule the workflow does not size is sized here; the profile never overrides the workflow
    assert set(per_rule) == (set(rules()) - sized) | GPU_RULES
    for name, res in per_rule.items():
        if name in sized:
            assert not {"mem_mb", "runtime"} & set(res), f"the profile overrides the computed size of {name}"
        else:
            assert res["mem_mb"] > 0 and res["runtime"] > 0, name
        assert ("gpu" in res) == (name in GPU_RULES), name
        if name in GPU_RULES:
            assert res["gpu"] == 1 and res["cpus_per_gpu"] == profile["set-threads"][name]


def test_local_profile_allows_one_gpu_job_at_a_time():
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert profile["resources"] == ["gpu=1"]
    assert profile["cores"] == 2
