"""Config validation: the schema (keys, types, defaults), its one-line errors, and the checks
it cannot express — all of them run on the config alone, as `snakemake -n` runs them."""

import copy
import os
import subprocess
import sys

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.common.configfile import load_configfile
from snakemake.utils import update_config

from onsagerflow.config import (
    ConfigError,
    check_config,
    load_config,
    load_schema,
    stage_spec,
    validate_config,
    validated_system,
    workflow_config,
)
from onsagerflow.provenance import config_sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = [
    "config/config.yaml",
    "config/paper.yaml",
    "config/folds.yaml",
    "tests/configs/tiny.yaml",
    "tests/configs/rbc_tiny.yaml",
    "tests/configs/variants.yaml",
    "tests/configs/polymer_tiny.yaml",
    "tests/configs/ingest_tiny.yaml",
]


def load(name):
    with open(os.path.join(ROOT, name)) as f:
        return yaml.safe_load(f)


def validated(cfg):
    return validate_config(copy.deepcopy(cfg))


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    return message


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_validate_and_get_defaults(name):
    cfg = validated(load(name))
    for system in cfg["systems"].values():
        assert system["pairs"]["tau"] > 0 and system["training"] is not None and system["models"]
    assert cfg["training"]["plateau"]["factor"] == 0.5
    assert cfg["evaluation"]["long_rollouts"] >= 1
    assert cfg["dask"]["scheduler"] == "threads" and cfg["runtime"]["xla_preallocate"] is False


def test_default_config_follows_prf21():
    cfg = validated(load("config/config.yaml"))
    lorenz = [s for s in cfg["systems"].values() if s["type"] == "lorenz"]
    assert sorted(s["parameters"]["r"] for s in lorenz) == [16.0, 28.0]
    for s in lorenz:
        sim = s["simulation"]
        assert sim["n_trajectories"] == 100 and sim["t_end"] == 3.0
        assert sim["init_low"] == [-25, -25, -5] and sim["init_high"] == [25, 25, 30]
        assert s["pairs"]["tau"] == 0.001 and s["pairs"]["per_trajectory"] == 100


def test_default_rbc_case_follows_prf21_where_it_can():
    cfg = validated(load("config/config.yaml"))
    rbc = [s for s in cfg["systems"].values() if s["type"] == "rbc"]
    assert [s["parameters"]["r"] for s in rbc] == [28.0]
    assert rbc[0]["reduction"]["latent_dims"] == [3, 7]
    paper = validated(load("config/paper.yaml"))
    assert all(s["reduction"]["latent_dims"] == [3, 5, 7] for s in paper["systems"].values() if s["type"] == "rbc")
    assert rbc[0]["reduction"]["fields"] == ["u", "w", "theta"]


