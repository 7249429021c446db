"""The polymer simulator's data side: derived variables, unfolding labels, the batch
generator and the canonical store, seeds, spec errors and the schema fragment."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from onsagerflow.config import ConfigError, validated_system
from onsagerflow.data import Split, Unfolding, open_store, write_store
from onsagerflow.stages import simulate as simulate_stage
from onsagerflow.systems import get_system
from onsagerflow.systems import polymer as P

ROOT = Path(__file__).resolve().parents[1]


def validated(block: dict, name: str) -> dict:
    """What the workflow hands the simulator: the block validated, defaults filled, named."""
    return {"name": name, **validated_system({"models": ["s_onsagernet"], **block}, name)}


def tiny_block(**simulation):
    """A Hookean chain (λ from the Rouse formula, nothing measured) past coil–stretch."""
    sim = {
        "n_train": 5,
        "n_val": 3,
        "n_ensembles": 2,
        "n_realisations": 4,
        "t_end": 2.0,
        "dt_sample": 0.1,
        "dt": 0.01,
        "t_equilibrate": 0.5,
        "batch_size": 4,
    }
    sim.update(simulation)
    return {
        "type": "polymer",
        "seed": 11,
        "parameters": {"n_beads": 6, "spring": "hookean", "H": 1.0, "Wi": 1.0},
        "simulation": sim,
        "pairs": {"tau": sim["dt_sample"]},
        "reduction": {"components": 4},
    }


def tiny_spec(**simulation):
    return validated(tiny_block(**simulation), "polymer_tiny")


def collect(spec):
    return list(P.simulate(spec))


# ----------------------------------------------------------------------------- derived variables


def test_derived_variables_on_a_hand_made_conformation():
    """extension = max − min x; |x_N − x_1|; |x_N + x_1| after removing the centre of mass."""
    x = np.array([0.0, 1.0, 3.0, 2.0]) + 10.0  # centre of mass at x = 11.5
    r = np.zeros((4, 3))
    r[:, 0] = x
    r[:, 1] = [5.0, -1.0, 2.0, 0.0]  # y and z play no part
    obs = P.observables(r)
    assert obs["extension"] == pytest.approx(3.0)
    assert obs["end_to_end_diff"] == pytest.approx(2.0)
    assert obs["end_to_end_sum"] == pytest.approx(1.0)  # |(2 − 1.5) + (0 − 1.5)|
    batch = np.broadcast_to(r, (2, 3, 4, 3))
    assert P.observables(batch)["end_to_end_sum"].shape == (2, 3)
    np.testing.assert_allclose(P.observables(batch)["end_to_end_sum"], 1.0)


def test_unfolding_time_and_fast_slow_labels():
    t = np.arange(5) * 0.5
    ext = np.array([[0, 1, 2, 3, 4], [0, 0, 0, 3, 3], [0, 0, 0, 0, 0]], float)
    np.testing.assert_array_equal(P.unfolding_time(ext, t, 2.5), [1.5, 1.5, np.inf])
    np.testing.assert_array_equal(P.unfolding_time(ext, t, 2.0), [1.0, 1.5, np.inf])
    times = np.array([1.0, 1.2, 1.1, 3.0, 2.9, np.inf, 2.0, 2.0, 2.0])
    ens = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    # ranked by median: 0 (1.1) fast, 2 (2.0) the middle one of three, 1 (3.0; inf counts as slowest) slow
    np.testing.assert_array_equal(P.label_ensembles(times, ens, 3), [0, 1, 2])
    assert P.label_ensembles(times, ens, 3).dtype == np.int8
    # two ensembles whose medians tie on the time grid: the mean decides, both get a label
    two = np.array([2.0, 2.0, 1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(P.label_ensembles(two, np.array([0, 0, 0, 1, 1, 1]), 2), [0, 1])
    np.testing.assert_array_equal(P.label_ensembles(np.array([5.0, 5.0, 1.0, 1.0]), np.array([0, 0, 1, 1]), 2), [1, 0])


# ----------------------------------------------------------------------------- generator and store


@pytest.mark.slow
def test_generator_yields_consistent_batches_the_store_accepts(tmp_path):
    spec = tiny_spec()
    batches = collect(spec)
    assert [b.sizes["trajectory"] for b in batches] == [4, 4, 4, 4]
    ids = np.concatenate([b["trajectory"].values for b in batches])
    np.testing.assert_array_equal(ids, np.arange(16))
    split = np.concatenate([b["split"].values for b in batches])
    np.testing.assert_array_equal(split, [Split.TRAIN] * 5 + [Split.VAL] * 3 + [Split.TEST] * 8)
    ens = np.concatenate([b["ensemble"].values for b in batches])
    np.testing.assert_array_equal(ens, [-1] * 8 + [0] * 4 + [1] * 4)
    lab = np.concatenate([b["unfolding"].values for b in batches])
    assert lab.dtype == np.int8 and np.all(lab[:8] == Unfolding.UNLABELLED)
    assert len(set(lab[8:12])) == 1 and len(set(lab[12:])) == 1
    assert {int(lab[8]), int(lab[12])} == {Unfolding.FAST, Unfolding.SLOW}  # one fast, one slow ensemble
    first = batches[0].attrs
    for b in batches:
        assert b.attrs["ensemble_labels"] == first["ensemble_labels"]
        assert b["r"].dtype == np.float32 and b["r"].dims == ("trajectory", "time", "bead", "xyz")
        obs = P.observables(b["r"].values.astype(np.float64))
        for k in P.DERIVED:
            np.testing.assert_allclose(b[k].values, obs[k], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(b["r"].values.mean(axis=2), 0.0, atol=1e-5)  # centre of mass

    r0 = np.concatenate([b["r"].values[:, 0] for b in batches])
    assert all(np.array_equal(r0[8], r0[i]) for i in range(9, 12))  # one ensemble, one start
    assert not np.array_equal(r0[8], r0[12])
    assert len({r0[i].tobytes() for i in range(8)}) == 8  # own coils for train/val
    ext = np.concatenate([b["extension"].values for b in batches])
    assert not np.array_equal(ext[8], ext[9])  # different noise

    lam = P.rouse_relaxation_time(6, 1.0, 1.0)
    assert first["relaxation_time"] == pytest.approx(lam) and first["relaxation_time_method"] == "rouse"
    assert first["strain_rate"] == pytest.approx(1.0 / lam) and first["Wi"] == 1.0
    assert first["observed"] == "r" and first["system"] == "polymer_tiny"
    assert first["dt"] <= 0.01 and first["save_every"] * first["dt"] == pytest.approx(0.1 * lam)
    for key in ("onsagerflow_version", "git_sha", "config_sha256", "created"):
        assert first[key]

    path = write_store(P.simulate(spec), tmp_path / "poly.zarr", dims=P.DIMS)
    ds = open_store(path, dims=P.DIMS)
    assert ds.sizes == {"trajectory": 16, "time": 21, "bead": 6, "xyz": 3}
    np.testing.assert_array_equal(ds["r"].values, np.concatenate([b["r"].values for b in batches]))
    assert ds["unfolding"].attrs["flag_meanings"] == "fast slow unlabelled"
    assert ds["unfolding"].attrs["flag_values"] == [0, 1, 2]  # the stored codes, a public contract
    assert ds["split"].attrs["flag_meanings"] == "train val test" and ds["split"].attrs["flag_values"] == [0, 1, 2]
    assert ds["unfolding"].dtype == np.int8 and ds["ensemble"].dtype == np.int32
    np.testing.assert_array_equal(ds["unfolding"].values, lab)
    times = ds["unfolding_time"].values
    np.testing.assert_array_equal(
        times,
        P.unfolding_time(ds["extension"].values.astype(np.float64), ds["time"].values, first["unfolding_threshold"]),
    )
    assert np.isfinite(times).sum() > 8  # past coil–stretch, most chains unfold within 2 λ


def test_new_noise_draws_keep_each_start_and_redraw_only_the_noise():
    """new_noise_observables(spec, ids, d): draw 0 is the store's own paths; draw d ≥ 1 starts
    each trajectory from its stored initial state (frame 0 equal) under noise independent of
    the store's and of every other draw (later frames differ), and does not depend on which
    other ids run beside it."""
    spec = tiny_spec()
    stored = {k: np.concatenate([b[k].values for b in collect(spec)]) for k in P.DERIVED}
    ids = np.array([2, 8, 9, 13])  # a train chain and members of both test ensembles
    own = P.new_noise_observables(spec, ids, 0)
    for k in P.DERIVED:
        np.testing.assert_allclose(own[k], stored[k][ids], rtol=1e-5, atol=1e-5)
    one, two = P.new_noise_observables(spec, ids, 1), P.new_noise_observables(spec, ids, 2)
    for draw in (one, two):
        np.testing.assert_allclose(draw["extension"][:, 0], stored["extension"][ids, 0], rtol=1e-5, atol=1e-5)
        assert np.all(np.abs(draw["extension"][:, 1:] - stored["extension"][ids, 1:]).max(axis=1) > 1e-3)
    assert np.all(np.abs(one["extension"][:, 1:] - two["extension"][:, 1:]).max(axis=1) > 1e-3)
    # members 8 and 9 of one ensemble share their start, not their redrawn noise
    assert np.abs(one["extension"][1] - one["extension"][2]).max() > 1e-3
    alone = P.new_noise_observables(spec, ids[2:3], 1)
    np.testing.assert_array_equal(alone["extension"], one["extension"][2:3])


def test_simulate_stage_streams_the_polymer_store(tmp_path):
    simulate_stage.run(tiny_spec(), str(tmp_path / "s.zarr"))
    ds = open_store(tmp_path / "s.zarr", dims=get_system("polymer").DIMS)
    assert ds.sizes["trajectory"] == 16 and ds.attrs["system_type"] == "polymer"


@pytest.mark.slow
def test_seed_reproduces_bit_identically_and_batching_does_not_matter():
    a = np.concatenate([b["r"].values for b in collect(tiny_spec())])
    b = np.concatenate([b["r"].values for b in collect(tiny_spec())])
    assert np.array_equal(a, b)
    other = validated({**tiny_block(), "seed": 12}, "polymer_tiny")
    c = np.concatenate([b["r"].values for b in collect(other)])
    assert not np.allclose(a[:, 0], c[:, 0])
    # Keys are per trajectory and per step: cutting the run into other batches changes nothing.
    d = np.concatenate([b["r"].values for b in collect(tiny_spec(batch_size=3))])
    np.testing.assert_allclose(d, a, rtol=0, atol=1e-6)


def test_float64_storage_and_absolute_time():
    spec = tiny_spec(dtype="float64", time_unit="absolute", t_end=1.0, dt_sample=0.25, dt=0.02)
    ds = collect(spec)[0]
    assert ds["r"].dtype == np.float64 and ds["extension"].dtype == np.float64
    np.testing.assert_allclose(ds["time"].values, [0, 0.25, 0.5, 0.75, 1.0])
    assert ds.attrs["save_every"] == 13 and ds.attrs["dt"] == pytest.approx(0.25 / 13)


@pytest.mark.slow
def test_measured_relaxation_time_path_for_fene():
    block = {
        "type": "polymer",
        "parameters": {"n_beads": 4, "spring": "fene", "Wi": 3.0},
        "simulation": {
            "n_train": 2,
            "n_val": 1,
            "n_ensembles": 1,
            "n_realisations": 2,
            "t_end": 1.0,
            "dt_sample": 0.25,
            "t_equilibrate": 0.0,
            "relaxation_measurement": {"n_chains": 16, "duration": 20.0},
        },
        "pairs": {"tau": 0.25},
        "reduction": {"components": 4},
    }
    spec = validated(block, "fene_tiny")
    pl = P.plan(spec)
    assert pl.relaxation_method.startswith("measured") and pl.relaxation_stderr > 0
    assert 0.5 < pl.relaxation_time / P.rouse_relaxation_time(4, 50.0, 1.0) < 1.2
    ds = collect(spec)[0]
    assert ds.attrs["strain_rate"] == pytest.approx(3.0 / ds.attrs["relaxation_time"])


@pytest.mark.slow
def test_calibration_in_parts_is_the_one_measurement():
    """λ measured in parts (whole batches of MEASUREMENT_BATCH chains, then the rest) and fitted
    on all parts equals the measurement made at once, bit for bit; parts must cover every chain."""
    n = P.MEASUREMENT_BATCH + 4
    block = {
        "type": "polymer",
        "parameters": {"n_beads": 4, "spring": "fene", "Wi": 3.0},
        "simulation": {"relaxation_measurement": {"n_chains": n, "duration": 8.0}},
        "pairs": {"tau": 0.1},
        "reduction": {"components": 4},
    }
    spec = validated(block, "fene_parts")
    assert P.needs_measurement(spec) and P.calibration_size(spec) == n
    chain = P.Chain.from_spec(spec)
    lam, se, method = P.relaxation_time(spec, chain, P.resolve_integrator(chain, "auto"))
    cut = P.calibration_batch(spec)
    parts = [P.calibrate_part(spec, np.arange(cut)), P.calibrate_part(spec, np.arange(cut, n))]
    cal = P.calibrate(spec, parts)
    assert (cal["relaxation_time"], cal["relaxation_time_stderr"], cal["relaxation_time_method"]) == (lam, se, method)
    with pytest.raises(ValueError, match="expected each of"):
        P.calibrate(spec, parts[::-1])
    assert P.plan(spec, cal).relaxation_time == lam
    assert P.calibration_size(tiny_spec()) == 0  # Rouse: nothing to measure


def test_shards_gathered_and_labelled_are_the_one_run_store():
    """Shards of whole batches hold the trajectories of one run bit for bit, unlabelled;
    finish_gather labels the ensembles as the one run does."""
    import xarray as xr

    spec = tiny_spec()
    whole = xr.concat(collect(spec), dim="trajectory")
    n, b = P.trajectory_count(spec), P.batch_size(spec)
    shards = [
        xr.concat(list(P.simulate(spec, range(i, min(i + 2 * b, n)))), dim="trajectory") for i in range(0, n, 2 * b)
    ]
    gathered = xr.concat(shards, dim="trajectory")
    assert np.array_equal(gathered["r"].values, whole["r"].values)
    assert set(gathered["unfolding"].values.tolist()) == {int(Unfolding.UNLABELLED)}
    labelled = P.finish_gather(spec, gathered)
    assert np.array_equal(labelled["unfolding"].values, whole["unfolding"].values)
    assert labelled.attrs["ensemble_labels"] == whole.attrs["ensemble_labels"]


def test_store_batches_start_on_chunk_boundaries():
    """write_store chunks like its first batch; a batch starting inside a chunk is refused by
    zarr, so the batch size is a multiple of that chunk (3.6 MB a paper trajectory → 4)."""
    assert P.store_batch_size(30, 1000, 1001, 300, 4) == 28
    assert P.store_batch_size(64, 1000, 1001, 300, 4) == 64
    assert P.store_batch_size(2, 1000, 1001, 300, 4) == 2
    assert P.store_batch_size(32, 10, 201, 16, 4) == 10


# ----------------------------------------------------------------------------- spec


def _with(path, value):
    block = tiny_block()
    node = block
    *parents, leaf = path.split(".")
    for k in parents:
        node = node.setdefault(k, {})
    node[leaf] = value
    return block


@pytest.mark.parametrize(
    "path,value,message",
    [
        ("parameters.springs", "fene", r"parameters\.springs: unknown key"),
        ("parameters.spring", "rouse", r"parameters\.spring: .*rouse"),
        ("parameters.n_beads", 1, r"parameters\.n_beads: .*>= 2"),
        ("parameters.H", -1.0, r"parameters\.H: .*> 0"),
        ("parameters.excluded_volume", {"strength": -1.0}, r"parameters\.excluded_volume\.strength"),
        ("parameters.relaxation_time", 0.0, r"parameters\.relaxation_time"),
        ("simulation.t_end", 2.05, r"simulation\.t_end: .*whole multiple of simulation\.dt_sample"),
        ("simulation.noise", "pink", r"simulation\.noise: .*pink"),
        ("simulation.dtype", "float16", r"simulation\.dtype"),
        ("simulation.n_train", 0, r"simulation\.n_train: .*>= 1"),
        ("simulation.unfolding", {"fraction": 1.5}, r"simulation\.unfolding\.fraction"),
        ("simulation.relaxation_measurement", {"window": [0.1, 0.5]}, r"simulation\.relaxation_measurement\.window"),
        ("simulation.dt", 0.6, r"simulation\.dt: explicit Euler is unstable"),
    ],
)
def test_bad_spec_names_the_key(path, value, message):
    """The schema (bounds, names) and the config checks (cross-field) refuse a bad block with
    one line naming the key, before the simulator sees it."""
    with pytest.raises(ConfigError, match=r"^systems\.polymer_tiny\." + message) as err:
        validated(_with(path, value), "polymer_tiny")
    assert "\n" not in str(err.value)


def test_a_closure_without_the_extension_must_keep_x_first():
    """Without the extension among the observables, the evaluation decodes it from the
    chains' x-coordinates: a selection that drops x, or puts another coordinate first, is
    refused where it is written; x alone or all of x, y, z pass."""
    block = tiny_block()
    for xyz in ([1, 2], [1, 0]):
        block["reduction"] = {"components": 4, "observables": [], "select": {"xyz": xyz}}
        with pytest.raises(ConfigError, match=r"^systems\.polymer_tiny\.reduction\.select: without 'extension'"):
            validated(block, "polymer_tiny")
    block["reduction"] = {"components": 4, "observables": [], "select": {"bead": [0, 5]}}
    with pytest.raises(ConfigError, match=r"reduction\.select: .*bead cannot be selected"):
        validated(block, "polymer_tiny")
    for select in ({"xyz": [0]}, {}):
        block["reduction"] = {"components": 4, "observables": [], "select": select}
        validated(block, "polymer_tiny")
    block["reduction"] = {"components": 4, "select": {"xyz": [1]}}  # the extension a coordinate: any selection
    validated(block, "polymer_tiny")


def test_euler_is_refused_for_fene():
    block = _with("simulation.integrator", "euler")
    block["parameters"]["spring"] = "fene"
    with pytest.raises(ConfigError, match=r"simulation\.integrator: 'euler' cannot keep FENE bonds"):
        validated(block, "polymer_tiny")
    with pytest.raises(ValueError, match="'euler' cannot keep FENE bonds"):  # and the kernel itself
        P.make_scheme(P.chain_of(spring="fene"), "euler")


def test_the_schema_alone_holds_the_defaults():
    """The simulator has no defaults of its own: a chain built from nothing takes the schema's,
    and a block that gives nothing but its type (and a pair lag) has the schema's physics."""
    import inspect

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    given = schema["$defs"]["polymer"]["properties"]["parameters"]["properties"]
    chain = P.chain_of()
    for key in ("n_beads", "spring", "H", "Q0", "kT", "zeta"):
        assert getattr(chain, key) == given[key]["default"]
    assert chain.ev_strength == given["excluded_volume"]["properties"]["strength"]["default"]
    assert chain.ev_range == given["excluded_volume"]["properties"]["range"]["default"]
    assert not hasattr(P, "DEFAULTS")
    for fn in (P.Chain, P.run, P.equilibrium_coils, P.measure_relaxation_time, P.fit_correlation):
        params = inspect.signature(fn).parameters.values()
        physics = {"noise", "window", "n_chains", "duration", "dt", "spring", "H", "Q0", "kT", "zeta"}
        assert not [p.name for p in params if p.name in physics and p.default is not inspect.Parameter.empty]
    spec = validated({"type": "polymer", "pairs": {"tau": 0.05}}, "polymer")  # pairs.tau: a multiple of dt_sample
    noise = schema["$defs"]["polymer"]["properties"]["simulation"]["properties"]["noise"]["default"]
    assert P.Chain.from_spec(spec) == chain and spec["simulation"]["noise"] == noise


