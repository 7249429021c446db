"""A store simulated in shards and gathered equals, bit for bit, the store of one simulate job:
Lorenz-63, Rayleigh–Bénard, and the polymer with its test ensembles (labelled at the gather)
and its relaxation time measured in parts (onsagerflow calibrate).

Why it holds: every trajectory draws from its own seed (Lorenz: row i of one seeded draw of all
starts; RBC and polymer: keys folded with the trajectory id), keeps the split of the whole set,
and is integrated on its own inside a batch (vmap), so a trajectory does not depend on which
shard or batch it runs in."""

import pytest
from conftest import assert_stores_identical

from onsagerflow.config import stage_spec, validate_config
from onsagerflow.data import open_store
from onsagerflow.jobs import cut, range_name
from onsagerflow.stages import calibrate, gather, simulate
from onsagerflow.systems import get_system

MODELS = {"onsagernet": {"type": "onsagernet", "width": 8, "depth": 1}}

SYSTEMS = {
    "lorenz": {
        "type": "lorenz",
        "seed": 5,
        "simulation": {"n_trajectories": 30, "t_end": 0.05, "dt_sample": 0.005},
        "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
        "pairs": {"tau": 0.005},
        "models": ["onsagernet"],
    },
    "rbc": {
        "type": "rbc",
        "seed": 2,
        "simulation": {
            "n_trajectories": 5,
            "nx": 16,
            "nz": 8,
            "dt": 2.0e-4,
            "dt_sample": 0.002,
            "t_end": 0.01,
            "t_burn": 0.002,
            "perturbation": 0.3,
            "batch_size": 2,
        },
        "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
        "pairs": {"tau": 0.002},
        "models": ["onsagernet"],
    },
    # λ measured at rest (relaxation_time null), two test ensembles labelled fast and slow
    "polymer": {
        "type": "polymer",
        "seed": 4,
        "parameters": {"n_beads": 4, "spring": "fene", "H": 30.0, "Wi": 2.0},
        "simulation": {
            "n_train": 3,
            "n_val": 2,
            "n_ensembles": 2,
            "n_realisations": 3,
            "t_end": 1.0,
            "dt_sample": 0.1,
            "t_equilibrate": 0.5,
            "dt": 0.002,
            "batch_size": 2,
            "relaxation_measurement": {"n_chains": 6, "duration": 20.0},
        },
        "pairs": {"tau": 0.1},
        "models": ["onsagernet"],
    },
}


def spec_of(name):
    evaluation = {"error_times": [0.005], "horizons": [0.005]}  # within the short trajectories
    config = validate_config({"systems": {name: SYSTEMS[name]}, "models": MODELS, "evaluation": evaluation})
    return stage_spec(config, "simulate", name)


def sharded(spec, tmp_path, size, calibration=None):
    n = get_system(spec["type"]).trajectory_count(spec)
    paths = []
    for r in cut(n, size):
        path = tmp_path / "shards" / f"{range_name(r)}.zarr"
        simulate.run(spec, str(path), r, calibration)
        paths.append(str(path))
    gather.run(spec, paths, str(tmp_path / "gathered.zarr"))
    return open_store(tmp_path / "gathered.zarr")


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("lorenz", 25), ("rbc", 2), ("rbc", 4)])
def test_sharded_store_equals_the_store_of_one_job(name, size, tmp_path):
    spec = spec_of(name)
    simulate.run(spec, str(tmp_path / "whole.zarr"))
    whole = open_store(tmp_path / "whole.zarr")
    assert_stores_identical(sharded(spec, tmp_path, size), whole)


@pytest.mark.slow
def test_polymer_shards_with_ensembles_and_a_calibration_in_parts_equal_one_job(tmp_path):
    """One job measures λ itself and labels the ensembles in a first pass over the test
    batches; the sharded run measures λ in two parts of chains, and the gather labels."""
    spec = spec_of("polymer")
    simulate.run(spec, str(tmp_path / "whole.zarr"))
    whole = open_store(tmp_path / "whole.zarr")
    assert whole.attrs["relaxation_time_method"].startswith("measured")
    assert sorted(whole.attrs["ensemble_labels"]) == [0, 1]  # one fast and one slow ensemble

    parts = []
    for r in cut(6, 4):  # chains 0-4 and 4-6 of the measurement (batches of 2)
        parts.append(str(tmp_path / "calibration" / f"{range_name(r)}.npz"))
        calibrate.run_part(spec, r, parts[-1])
    calibrate.run(spec, parts, str(tmp_path / "calibration.json"))

    # batches of 2 chains; the shard 4-8 holds val and test trajectories
    gathered = sharded(spec, tmp_path, 4, str(tmp_path / "calibration.json"))
    assert_stores_identical(gathered, whole)
    shard = open_store(tmp_path / "shards" / "8-11.zarr")
    assert (shard["unfolding"].values == 2).all() and shard.attrs["ensemble_labels"] == []


def test_gather_refuses_shards_that_miss_or_repeat_trajectories(tmp_path):
    from onsagerflow.data import SchemaError

    spec = spec_of("rbc")
    simulate.run(spec, str(tmp_path / "0-2.zarr"), range(0, 2))  # one shard: a repeat needs no second
    with pytest.raises(SchemaError, match=r"missing: \[2, 3, 4\]"):
        gather.run(spec, [str(tmp_path / "0-2.zarr")], str(tmp_path / "out.zarr"))
    with pytest.raises(SchemaError, match=r"once each, in order \(missing: \[2, 3, 4\]; ids seen: 4\)"):
        gather.run(spec, [str(tmp_path / "0-2.zarr")] * 2, str(tmp_path / "out.zarr"))
    assert not (tmp_path / "out.zarr").exists()


def test_a_shard_outside_the_system_or_of_split_batches_is_a_one_line_error(tmp_path):
    from onsagerflow.config import ConfigError

    with pytest.raises(ConfigError, match="shard 25-31 is not a non-empty range of its 30 trajectories"):
        simulate.run(spec_of("lorenz"), str(tmp_path / "s.zarr"), range(25, 31))
    with pytest.raises(ConfigError, match="shard 1-3 does not hold whole batches of 2 trajectories"):
        simulate.run(spec_of("rbc"), str(tmp_path / "s.zarr"), range(1, 3))
    assert not (tmp_path / "s.zarr").exists()