def test_defaults_fill_nested_blocks_each_with_its_own_copy():
    cfg = validated(load("config/config.yaml"))
    # polymer parameters default to {}, and their excluded_volume block to {}: both filled
    assert cfg["systems"]["polymer_wi2"]["parameters"]["excluded_volume"] == {"strength": 0.0, "range": 0.25}
    assert cfg["training"]["early_stopping"] == {"patience": 60, "min_delta": 0.0}
    cfg["systems"]["lorenz_r28"]["pairs"]["tau"] = 0.002
    cfg["systems"]["lorenz_r28"]["simulation"]["init_low"].append(0)
    assert cfg["systems"]["lorenz_r16"]["pairs"]["tau"] == 0.001
    assert cfg["systems"]["lorenz_r16"]["simulation"]["init_low"] == [-25, -25, -5]
    # the schema's own default objects are never handed out
    lorenz = load_schema()["$defs"]["lorenz"]["properties"]["simulation"]["properties"]
    assert lorenz["init_low"]["default"] == [-25, -25, -5]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["systems"]["lorenz_r28"].setdefault("simulation", {}).update(t_ned=3.0),
            "systems.lorenz_r28.simulation.t_ned: unknown key; did you mean 't_end'?",
        ),
        (lambda c: c.update(trainig={"epochs": 3}), "trainig: unknown key; did you mean 'training'?"),
        (
            lambda c: c["systems"]["lorenz_r16"].setdefault("simulation", {}).update(n_trajectories="many"),
            "systems.lorenz_r16.simulation.n_trajectories: got 'many' (a string); expected an integer",
        ),
        (lambda c: c["models"]["onsagernet"].update(alpha=-1), "models.onsagernet.alpha: got -1; must be >= 0"),
        (
            lambda c: c["systems"]["lorenz_r16"].update(type="lorenz64"),
            "systems.lorenz_r16.type: got 'lorenz64'; did you mean 'lorenz'?",
        ),
        (
            lambda c: c["models"]["onsagernet"].update(activation="swish"),
            "models.onsagernet.activation: got 'swish' (allowed: requr, requ, tanh, softplus, sigmoid, relu, gelu)",
        ),
        (
            lambda c: c["systems"]["lorenz_r16"].pop("models"),
            "systems.lorenz_r16: missing key 'models' (keys of 'models' to learn on this system)",
        ),
        (
            lambda c: c["systems"]["lorenz_r16"].pop("type"),
            "systems.lorenz_r16: missing key 'type' (one of lorenz, langevin, rbc, polymer, ingested)",
        ),
        (
            lambda c: c.update(runtime={"xla_mem_fraction": "half"}),
            "runtime.xla_mem_fraction: got 'half' (a string); expected a number or null",
        ),
        (
            lambda c: c["systems"]["lorenz_r16"].update(simulation={"init_low": [1, 2]}),
            "systems.lorenz_r16.simulation.init_low: got 2 item(s); at least 3 allowed",
        ),
        (
            lambda c: c["systems"].update({"lorenz-2": c["systems"]["lorenz_r16"]}),
            "systems: the name 'lorenz-2' is not allowed; names start with a letter and hold letters, digits "
            "and '_' only (no '-': run names use '-n<n>')",
        ),
    ],
)
def test_a_wrong_key_or_value_is_one_line_naming_its_path(mutate, message):
    cfg = load("config/config.yaml")
    mutate(cfg)
    assert error_of(cfg) == message


def test_the_first_problem_in_the_file_is_the_one_reported():
    cfg = load("config/config.yaml")
    cfg["systems"]["lorenz_r16"]["seed"] = -1  # lorenz_r16 comes first in the file
    cfg["models"]["onsagernet"]["depht"] = 2
    assert error_of(cfg) == "systems.lorenz_r16.seed: got -1; must be >= 0"


def test_a_number_yaml_reads_as_text_gets_a_hint():
    cfg = load("tests/configs/tiny.yaml")
    cfg["training"]["learning_rate"] = yaml.safe_load("1e-3")  # PyYAML: a string
    assert "write 1.0e-3" in error_of(cfg)


def test_an_ingested_source_names_the_mapping_key():
    cfg = load("tests/configs/ingest_tiny.yaml")
    cfg["systems"]["lorenz_mine"]["source"]["variables"]["u"]["unit"] = "m"
    assert error_of(cfg) == "systems.lorenz_mine.source.variables.u.unit: unknown key; did you mean 'units'?"
    cfg = load("tests/configs/ingest_tiny.yaml")
    cfg["systems"]["lorenz_mine"]["source"]["files"] = 3
    assert error_of(cfg) == "systems.lorenz_mine.source.files: got 3 (an integer); expected a string or a list"


