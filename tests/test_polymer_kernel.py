"""The fast Brownian-dynamics kernel's parts: its random numbers are JAX's, exactly; its bond
solve is the exact root; a chain's path depends on nothing but its own key."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32

from onsagerflow.systems import polymer as P
from onsagerflow.systems.polymer import noise as N
from onsagerflow.systems.polymer.roots import MAX_X, bond_root


def test_threefry_known_answers_and_jax():
    """Random123's known-answer vectors for Threefry-2x32-20, and JAX's own hash on random words."""
    u = np.uint32
    for key, count, want in [
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ]:
        got = N.threefry2x32(*(jnp.asarray(u(v)) for v in key + count))
        assert [int(g) for g in got] == list(want)
    words = np.random.default_rng(0).integers(0, 2**32, size=(2, 64), dtype=np.uint64).astype(np.uint32)
    key = jnp.asarray(words[0, :2])
    x0, x1 = N.threefry2x32(key[0], key[1], jnp.asarray(words[0]), jnp.asarray(words[1]))
    ref = threefry_2x32(key, jnp.concatenate([jnp.asarray(words[0]), jnp.asarray(words[1])]))
    np.testing.assert_array_equal(np.concatenate([x0, x1]), np.asarray(ref))


@pytest.mark.parametrize("kind", ["gaussian", "uniform", "rademacher"])
@pytest.mark.parametrize("n_beads", [2, 7, 300])
def test_fast_noise_is_unit_noise_of_the_folded_key(kind, n_beads):
    """draw + to_unit at any flat indices = unit_noise(kind, fold_in(key, n), (N, 3)), bit for bit."""
    with jax.threefry_partitionable(True):
        keys = jax.random.split(jax.random.PRNGKey(5), 3)
        steps = np.array([0, 1, 12345, 2**32 - 1], np.uint32)
        k0, k1 = N.step_keys(keys, steps)
        chain = P.chain_of(n_beads=n_beads, spring="wlc")  # both schemes take WLC chains
        flats = [np.random.default_rng(1).permutation(3 * n_beads)]  # any subset, in any order
        flats += [idx for name in ("euler", "semi_implicit") for idx in P.make_scheme(chain, name).noise_index]
        for i, n in enumerate(steps):
            want = []
            for b in range(len(keys)):
                key = jax.random.fold_in(keys[b], n)
                assert [int(k0[i, b]), int(k1[i, b])] == [int(v) for v in key]
                want.append(np.asarray(N.unit_noise(kind, key, (n_beads, 3))).reshape(-1))
            for flat in flats:
                raw = N.draw(kind, k0[i], k1[i], flat, 3 * n_beads)
                got = np.moveaxis(np.asarray(N.to_unit(kind, raw, flat, 3 * n_beads)), -2, 0)  # chains first
                for b in range(len(keys)):
                    np.testing.assert_array_equal(got[b], want[b][flat])


def test_rademacher_increments_are_independent_fair_signs():
    """Each number is ±1 (so mean³ = mean, variance 1 exactly); over 2¹⁴ draws of (N, 3) = (300, 3)
    the mean of every bit position, of every component and of every step, and the correlation
    of neighbouring beads, of components of one bead, of the same bit of neighbouring words
    and of consecutive steps are 0 within Z/√n (a Rademacher variable has variance 1, so every
    such average has standard error 1/√n)."""
    z, n_beads, n_keys = 4.0, 300, 1 << 13
    keys = jax.random.split(jax.random.PRNGKey(9), n_keys)
    draw = jax.vmap(lambda k, s: N.unit_noise("rademacher", jax.random.fold_in(k, s), (n_beads, 3)), (0, None))
    xi = np.stack([np.asarray(draw(keys, s)) for s in (0, 1)])  # (step, key, bead, component)
    assert set(np.unique(xi)) == {-1.0, 1.0}

    def centred(values, what):
        values = np.asarray(values, np.float64)
        se = 1.0 / math.sqrt(values.size)
        assert abs(values.mean()) < z * se, f"{what}: mean {values.mean():.2e}, SE {se:.1e}"

    for j in range(32):  # bit j of every word
        centred(xi[:, :, j::32], f"bit {j}")
    for c in range(3):
        centred(xi[..., c], f"component {c}")
    centred(xi[:, :, 1:] * xi[:, :, :-1], "neighbouring beads")
    centred(xi[..., 0] * xi[..., 1], "components x and y of a bead")
    centred(xi[..., 1] * xi[..., 2], "components y and z of a bead")
    centred(xi[:, :, 32:] * xi[:, :, :-32], "bit j of neighbouring words")
    centred(xi[0] * xi[1], "consecutive steps")


@pytest.mark.parametrize("integrator", ["euler", "semi_implicit"])
@pytest.mark.parametrize("kind", ["gaussian", "uniform", "rademacher"])
def test_step_n_of_a_chain_uses_the_noise_of_step_n(integrator, kind):
    """With (almost) no springs and no flow, r(t_3) = r(0) + √(2kT dt/ζ)(ξ_0 + ξ_1 + ξ_2),
    centre of mass removed, ξ_n = unit_noise(fold_in(key, n)): the kernel's noise is the
    documented one, step by step."""
    chain = P.chain_of(n_beads=5, spring="hookean", H=1e-12)
    keys = jax.random.split(jax.random.PRNGKey(2), 4)
    r0 = np.asarray(P.random_walks(P.chain_of(n_beads=5, spring="hookean"), keys[:2]))
    dt = 0.01
    r = np.asarray(P.run(chain, r0, keys[2:], dt=dt, n_saves=1, save_every=3, integrator=integrator, noise=kind))[:, -1]
    for b in range(2):
        xi = sum(np.asarray(N.unit_noise(kind, jax.random.fold_in(keys[2 + b], n), (5, 3))) for n in range(3))
        want = r0[b] + math.sqrt(2.0 * dt) * xi
        np.testing.assert_allclose(r[b], want - want.mean(axis=0), rtol=0, atol=1e-9)


def _bisect(spring, rho, a):
    """x with x (1 + a φ(x)) = ρ by 200 bisections of the increasing G (float64)."""
    chain = P.chain_of(spring=spring)
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        g = mid * (1.0 + a * float(P.phi(chain, jnp.asarray(mid))))
        lo, hi = (mid, hi) if g < rho else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.slow
@pytest.mark.parametrize("spring", ["fene", "wlc"])
def test_bond_root_is_the_exact_root_from_any_guess(spring):
    """G(x) = x (1 + a φ(x)) = ρ solved to rounding for ρ over 16 decades and steps a = 2 c H
    from tiny to huge, from guesses at both ends of the bracket; always x < 1."""
    rho = np.geomspace(1e-8, 1e8, 33)
    for a in (1e-6, 0.02, 1.0, 1e3):
        want = np.array([_bisect(spring, r, a) for r in rho])
        for guess in (np.zeros_like(rho), np.ones_like(rho)):
            x = np.asarray(bond_root(spring, jnp.asarray(rho), a, jnp.asarray(guess), 2))
            assert np.all(x < 1.0) and np.all(x <= MAX_X)
            np.testing.assert_allclose(x, np.minimum(want, MAX_X), rtol=1e-12, atol=1e-14)


def test_a_chains_path_does_not_depend_on_its_batch_mates():
    """The bond solves freeze each bond once it has converged, so a chain's path is the same
    bit for bit whatever chains share its batch (the shard and batch sizes are free)."""
    chain = P.chain_of(n_beads=12, spring="fene", H=50.0)
    keys = jax.random.split(jax.random.PRNGKey(9), 8)
    coils = np.asarray(P.random_walks(chain, keys[:4]))
    kw = dict(dt=5e-3, n_saves=2, save_every=20, noise="gaussian", integrator="semi_implicit")
    lam = P.rouse_relaxation_time(12, 50.0, 1.0)
    a = np.asarray(P.run(chain, coils, keys[4:], strain_rate=np.array([2.0, 40.0, 0.0, 9.0]) / lam, **kw))
    mates = np.concatenate([coils[:1], coils[1:] * 0.5])  # other starts, flows and noise beside chain 0
    b = np.asarray(
        P.run(chain, mates, keys[np.array([4, 7, 6, 5])], strain_rate=np.array([2.0, 0.0, 60.0, 1.0]) / lam, **kw)
    )
    np.testing.assert_array_equal(a[0], b[0])
