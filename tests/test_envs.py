"""The conda environment files (envs/*.yaml) against pyproject.toml and the rules.

Three things can drift apart silently: a version bound raised in pyproject.toml but not
in an env file, a rule group whose code starts importing a package its env lacks, and a
rule naming an env that does not resolve under ``--sdm conda``. Each is checked here.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import workflow_rules
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ENVS = ROOT / "envs"
GROUP_FILES = {
    "simulation": ["simulation.yaml"],
    "learning": ["learning-cpu.yaml", "learning-cuda.yaml"],
    "figures": ["figures.yaml"],
}
# conda-forge names of PyPI distributions where they differ
CONDA_NAME = {"matplotlib": "matplotlib-base", "snakemake": "snakemake-minimal"}
# import name -> the distribution that provides it
DIST_OF_MODULE = {"yaml": "pyyaml", "PIL": "matplotlib", "jaxlib": "jax"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml, the extras included, by distribution name."""
    proj = pyproject()["project"]
    reqs = [Requirement(r) for r in proj["dependencies"]]
    for extra in proj.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    out: dict[str, Requirement] = {}
    for r in reqs:
        key = r.name.lower() + "".join(f"[{e}]" for e in sorted(r.extras))
        out[key] = r
    return out


def env_requirements(path: Path) -> dict[str, str]:
    """{distribution (PyPI spelling, extras in brackets): specifier} of one env file."""
    env = yaml.safe_load(path.read_text())
    pypi_of = {v: k for k, v in CONDA_NAME.items()}
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                r = Requirement(line)
                out[r.name.lower() + "".join(f"[{e}]" for e in sorted(r.extras))] = str(r.specifier)
        else:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", dep)
            name, spec = m.group(1), m.group(2).replace(" ", "")
            out[pypi_of.get(name, name).lower()] = spec
    return out


@pytest.mark.parametrize("env_file", sorted(p.name for p in ENVS.glob("*.yaml")))
def test_env_files_name_pyproject_packages_with_the_same_bounds(env_file):
    declared = declared_requirements()
    requires_python = pyproject()["project"]["requires-python"]
    for name, spec in env_requirements(ENVS / env_file).items():
        if name == "pip":
            continue
        if name == "python":
            assert spec == requires_python, f"{env_file}: python{spec}, pyproject {requires_python}"
            continue
        assert name in declared, f"{env_file} names {name}, which pyproject.toml does not declare"
        assert spec == str(declared[name].specifier), (
            f"{env_file}: {name}{spec}, but pyproject.toml says {declared[name]}"
        )


def test_every_env_file_belongs_to_a_rule_group():
    named = {f for files in GROUP_FILES.values() for f in files}
    assert named == {p.name for p in ENVS.glob("*.yaml")}


# --- each rule group's env holds what its code imports -----------------------------