def test_probe_chains_are_not_the_stores_and_start_where_they_are_given():
    """probe_coils draws equilibrium coils from a stream of their own (the same on every call,
    none a stored coil); probe_observables runs given conformations under the flow: frame 0 is
    the given chain, later frames are the noise of its place in the call (not the store's),
    whatever chains run beside it."""
    spec = tiny_spec()
    stored = collect(spec)
    r_stored = np.concatenate([b["r"].values for b in stored]).astype(np.float64)
    ext_stored = np.concatenate([b["extension"].values for b in stored])
    coils = P.probe_coils(spec, 6)
    np.testing.assert_array_equal(coils, P.probe_coils(spec, 6))
    assert coils.shape == (6, *r_stored.shape[2:])
    gaps = np.abs(coils[:, None] - r_stored[None, :, 0]).max(axis=(2, 3))
    assert gaps.min() > 1e-2  # no probe coil is a stored initial coil
    ids = np.array([0, 3, 9])
    run = P.probe_observables(spec, r_stored[ids, 0])
    np.testing.assert_allclose(run["extension"][:, 0], ext_stored[ids, 0], rtol=1e-5, atol=1e-5)
    assert np.all(np.abs(run["extension"][:, 1:] - ext_stored[ids, 1:]).max(axis=1) > 1e-3)
    mates = P.probe_observables(spec, r_stored[[5, 3], 0])
    np.testing.assert_array_equal(mates["extension"][1], run["extension"][1])
