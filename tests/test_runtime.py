"""The config's `runtime` block reaches JAX: XLA's GPU memory variables are set before jax is imported."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from onsagerflow.config import runtime_flags, validate_config

ROOT = Path(__file__).resolve().parent.parent
VARS = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION")

# In a fresh interpreter: record the two variables at the moment `import jax` first runs,
# then run a stage through the CLI (its work itself fails on purpose: no data).
PROBE = """
import json, os, sys
seen = {}
class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "jax" and not seen:
            seen.update({k: os.environ.get(k) for k in %r})
        return None
sys.meta_path.insert(0, Probe())
from onsagerflow.cli import main
try:
    main(sys.argv[1:])
except BaseException:
    pass
import jax
print(json.dumps({"at_import": seen, "after": {k: os.environ.get(k) for k in %r}}))
""" % (VARS, VARS)  # noqa: UP031 (the braces in the script are literal)


def probe(*flags, env=None):
    env = {k: v for k, v in os.environ.items() if k not in VARS} | (env or {})
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            "evaluate",
            "--spec",
            "{}",
            "--data",
            "/nonexistent",
            "--model",
            "/nonexistent",
            "--out-dir",
            "/nonexistent",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def config(**runtime):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    if runtime:
        cfg["runtime"] = runtime
    return validate_config(cfg)


def test_config_runtime_block_becomes_stage_flags():
    assert runtime_flags(config()) == "--xla-preallocate false"
    assert (
        runtime_flags(config(xla_preallocate=True, xla_mem_fraction=0.3))
        == "--xla-preallocate true --xla-mem-fraction 0.3"
    )


@pytest.mark.slow
def test_flags_are_exported_before_jax_is_imported():
    flags = runtime_flags(config(xla_preallocate=True, xla_mem_fraction=0.3)).split()
    got = probe(*flags, env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})  # the config wins
    assert got["at_import"] == {"XLA_PYTHON_CLIENT_PREALLOCATE": "true", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.3"}


@pytest.mark.slow
def test_without_flags_a_job_does_not_preallocate_and_keeps_the_environment_fraction():
    got = probe(env={"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.2"})
    assert got["at_import"] == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.2"}


@pytest.mark.slow
def test_every_jax_stage_gets_the_flags(tmp_path):
    """A dry run prints every shell command: each JAX stage carries the config's runtime flags."""
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg["runtime"] = {"xla_mem_fraction": 0.25}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "-p",
            "--cores",
            "2",
            "--configfile",
            str(tmp_path / "config.yaml"),
            "--config",
            f"results={tmp_path / 'results'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    commands = re.findall(r"^(?:Shell command: )?\s*(onsagerflow .*)$", out.stdout + out.stderr, flags=re.M)
    stages = {c.split()[1] for c in commands}
    # tiny evaluates its runs in one job (jobs.evaluate_per_system)
    assert stages == {"simulate", "train", "evaluate-system", "figures", "potential", "accuracy", "table", "config"}
    for c in commands:
        if c.split()[1] not in ("table", "config", "accuracy"):  # no JAX in these (bar charts from metrics files)
            assert "--xla-preallocate false --xla-mem-fraction 0.25" in c, c


# In a fresh interpreter with an empty cache folder: a learned-model rollout (traced save times,
# error-controlled Tsit5 with an escape event), a reference Lorenz solve and a periodic-orbit
# Newton flow are compiled; each must be written to the persistent cache, so later jobs with
# the same shapes load them instead of compiling again. XLA writes no entry for a program
# that holds a host callback, which equinox's run-time checks are.
CACHE_PROBE = """
import sys
from onsagerflow import runtime
runtime.configure(threads=1)
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
from onsagerflow.analysis.rollout import integrate
from onsagerflow.analysis.periodic_orbits import _flow
from onsagerflow.systems import lorenz

def field(x, a):
    return jnp.stack([a * (x[1] - x[0]), x[0] * (28.0 - x[2]) - x[1], x[0] * x[1] - 8.0 / 3.0 * x[2]])

integrate(field, np.ones((2, 3)), np.linspace(0.0, 0.1, 5), args=10.0, bound=1e3)
lorenz.solve_batch(np.ones((2, 3)), np.linspace(0.0, 0.1, 5), (10.0, 28.0, 8.0 / 3.0), rtol=1e-8, atol=1e-8)
_flow(field, 1000)(jnp.ones(3), jnp.asarray(0.5), 10.0, jnp.asarray([1e-8, 1e-8]))
"""


@pytest.mark.slow
def test_rollout_reference_and_orbit_programs_reach_the_persistent_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EQX_ON_ERROR"} | {"ONSAGERFLOW_JAX_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", CACHE_PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    names = {p.name.split("-")[0] for p in tmp_path.iterdir()}
    # jit_one: the batched rollout and the reference solve (both vmapped closures named one)
    assert sum(p.name.startswith("jit_one-") for p in tmp_path.iterdir()) == 2, sorted(names)
    assert "jit_solve" in names, sorted(names)  # the orbit flow with its variational equation