def _module_file(mod: str) -> Path | None:
    base = SRC.joinpath(*mod.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.exists():
            return cand
    return None


def third_party_imports(entry: str) -> set[str]:
    """Top-level names of non-standard-library modules reachable from an onsagerflow module.

    Follows every import statement (those inside functions too) through the package, and
    treats a package that imports by name (``importlib.import_module``) as importing all
    its submodules, as systems/ does to pick a simulator.
    """
    seen, stack, found = set(), [entry], set()
    while stack:
        mod = stack.pop()
        path = _module_file(mod)
        if mod in seen or path is None:
            continue
        seen.add(mod)
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        names = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                    names += [base] + [f"{base}.{a.name}" for a in node.names]
                else:
                    names.append(node.module)
            elif isinstance(node, ast.Attribute) and node.attr == "import_module" and path.name == "__init__.py":
                names += [f"{mod}.{p.stem}" for p in path.parent.glob("*.py") if p.stem != "__init__"]
        for name in names:
            if name.startswith("onsagerflow"):
                # the module itself, or the package whose attribute was imported
                stack.append(name if _module_file(name) else name.rsplit(".", 1)[0])
                # importing a.b.c runs a/__init__ and a/b/__init__ too
                parts = name.split(".")
                stack += [".".join(parts[:i]) for i in range(2, len(parts))]
            else:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def rule_groups() -> dict[str, tuple[str, set[str]]]:
    """{rule: (env group, onsagerflow subcommands its shell runs)} from workflow/rules/."""
    out = {}
    for name, block in workflow_rules().items():
        if name == "all":  # the target rule runs nothing
            continue
        env = re.search(r'conda:\s*\n\s*ENVS\["(\w+)"\]', block)
        assert env, f"rule {name} names no environment with conda: ENVS[...]"
        stages = set(re.findall(r'cmd=command\("([\w-]+)"', block))  # common.smk: command(stage)
        assert stages, f"rule {name} does not run an onsagerflow stage (params cmd=command(...))"
        out[name] = (env.group(1), stages)
    return out


STAGE_MODULE = {
    "simulate": "onsagerflow.stages.simulate",
    "gather": "onsagerflow.stages.gather",
    "calibrate": "onsagerflow.stages.calibrate",
    "ingest": "onsagerflow.stages.ingest",
    "reduce": "onsagerflow.stages.reduce",
    "train": "onsagerflow.stages.train",
    "evaluate": "onsagerflow.stages.evaluate",
    "evaluate-system": "onsagerflow.stages.evaluate",
    "figures": "onsagerflow.stages.figures",
    "figures-fields": "onsagerflow.stages.figures_fields",
    "figures-polymer": "onsagerflow.stages.figures_polymer",
    "potential": "onsagerflow.stages.figures",
    "potential-3d": "onsagerflow.stages.figures_fields",
    "accuracy": "onsagerflow.stages.figures",
    "nearest-neighbour": "onsagerflow.stages.nearest_neighbour",
    "pde-states": "onsagerflow.stages.pde_states",
    "pde-orbits": "onsagerflow.stages.pde_orbits",
    "lstm-baseline": "onsagerflow.stages.lstm_baseline",
    "noise-floor": "onsagerflow.stages.noise_floor",
    "table": "onsagerflow.stages.table",
    "config": "onsagerflow.stages.config_file",
}


@pytest.mark.slow
def test_each_rule_groups_environment_holds_what_its_stages_import():
    groups = rule_groups()
    assert {g for g, _ in groups.values()} == set(GROUP_FILES)
    for rule, (group, stages) in groups.items():
        # (not cli itself: it imports every stage, each only when asked for it)
        needed = {"onsagerflow.runtime"} | {STAGE_MODULE[s] for s in stages}
        imports = set().union(*(third_party_imports(m) for m in needed))
        dists = {DIST_OF_MODULE.get(m, m).lower() for m in imports}
        for env_file in GROUP_FILES[group]:
            have = {n.split("[")[0] for n in env_requirements(ENVS / env_file)}
            missing = dists - have
            assert not missing, (
                f"rule {rule} runs {sorted(stages)} importing {sorted(missing)}, absent from envs/{env_file}"
            )


def test_the_import_scan_sees_lazy_and_by_name_imports():
    # the scan would pass vacuously if it missed imports inside functions or by name
    assert {"jax", "diffrax"} <= third_party_imports("onsagerflow.stages.simulate")
    assert "matplotlib" in third_party_imports("onsagerflow.stages.figures")
    assert "matplotlib" not in third_party_imports("onsagerflow.stages.train")


# --- `--sdm conda` resolves an env for every rule (no conda needed) ------------------


@pytest.fixture
def conda_stub(tmp_path):
    """A `conda` that answers Snakemake's start-up checks, so a dry run needs no conda."""
    stub = tmp_path / "bin" / "conda"
    stub.parent.mkdir()
    info = {"conda_version": "24.11.0", "conda_prefix": str(tmp_path / "root"), "platform": "linux-64"}
    stub.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *--version*) echo "conda 24.11.0";;\n'
        f"  'info --json') echo '{json.dumps(info)}';;\n"
        '  \'config --get channel_priority --json\') echo \'{"get": {"channel_priority": "strict"}}\';;\n'
        '  *) echo "conda stub cannot: $*" >&2; exit 1;;\n'
        "esac\n"
    )
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return stub.parent


@pytest.mark.slow
@pytest.mark.parametrize("accelerator", ["cpu", "cuda"])
def test_sdm_conda_dry_run_resolves_the_env_of_every_rule(conda_stub, tmp_path, accelerator):
    env = {**os.environ, "PATH": f"{conda_stub}{os.pathsep}{os.environ['PATH']}"}
    base = ["snakemake", "--sdm", "conda", "--config", f"results={tmp_path / 'results'}", f"accelerator={accelerator}"]
    listed = subprocess.run(
        base + ["--list-conda-envs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    files = set(re.findall(r"^envs/([\w.-]+\.yaml)\s", listed.stdout, flags=re.M))
    assert files == {"simulation.yaml", f"learning-{accelerator}.yaml", "figures.yaml"}
    dry = subprocess.run(base + ["-n", "-p"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert dry.returncode == 0, dry.stderr[-3000:]
    # under --sdm conda the jobs run the workflow's own source tree
    assert f"PYTHONPATH={SRC}" in dry.stdout + dry.stderr
    assert "python -m onsagerflow simulate" in dry.stdout + dry.stderr
