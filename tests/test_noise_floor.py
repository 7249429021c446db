"""The ensemble metrics' floor: the simulator's own test ensembles rerun under new noise."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from onsagerflow.cli import main
from onsagerflow.config import load_config, stage_spec
from onsagerflow.config.paths import data_store, noise_floor_file
from onsagerflow.data import open_store
from onsagerflow.stages.noise_floor import judge_draw
from onsagerflow.stages.table import run_polymer
from onsagerflow.stages.table_rows import NOISE_FLOOR_MODEL, noise_floor_row

CONFIG = Path(__file__).resolve().parent / "configs" / "polymer_tiny.yaml"
SYSTEM = "polymer_tiny"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """polymer_tiny's store, simulated by hand as the workflow would (2 test ensembles of 4)."""
    results = str(tmp_path_factory.mktemp("floor") / "results")
    assert main(["simulate", "--config", str(CONFIG), "--system", SYSTEM, "--results", results]) == 0
    return results


def test_the_stores_own_noise_scores_zero_and_new_noise_does_not(simulated):
    """judge_draw reruns each test path from its stored start: under draw 0 (the store's own
    noise) every path must come back as stored, so each error (max |Δmean|/σ, max |Δstd|/σ, W1
    and KS of the unfolding times) is exactly 0, which fails if reruns and stored paths were
    paired up wrongly. A new draw scores above 0, and one ensemble rerun alone scores as it
    does among the others."""
    config = load_config(str(CONFIG), {"results": simulated})
    spec = stage_spec(config, "noise_floor", SYSTEM)
    ds = open_store(data_store(simulated, SYSTEM))
    own = judge_draw(spec["system"], spec["evaluation"], ds, 0)
    assert [e["ensemble"] for e in own] == [0, 1] and all(e["realisations"] == 4 for e in own)
    for e in own:
        assert e["extension"]["max_mean_error"] == pytest.approx(0, abs=1e-5)
        assert e["extension"]["max_std_error"] == pytest.approx(0, abs=1e-5)
        for by in e["unfolding_time_by_definition"].values():
            assert by["wasserstein1"] == pytest.approx(0, abs=1e-9) and by["ks"] == 0
    new = judge_draw(spec["system"], spec["evaluation"], ds, 1)
    assert all(e["extension"]["max_mean_error"] > 1e-3 for e in new)
    assert {e["label"] for e in new} == {"fast", "slow"}
    alone = judge_draw(spec["system"], spec["evaluation"], ds, 1, ensemble=1)
    assert len(alone) == 1 and alone[0]["extension"] == new[1]["extension"]


def test_noise_floor_by_hand_writes_the_draw_and_refuses_a_store_another_config_made(simulated, tmp_path, caplog):
    argv = ["noise-floor", "--config", str(CONFIG), "--system", SYSTEM, "--results", simulated, "--draw", "2"]
    assert main([*argv, "--ensemble", "0"]) == 0
    out = json.loads(Path(noise_floor_file(simulated, SYSTEM, 2, 0)).read_text())
    assert out["system"] == SYSTEM and out["draw"] == 2 and [e["ensemble"] for e in out["ensembles"]] == [0]
    assert out["unfolding_time_definition"] == "final_fraction"
    # the same store under a config whose chains are another seed's: not this config's store
    block = yaml.safe_load(CONFIG.read_text())
    block["systems"][SYSTEM]["seed"] = 5
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(block))
    target = tmp_path / "never.json"
    caplog.clear()
    code = main(
        ["noise-floor", "--config", str(other), "--system", SYSTEM, "--data", data_store(simulated, SYSTEM)]
        + ["--draw", "1", "--out", str(target), "--results", simulated]
    )
    assert code == 1 and not target.exists()
    err = caplog.text
    assert "was not simulated from systems.polymer_tiny" in err and "trajectories.zarr" in err
    # draws count from 1: draw 0 is the store itself (a user's error, not a bug)
    caplog.clear()
    assert main([*argv[:-1], "0", "--out", str(target)]) == 1 and not target.exists()
    assert "draws of new noise count from 1" in caplog.text and "a bug" not in caplog.text