def test_schema_holds_only_schema_keywords():
    """A description cut at an unquoted comma in a YAML flow mapping turns its tail into a key
    (`{description: a, b}` has a key 'b'); every key of every subschema must be a keyword."""
    keywords = {
        *("$schema", "$ref", "$defs", "description", "type", "properties", "additionalProperties"),
        *("required", "default", "enum", "const", "items", "minItems", "maxItems", "minimum", "maximum"),
        *("exclusiveMinimum", "exclusiveMaximum", "minProperties", "propertyNames", "pattern", "uniqueItems"),
        *("oneOf", "anyOf", "allOf", "if", "then"),
    }
    found = []

    def walk(node, path):
        found.extend(".".join(path + (k,)) for k in node if k not in keywords)
        for k in ("properties", "$defs"):
            for name, sub in node.get(k, {}).items():
                if name != "training_keys":  # the anchor the training blocks share: a map of properties
                    walk(sub, path + (k, name))
        for k in ("items", "additionalProperties", "propertyNames", "if", "then"):
            if isinstance(node.get(k), dict):
                walk(node[k], path + (k,))
        for k in ("oneOf", "anyOf", "allOf"):
            for i, sub in enumerate(node.get(k, [])):
                walk(sub, path + (k, str(i)))

    walk(load_schema(), ())
    assert found == []


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["systems"]["lorenz_r16"].update(models=["onsagernet", "koopman"]),
            r"systems.lorenz_r16.models: 'koopman' is not a key of 'models'",
        ),
        (
            lambda c: c["models"]["mlp_ode"].update(match_params_of="sindy"),
            r"models.mlp_ode.match_params_of: 'sindy' is a SINDy model",
        ),
        (
            lambda c: c["models"]["sindy"].update(differentiation="smoothed_finite_difference", smoothing_window=8),
            r"models.sindy.smoothing_window: the Savitzky–Golay window must be odd",
        ),
        (
            lambda c: c["systems"]["lorenz_r28"]["pairs"].update(tau=0.0015),
            r"systems.lorenz_r28.pairs.tau: 0.0015 must be a whole multiple",
        ),
        (
            lambda c: c["systems"]["lorenz_r28"].update(splits={"train": 0.9, "val": 0.0, "test": 0.1}),
            r"systems.lorenz_r28.splits",
        ),
        (
            lambda c: c["models"]["mlp_ode"].update(match_params_of="transformer"),
            r"models.mlp_ode.match_params_of: 'transformer'",
        ),
        (  # a baseline's run name: its results would land in the baseline's folders
            lambda c: c["models"].update(lstm=c["models"]["onsagernet"]),
            r"models.lstm: 'lstm' is the run name of PRF21's lstm baseline",
        ),
    ],
)
def test_inconsistent_config_fails_naming_the_key(mutate, message):
    cfg = validated(load("config/config.yaml"))
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


# --- what `snakemake -n` now catches on the config alone ------------------------------------


@pytest.mark.parametrize(
    "mutate,message",
    [
        (  # the solver steps between two samples: 0.0025 / 0.001 is not whole
            lambda c: c["systems"]["rbc_r28"]["simulation"].update(dt=0.001, dt_sample=0.0025),
            "systems.rbc_r28.simulation.dt_sample: 0.0025 must be a whole multiple of simulation.dt (0.001)",
        ),
        (  # error times count from a trajectory's first sample: at most t_end = 3 for Lorenz
            lambda c: c.setdefault("evaluation", {}).update(error_times=[0.5, 3.5]),
            "systems.lorenz_r16: evaluation.error_times: [3.5] lie beyond simulation.t_end (3); "
            "times count from each trajectory's first sample",
        ),
        (
            lambda c: c["systems"]["rbc_r28"]["evaluation"].update(horizons=[1.0, 120.0]),
            "systems.rbc_r28: evaluation.horizons: [120.0] lie beyond simulation.t_end (99); "
            "times count from each trajectory's first sample",
        ),
        (  # a horizon inside a burst (the pair partner) is allowed; half a sample otherwise is not
            lambda c: c["systems"]["rbc_r28"]["evaluation"].update(horizons=[0.001, 1.0]),
            None,
        ),
        (
            lambda c: c["systems"]["rbc_r28"]["evaluation"].update(horizons=[0.3, 1.0]),
            "systems.rbc_r28: evaluation.horizons: [0.3] are shorter than one sample (simulation.dt_sample = 1.0)",
        ),
        (  # pairs are cut inside bursts: tau a multiple of the burst step, and shorter than a burst
            lambda c: c["systems"]["rbc_r28"]["pairs"].update(tau=0.002),
            "systems.rbc_r28.pairs: windows of 2 fine steps do not fit in bursts of simulation.burst_size = 2 samples",
        ),
        (
            lambda c: c["systems"]["rbc_r28"]["simulation"].update(burst_size=3, burst_step=0.6),
            "systems.rbc_r28.simulation.burst_step: (burst_size − 1)·burst_step must stay below "
            "simulation.dt_sample (1.0), got 0.6",
        ),
        (  # 16 beads × their x-coordinates = 16 features
            lambda c: c["systems"]["polymer_wi2"]["reduction"].update(components=17),
            "systems.polymer_wi2.reduction.components: 17 asked, but the train split's selected bead "
            "coordinates allow at most 16",
        ),
        (  # 3 fields × (nz + 1) × nx = 3 × 5 × 8 = 120 features
            lambda c: c["systems"]["rbc_r28"]["simulation"].update(nx=8, nz=4),
            None,
        ),
        (  # 2 train trajectories × 2 bursts of 2 samples = 8 rows
            lambda c: c["systems"]["rbc_r28"]["simulation"].update(n_trajectories=4, t_end=1.0),
            "systems.rbc_r28.reduction.components: 16 asked, but the train split's fields allow at most 8",
        ),
        (
            lambda c: c["systems"]["lorenz_r16"].setdefault("simulation", {}).update(t_end=2.9995),
            "systems.lorenz_r16.simulation.t_end: 2.9995 must be a whole multiple of simulation.dt_sample (0.001)",
        ),
        (
            lambda c: c.update(results="res{system}"),
            "results: 'res{system}' is not allowed; the folder every output is written under; it may not hold "
            "braces, which Snakemake reads as wildcards",
        ),
    ],
)
def test_config_only_problems_fail_before_any_job(mutate, message):
    cfg = load("config/config.yaml")
    mutate(cfg)
    if message is None:  # within the limit: no error
        validate_config(cfg)
    else:
        assert error_of(cfg) == message


