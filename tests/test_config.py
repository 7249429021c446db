"""Config validation: the schema (keys, types, defaults) and the checks it cannot express."""

import copy
import os
import subprocess
import sys

import pytest
import yaml
from snakemake.utils import validate

from onsagerflow.config import ConfigError, check_config, prepare_config, stage_spec
from onsagerflow.provenance import config_sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "config", "schema.yaml")


def load(name):
    with open(os.path.join(ROOT, name)) as f:
        return yaml.safe_load(f)


def validated(cfg):
    cfg = copy.deepcopy(cfg)
    validate(cfg, SCHEMA)
    return prepare_config(cfg)


@pytest.mark.parametrize(
    "name",
    [
        "config/config.yaml",
        "config/paper.yaml",
        "tests/configs/tiny.yaml",
        "tests/configs/rbc_tiny.yaml",
        "tests/configs/variants.yaml",
        "tests/configs/polymer_tiny.yaml",
    ],
)
def test_shipped_configs_validate_and_get_defaults(name):
    cfg = validated(load(name))
    for system in cfg["systems"].values():
        assert system.get("splits", True) and system["pairs"]["tau"] > 0 and system["simulation"]["t_end"] > 0
    assert cfg["training"]["plateau"]["factor"] == 0.5
    assert cfg["evaluation"]["long_rollouts"] >= 1


def test_default_config_follows_prf21():
    cfg = validated(load("config/config.yaml"))
    lorenz = [s for s in cfg["systems"].values() if s["type"] == "lorenz"]
    assert sorted(s["parameters"]["r"] for s in lorenz) == [16.0, 28.0]
    for s in lorenz:
        sim = s["simulation"]
        assert sim["n_trajectories"] == 100 and sim["t_end"] == 3.0
        assert sim["init_low"] == [-25, -25, -5] and sim["init_high"] == [25, 25, 30]
        assert s["pairs"]["tau"] == 0.001 and s["pairs"]["per_trajectory"] == 100


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["systems"]["lorenz_r16"].setdefault("simulation", {}).update(n_trajectorys=5),
            r"'n_trajectorys' was unexpected",
        ),
        (
            lambda c: c["systems"]["lorenz_r16"].setdefault("simulation", {}).update(n_trajectories="many"),
            r"'many' is not of type 'integer'",
        ),
        (lambda c: c["models"]["onsagernet"].update(alpha=-1), r"-1 is less than or equal to the minimum of 0"),
        (lambda c: c.update(trainig={"epochs": 3}), r"'trainig' was unexpected"),
        (lambda c: c["systems"]["lorenz_r16"].update(type="lorenz64"), r"'lorenz64' is not one of"),
    ],
)
def test_wrong_key_or_type_fails_naming_it(mutate, message):
    cfg = load("config/config.yaml")
    mutate(cfg)
    with pytest.raises(Exception, match=message) as info:
        validate(cfg, SCHEMA)
    assert "On instance" in str(info.value)  # followed by the path of the offending key


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
    ],
)
def test_inconsistent_config_fails_naming_the_key(mutate, message):
    cfg = validated(load("config/config.yaml"))
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


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


def test_snakemake_refuses_a_bad_config_file_naming_the_key(tmp_path):
    bad = load("tests/configs/tiny.yaml")
    bad["systems"]["lorenz_tiny"]["simulation"]["dt_smaple"] = 0.1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--configfile",
            str(path),
            "--config",
            f"results={tmp_path / 'results'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "'dt_smaple' was unexpected" in out.stdout + out.stderr
    assert not (tmp_path / "results").exists()


def test_defaults_are_not_shared_between_systems():
    cfg = validated(load("config/config.yaml"))
    cfg["systems"]["lorenz_r28"]["pairs"]["tau"] = 0.002
    assert cfg["systems"]["lorenz_r16"]["pairs"]["tau"] == 0.001


def test_default_rbc_case_follows_prf21_where_it_can():
    cfg = validated(load("config/config.yaml"))
    rbc = [s for s in cfg["systems"].values() if s["type"] == "rbc"]
    assert [s["parameters"]["r"] for s in rbc] == [28.0]
    assert rbc[0]["reduction"]["latent_dims"] == [3, 7]
    paper = validated(load("config/paper.yaml"))
    assert all(s["reduction"]["latent_dims"] == [3, 5, 7] for s in paper["systems"].values() if s["type"] == "rbc")
    assert rbc[0]["reduction"]["fields"] == ["u", "w", "theta"]


def test_model_seeds_expand_into_one_model_per_seed_with_matching_pretrained_peers():
    cfg = yaml.safe_load(open(os.path.join(ROOT, "tests", "configs", "rbc_tiny.yaml")))
    for key in ("onsagernet", "onsagernet_resnet"):
        cfg["models"][key]["seeds"] = [1, 2]
    validate(cfg, SCHEMA)
    prepare_config(cfg)
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
    cfg = yaml.safe_load(open(os.path.join(ROOT, "tests", "configs", "rbc_tiny.yaml")))
    cfg["models"]["onsagernet"]["seeds"] = [1]
    cfg["models"]["onsagernet_resnet"]["seeds"] = [1, 2]
    validate(cfg, SCHEMA)
    with pytest.raises(ConfigError, match="seed 2 has no pre-trained copy"):
        prepare_config(cfg)


def test_an_unseeded_autoencoder_over_a_seeded_pretrained_model_is_named():
    cfg = yaml.safe_load(open(os.path.join(ROOT, "tests", "configs", "rbc_tiny.yaml")))
    cfg["models"]["onsagernet"]["seeds"] = [1, 2]
    validate(cfg, SCHEMA)
    with pytest.raises(
        ConfigError, match="onsagernet_resnet.autoencoder.pretrained.*give models.onsagernet_resnet seeds"
    ):
        prepare_config(cfg)