def test_an_ensemble_rerun_in_parts_is_judged_as_if_rerun_whole(simulated, tmp_path):
    """--part jobs rerun slices of an ensemble's realisations (the noise is keyed per path, so
    the slices are the same paths); the judge call on the part files gives the numbers of one
    job, and refuses parts that do not hold the ensemble's paths in order."""
    base = ["noise-floor", "--config", str(CONFIG), "--system", SYSTEM, "--results", simulated]
    base += ["--draw", "3", "--ensemble", "1"]
    parts = [str(tmp_path / "0-3.npz"), str(tmp_path / "3-4.npz")]
    for part, path in zip(("0-3", "3-4"), parts):
        assert main([*base, "--part", part, "--out", path]) == 0
    assert main([*base, "--out", str(tmp_path / "whole.json")]) == 0
    assert main([*base, "--out", str(tmp_path / "parts.json"), *parts]) == 0
    whole, split = (json.loads((tmp_path / f).read_text()) for f in ("whole.json", "parts.json"))
    assert split["parts"] == 2 and split["ensembles"] == whole["ensembles"]
    assert main([*base, "--out", str(tmp_path / "wrong.json"), *parts[::-1]]) == 1
    assert not (tmp_path / "wrong.json").exists()


def draw_file(draw: int, numbers: dict[int, tuple[float, float, float, float]]) -> dict:
    """A noise-floor file with the given (max mean error, max std error, W1/mean, KS) per ensemble."""
    return {
        "system": "chain",
        "draw": draw,
        "ensembles": [
            {
                "ensemble": e,
                "label": ["slow", "fast"][e],
                "extension": {"max_mean_error": m, "max_std_error": s},
                "unfolding_time": {"wasserstein1_relative": w, "ks": k},
            }
            for e, (m, s, w, k) in numbers.items()
        ],
    }


def test_the_polymer_tables_simulator_row_is_the_mean_over_draws(tmp_path):
    """Two draws of ensemble 0 and 1 (one file each per ensemble, as the workflow writes them):
    each cell is the mean of its two draws."""
    files = []
    for draw, ens, numbers in [
        (1, 0, (0.1, 0.2, 0.05, 0.1)),
        (2, 0, (0.3, 0.4, 0.15, 0.3)),
        (1, 1, (0.2, 0.2, 0.02, 0.2)),
        (2, 1, (0.0, 0.6, 0.04, 0.0)),
    ]:
        path = tmp_path / f"draw{draw}_ensemble{ens}.json"
        path.write_text(json.dumps(draw_file(draw, {ens: numbers})))
        files.append(str(path))
    row = noise_floor_row([json.loads(Path(f).read_text()) for f in files])
    assert row["model"] == f"{NOISE_FLOOR_MODEL} (2)"
    assert row["slow #0: max mean error"] == pytest.approx(0.2)
    assert row["slow #0: max std error"] == pytest.approx(0.3)
    assert row["slow #0: unfolding W1/mean"] == pytest.approx(0.1)
    assert row["fast #1: max mean error"] == pytest.approx(0.1)
    assert row["fast #1: max std error"] == pytest.approx(0.4)
    assert row["fast #1: unfolding KS"] == pytest.approx(0.1)
    run_polymer([], str(tmp_path / "t.csv"), str(tmp_path / "t.md"), files)
    md = (tmp_path / "t.md").read_text()
    assert f"| chain | {NOISE_FLOOR_MODEL} (2) |" in md and "judged against the stored ensembles" in md
    # a damaged file is named
    (tmp_path / "bad.json").write_text(json.dumps({"system": "chain", "draw": 1, "ensembles": [{"ensemble": 0}]}))
    with pytest.raises(OSError, match="bad.json"):
        run_polymer([], str(tmp_path / "u.csv"), str(tmp_path / "u.md"), [str(tmp_path / "bad.json")])
    assert not (tmp_path / "u.md").exists() and np.isfinite(row["fast #1: unfolding W1/mean"])