def test_yaml_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems:\n  a: {type: lorenz\n  b: 1\n")
    with pytest.raises(ConfigError, match=r"^.*bad\.yaml:3:4: YAML: expected ',' or '}', but got ':'"):
        load_config(bad)
    bad.write_text("models: {}\nsystems: {}\nmodels: {m: {type: sindy}}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3:1: YAML: key 'models' given twice \(first on line 1\)"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the config file"):
        load_config(tmp_path / "nowhere.yaml")


def test_load_config_prefixes_the_file(tmp_path):
    cfg = load("tests/configs/tiny.yaml")
    cfg["systems"]["lorenz_tiny"]["simulation"]["dt_smaple"] = 0.1
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (
        str(info.value) == f"{path}: systems.lorenz_tiny.simulation.dt_smaple: unknown key; did you mean 'dt_sample'?"
    )


def test_validated_system_fills_one_block():
    block = validated_system(
        {"type": "rbc", "models": ["m"], "simulation": {"nx": 16}, "pairs": {"tau": 0.005}}, "rbc_a"
    )
    assert block["simulation"]["nx"] == 16 and block["simulation"]["nz"] == 16
    assert block["reduction"]["latent_dims"] == [3, 5, 7] and block["normalization"] == "isotropic"
    with pytest.raises(ConfigError, match=r"^systems\.rbc_a\.simulation\.nx: got 4; must be >= 8$"):
        validated_system({"type": "rbc", "models": ["m"], "simulation": {"nx": 4}}, "rbc_a")


def snakemake_config(configfile, args):
    """The config as Snakemake hands it to the Snakefile: the file, then --config merged in,
    every nested value a string (YAML's base loader)."""
    config = load_configfile(configfile)
    update_config(config, parse_config(args))
    return config


def test_nested_command_line_values_arrive_typed():
    tiny = os.path.join(ROOT, "tests", "configs", "tiny.yaml")
    args = ["training={epochs: 7, learning_rate: 1.0e-2, plateau: {factor: 0.25}}", "results=/tmp/x"]
    raw = snakemake_config(tiny, args)
    assert raw["training"]["epochs"] == "7"  # what Snakemake passes on
    cfg = workflow_config(raw, [tiny], args)
    assert cfg["training"]["epochs"] == 7 and cfg["training"]["learning_rate"] == 0.01
    assert cfg["training"]["plateau"] == {
        "monitor": "val",
        "factor": 0.25,
        "patience": 20,
        "cooldown": 0,
        "min_scale": 0.001,
    }
    assert cfg["training"]["batch_size"] == 50  # from the file, kept
    assert stage_spec(cfg, "train", "lorenz_tiny", "onsagernet")["training"]["epochs"] == 7
    args = ["training={epochs: seven}"]
    with pytest.raises(
        ConfigError, match=r"^--config: training\.epochs: got 'seven' \(a string\); expected an integer$"
    ):
        workflow_config(snakemake_config(tiny, args), [tiny], args)


def test_stage_specs_are_the_slices_stages_depend_on():
    cfg = validated(load("config/config.yaml"))
    sim = stage_spec(cfg, "simulate", "lorenz_r28")
    assert set(sim) == {"name", "type", "parameters", "simulation", "splits", "seed"}
    train = stage_spec(cfg, "train", "lorenz_r28", "mlp_ode")
    assert train["model"]["peers"] == {
        "onsagernet": stage_spec(cfg, "train", "lorenz_r28", "onsagernet")["model"]["spec"]
    }
    # a model's training override wins over the global settings
    cfg["models"]["mlp_ode"]["training"] = {"epochs": 7, "plateau": {"factor": 0.3}}
    t = stage_spec(cfg, "train", "lorenz_r28", "mlp_ode")["training"]
    assert t["epochs"] == 7 and t["plateau"] == {**cfg["training"]["plateau"], "factor": 0.3}
    # a system's override sits between the global block and the model's
    cfg["systems"]["lorenz_r28"]["training"] = {"epochs": 9, "learning_rate": 0.01}
    t = stage_spec(cfg, "train", "lorenz_r28", "mlp_ode")["training"]
    assert t["epochs"] == 7 and t["learning_rate"] == 0.01
    assert stage_spec(cfg, "train", "lorenz_r16", "mlp_ode")["training"]["learning_rate"] == 0.003
    # changing one model does not change another system's or model's hash
    before = config_sha256(stage_spec(cfg, "train", "lorenz_r16", "onsagernet"))
    cfg["systems"]["lorenz_r28"]["parameters"]["r"] = 30.0
    assert config_sha256(stage_spec(cfg, "train", "lorenz_r16", "onsagernet")) == before


@pytest.mark.parametrize(
    "mutate,line",
    [
        (
            lambda c: c["systems"]["lorenz_tiny"]["simulation"].update(dt_smaple=0.1),
            "systems.lorenz_tiny.simulation.dt_smaple: unknown key; did you mean 'dt_sample'?",
        ),
        (
            lambda c: c["evaluation"].update(error_times=[0.2, 0.9]),
            "systems.lorenz_tiny: evaluation.error_times: [0.9] lie beyond simulation.t_end (0.6); "
            "times count from each trajectory's first sample",
        ),
    ],
)
@pytest.mark.slow
def test_snakemake_dry_run_refuses_a_bad_config_with_one_line(tmp_path, mutate, line):
    bad = load("tests/configs/tiny.yaml")
    mutate(bad)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(path)]
        + ["--config", f"results={tmp_path / 'results'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == f"config error: {path}: {line}"
    assert "Traceback" not in out.stdout + out.stderr and 'File "' not in out.stdout + out.stderr
    assert not (tmp_path / "results").exists()


def test_model_seeds_expand_into_one_model_per_seed_with_matching_pretrained_peers():
    cfg = load("tests/configs/rbc_tiny.yaml")
    for key in ("onsagernet", "onsagernet_resnet"):
        cfg["models"][key]["seeds"] = [1, 2]
    validate_config(cfg)
    assert cfg["systems"]["rbc_tiny"]["models"] == [
        "onsagernet_s1",
        "onsagernet_s2",
        "mlp_ode",
        "onsagernet_resnet_s1",
        "onsagernet_resnet_s2",
    ]
    assert cfg["models"]["onsagernet_s2"]["training"]["seed"] == 2
    assert cfg["models"]["onsagernet_resnet_s2"]["autoencoder"]["pretrained"] == "onsagernet_s2"
    # the copies differ in their training seed only, so their train specs (and hashes) differ
    a = stage_spec(cfg, "train", "rbc_tiny", "onsagernet_s1-n3")
    b = stage_spec(cfg, "train", "rbc_tiny", "onsagernet_s2-n3")
    assert a["training"]["seed"] == 1 and b["training"]["seed"] == 2


def test_an_autoencoder_seed_without_a_pretrained_copy_is_named():
    cfg = load("tests/configs/rbc_tiny.yaml")
    cfg["models"]["onsagernet"]["seeds"] = [1]
    cfg["models"]["onsagernet_resnet"]["seeds"] = [1, 2]
    with pytest.raises(ConfigError, match="seed 2 has no pre-trained copy"):
        validate_config(cfg)


def test_an_unseeded_autoencoder_over_a_seeded_pretrained_model_is_named():
    cfg = load("tests/configs/rbc_tiny.yaml")
    cfg["models"]["onsagernet"]["seeds"] = [1, 2]
    with pytest.raises(
        ConfigError, match="onsagernet_resnet.autoencoder.pretrained.*give models.onsagernet_resnet seeds"
    ):
        validate_config(cfg)


@pytest.mark.slow
def test_onsagerflow_check_names_the_line_snakemake_cannot(tmp_path):
    """Snakemake reads --configfile itself and reports a YAML syntax error without file or line;
    `onsagerflow check` runs the workflow's checks and names both."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems:\n  a: {type: lorenz\n  b: 1\n")
    out = subprocess.run(["onsagerflow", "check", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().endswith(
        f"check failed: {bad}:3:4: YAML: expected ',' or '}}', but got ':' (while parsing a flow mapping)"
    )
    good = os.path.join(ROOT, "tests", "configs", "tiny.yaml")
    out = subprocess.run(["onsagerflow", "check", good], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"{good}: valid; 1 systems, 3 runs, results in results"


def test_a_chart_without_a_pretrained_peer_trains_from_the_reducer_alone():
    """NCS24's code learns the dynamics and the chart together from the start: pretrained: null
    leaves the train rule without a pretrained input, and the chart reads the system's PCA."""
    from onsagerflow.config.paths import stage_paths

    cfg = load("tests/configs/polymer_tiny.yaml")
    cfg["models"]["s_onsagernet_ncs"]["seeds"] = [1, 2]  # seeds need no pre-trained copies either
    validate_config(cfg)
    paths = stage_paths(cfg, "train", "polymer_tiny", "s_onsagernet_ncs_s2-n3")
    assert paths["pretrained"] is None and paths["reducer"].endswith("reduce/polymer_tiny/pca.zarr")
    assert "pretrained_run" not in stage_spec(cfg, "train", "polymer_tiny", "s_onsagernet_ncs_s2-n3")
    ours = stage_paths(cfg, "train", "polymer_tiny", "s_onsagernet_closure-n3")
    assert ours["pretrained"].endswith("models/polymer_tiny/s_onsagernet-n3")


def test_restarts_that_cannot_choose_are_named_at_load():
    """end_states judges a deterministic field's fixed points (not an S-OnsagerNet's); a chart
    on pre-trained dynamics can only choose among full runs (not screen by val_loss)."""
    cfg = load("tests/configs/rbc_tiny.yaml")
    cfg["models"]["onsagernet_resnet"]["training"] = {"restarts": {"count": 2}}
    with pytest.raises(ConfigError, match=r"^models\.onsagernet_resnet\.training\.restarts: a run with an autoencoder"):
        validate_config(cfg)
    cfg["models"]["onsagernet_resnet"]["training"] = {"restarts": {"count": 2, "select": "end_states"}}
    validate_config(cfg)
    cfg = load("tests/configs/polymer_tiny.yaml")
    key = next(k for k, m in cfg["models"].items() if m["type"] == "s_onsagernet" and not m.get("autoencoder"))
    cfg["models"][key]["training"] = {
        **cfg["models"][key].get("training", {}),
        "restarts": {"count": 2, "select": "end_states"},
    }
    with pytest.raises(ConfigError, match=rf"^models\.{key}\.training\.restarts\.select: end_states judges"):
        validate_config(cfg)
