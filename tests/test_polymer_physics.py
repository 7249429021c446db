"""Physics of the bead-spring simulator against exact results.

Every tolerance is Z standard errors of the measured quantity, the standard error coming
from independent chains (the spread of per-chain time averages over √M). Where the time
step biases a result, the bias is computed (exactly for the linear Hookean schemes, from
their discrete-time stationary covariance) and the test first asserts that it is below a
quarter of the standard error, so that a pass is a statement about the physics.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import solve_discrete_lyapunov

from onsagerflow.systems import polymer as P

Z = 4.0  # two-sided p ≈ 6e-5 per assertion


def mean_se(per_chain):
    per_chain = np.asarray(per_chain, np.float64)
    return per_chain.mean(), per_chain.std(ddof=1) / math.sqrt(len(per_chain))


def assert_agrees(value, se, expected, what):
    print(f"{what}: {value:.5g} ± {se:.2g} vs {expected:.5g} (z = {(value - expected) / se:+.2f})")
    assert abs(value - expected) < Z * se, (
        f"{what}: measured {value:.5g} ± {se:.2g} (1 SE), expected {expected:.5g}; z = {(value - expected) / se:.1f}"
    )


def discrete_second_moment(chain, integrator, strain_rate, dt, weights):
    """Stationary ⟨(w·s_x)²⟩ of a linear (Hookean) scheme s' = M s + G ξ, x components, s the
    scheme's per-chain state (bead positions for euler, bonds for semi_implicit).

    M and G are the scheme's exact Jacobians; Σ = M Σ Mᵀ + G Gᵀ (discrete Lyapunov).
    """
    scheme = P.make_scheme(chain, integrator)
    r0 = jnp.zeros((chain.n_beads, 3))
    s0 = scheme.natural_of(r0[None])[0]
    step = lambda s, xi: scheme.chain_step(s, xi, strain_rate, dt)
    M = jax.jacfwd(step, argnums=0)(s0, r0)[:, 0, :, 0]
    G = jax.jacfwd(step, argnums=1)(s0, r0)[:, 0, :, 0]
    M, G = np.asarray(M), np.asarray(G)
    sigma = solve_discrete_lyapunov(M, G @ G.T)
    w = np.asarray(weights, np.float64)
    return float(w @ sigma @ w)


def keys(n, seed):
    return jax.random.split(jax.random.PRNGKey(seed), n)


# ----------------------------------------------------------------------------- Hookean dumbbell

DUMBBELL = P.chain_of(n_beads=2, spring="hookean", H=1.0, kT=1.0, zeta=1.0)  # λ_H = ζ/(4H) = 1/4
LAMBDA_H = 0.25
# Wi -> dt: each as large as keeps the Euler bias below SE/4 (asserted below).
DUMBBELL_DT = {0.1: 0.001, 0.3: 0.0025, 0.45: 0.005, 0.6: 0.005}
DUMBBELL_M, DUMBBELL_STEPS, DUMBBELL_EVERY = 384, 12_000, 100


def qx2(r):
    return (r[1, 0] - r[0, 0]) ** 2


@pytest.fixture(scope="module")
def dumbbells(request):
    """All four Weissenberg numbers in one batch: M dumbbells each, from equilibrium at rest;
    Gaussian increments unless the test names other noise (indirect parametrisation)."""
    noise = getattr(request, "param", "gaussian")
    wis = list(DUMBBELL_DT)
    wi = np.repeat(wis, DUMBBELL_M)
    dt = np.repeat([DUMBBELL_DT[w] for w in wis], DUMBBELL_M)
    k = keys(2 * len(wi), 1)
    r0 = P.random_walks(DUMBBELL, k[: len(wi)])
    y = np.asarray(
        P.run(
            DUMBBELL,
            r0,
            k[len(wi) :],
            dt=dt,
            n_saves=DUMBBELL_STEPS // DUMBBELL_EVERY,
            save_every=DUMBBELL_EVERY,
            strain_rate=wi / LAMBDA_H,
            noise=noise,
            observe=qx2,
        )
    )
    return {w: (y[wi == w], DUMBBELL_DT[w]) for w in wis}


@pytest.mark.slow
@pytest.mark.parametrize("dumbbells", ["gaussian", "rademacher"], indirect=True)
@pytest.mark.parametrize("wi", [0.1, 0.3, 0.45])
def test_dumbbell_steady_extension(dumbbells, wi):
    """⟨Q_x²⟩ = (kT/H)/(1 − 2 Wi) with Wi = ε̇ λ_H, λ_H = ζ/(4H)."""
    y, dt = dumbbells[wi]
    t = np.arange(y.shape[1]) * DUMBBELL_EVERY * dt
    tau = LAMBDA_H / (1.0 - 2.0 * wi)  # relaxation time of ⟨Q_x²⟩
    keep = t > 10.0 * tau  # burn-in from the rest state: e^-10
    value, se = mean_se(y[:, keep].mean(axis=1))
    exact = 1.0 / (1.0 - 2.0 * wi)
    bias = discrete_second_moment(DUMBBELL, "euler", wi / LAMBDA_H, dt, [-1.0, 1.0]) - exact
    assert abs(bias) < se / 4, f"dt = {dt} biases ⟨Q_x²⟩ by {bias:.2g} > SE/4 = {se / 4:.2g}"
    assert_agrees(value, se, exact, f"⟨Q_x²⟩ at Wi = {wi}")


def test_dumbbell_grows_without_bound_past_coil_stretch(dumbbells):
    """Wi = 0.6 > 1/2: d⟨Q_x²⟩/dt = 2μ⟨Q_x²⟩ + 4kT/ζ, μ = ε̇ − 2H/ζ > 0, so from each start
    E[Q_x²(t)] = (Q_x²(0) + 2kT/(ζμ)) e^{2μt} − 2kT/(ζμ): exponential growth, no steady state."""
    y, dt = dumbbells[0.6]
    mu = 0.6 / LAMBDA_H - 2.0
    c = 2.0 / mu
    means = []
    for t in (2.5, 5.0, 10.0):
        k = int(round(t / (DUMBBELL_EVERY * dt)))
        value, se = mean_se(y[:, k])
        exact = float(np.mean((y[:, 0] + c) * math.exp(2 * mu * t) - c))
        g = (1.0 + mu * dt) ** 2  # the Euler recursion of the same mean
        steps = k * DUMBBELL_EVERY
        discrete = float(np.mean((y[:, 0] + 4 * dt / (g - 1)) * g**steps - 4 * dt / (g - 1)))
        assert abs(discrete - exact) < se / 4, f"t = {t}: dt bias {discrete - exact:.3g} > SE/4"
        assert_agrees(value, se, exact, f"⟨Q_x²⟩({t}) at Wi = 0.6")
        means.append(value)
    assert means[2] > 100.0 * means[0] and means[2] > 1000.0 / (1.0 - 2 * 0.45)


# ----------------------------------------------------------------------------- the increments' law

# Excess kurtosis E ξ⁴ − 3 of one unit increment: Gaussian 0, √3(2u − 1) 9/5 − 3, ±1 1 − 3.
INCREMENT_KURTOSIS = {"gaussian": 0.0, "uniform": -1.2, "rademacher": -2.0}


@pytest.mark.parametrize("noise", P.NOISES)
@pytest.mark.parametrize("integrator", ["euler", "semi_implicit"])
def test_stationary_law_of_a_linear_scheme_follows_its_increments(noise, integrator):
    """A Hookean dumbbell at rest with a large step (H dt/ζ = 1/4) is the linear recursion
    s' = M s + G ξ (M, G the scheme's exact Jacobians), so its stationary bond component
    q = Σ_k w Mᵏ G ξ_k has cumulants κ₂ = Σ_k |c_k|² and κ₄ = κ₄(ξ) Σ_k Σ_i c_{k,i}⁴,
    c_k = w Mᵏ G, whatever the law of ξ: with M = m scalar the excess kurtosis κ₄/κ₂² is
    (κ₄(ξ)/2)(1 − m²)/(1 + m²), −0.60 (euler, m = 1/2) or −0.38 (semi_implicit, m = 2/3) for
    ±1 increments, and it tells the three kinds of noise apart (0.15 or more from each other,
    against a tolerance of Z SE ≤ 0.06). Measured on the last step of 2¹⁵ independent
    dumbbells (x, y, z: 3 samples each), SE from 64 groups of dumbbells."""
    dt, n_steps, m, groups = 0.25, 80, 1 << 15, 64
    scheme = P.make_scheme(DUMBBELL, integrator)
    s0 = scheme.natural_of(jnp.zeros((1, 2, 3)))[0]
    M = np.asarray(jax.jacfwd(lambda s: scheme.chain_step(s, jnp.zeros((2, 3)), 0.0, dt))(s0)[:, 0, :, 0])
    G = np.asarray(jax.jacfwd(lambda x: scheme.chain_step(s0, x, 0.0, dt))(jnp.zeros((2, 3)))[:, 0, :, 0])
    w = np.array([-1.0, 1.0]) if integrator == "euler" else np.array([1.0])
    wm, k2, k4 = w, 0.0, 0.0  # wm = w Mᵏ
    for _ in range(n_steps):
        c = wm @ G
        k2, k4 = k2 + np.sum(c**2), k4 + np.sum(c**4)
        wm = wm @ M
    c = wm @ G
    assert np.max(np.abs(c)) ** 2 < 1e-12 * k2  # n_steps forget the start
    want_kurtosis = INCREMENT_KURTOSIS[noise] * k4 / k2**2

    k = keys(2 * m, 11)
    r = np.asarray(
        P.run(
            DUMBBELL,
            P.random_walks(DUMBBELL, k[:m]),
            k[m:],
            dt=dt,
            n_saves=1,
            save_every=n_steps,
            integrator=integrator,
            noise=noise,
        )
    )[:, -1]
    q = (r[:, 1] - r[:, 0]).reshape(groups, -1)  # (group, samples): exact mean 0
    q2, q4 = (q**2).mean(axis=1), (q**4).mean(axis=1)
    kurtosis = q4 / q2**2 - 3.0
    assert_agrees(q2.mean(), q2.std(ddof=1) / math.sqrt(groups), k2, f"⟨q²⟩ ({integrator}, {noise})")
    assert_agrees(
        kurtosis.mean(),
        kurtosis.std(ddof=1) / math.sqrt(groups),
        want_kurtosis,
        f"excess kurtosis ({integrator}, {noise})",
    )


# ----------------------------------------------------------------------------- Hookean chain at rest


@pytest.mark.slow  # heavy: run with -m slow
@pytest.mark.parametrize(
    "integrator,dt,noise",
    [("euler", 0.01, "gaussian"), ("semi_implicit", 0.025, "gaussian"), ("semi_implicit", 0.025, "rademacher")],
)
def test_hookean_chain_end_to_end_at_rest(integrator, dt, noise):
    """⟨R_ee²⟩ = 3 (N − 1) kT/H, relaxed from a straight rod (far from equilibrium)."""
    n, m = 10, 128
    chain = P.chain_of(n_beads=n, spring="hookean", H=1.0, kT=1.0, zeta=1.0)
    lam = P.rouse_relaxation_time(n, 1.0, 1.0)  # ≈ 5.1: R² relaxes on this scale
    rod = np.zeros((m, n, 3))
    rod[:, :, 0] = np.arange(n) * math.sqrt(3.0)
    every = int(round(0.5 / dt))
    n_saves = int(round((10 * lam + 60.0) / (every * dt)))
    R2 = np.asarray(
        P.run(
            chain,
            rod,
            keys(m, 2),
            dt=dt,
            n_saves=n_saves,
            save_every=every,
            integrator=integrator,
            noise=noise,
            observe=lambda_r2,
        )
    )
    t = np.arange(n_saves + 1) * every * dt
    value, se = mean_se(R2[:, t > 10 * lam].mean(axis=1))
    exact = 3.0 * (n - 1)
    w = ([-1.0] + [0.0] * (n - 2) + [1.0]) if integrator == "euler" else [1.0] * (n - 1)
    bias = 3.0 * discrete_second_moment(chain, integrator, 0.0, dt, w) - exact
    assert abs(bias) < se / 4, f"dt = {dt} biases ⟨R²⟩ by {bias:.2g} > SE/4 = {se / 4:.2g}"
    assert_agrees(value, se, exact, f"⟨R_ee²⟩ ({integrator}, {noise} noise)")


def lambda_r2(r):
    R = r[-1] - r[0]
    return R @ R


# ----------------------------------------------------------------------------- relaxation time


def rouse_correlation(n, t):
    """Exact ⟨R(t)·R(0)⟩/⟨R²⟩ of a Hookean chain (H = ζ = 1): connector Rouse modes
    v_p(i) = √(2/N) sin(i p π/N), rates a_p = 4 sin²(pπ/2N), weights (Σ_i v_p(i))²."""
    i = np.arange(1, n)
    p = np.arange(1, n)[:, None]
    v = np.sqrt(2.0 / n) * np.sin(i * p * np.pi / n)
    w = v.sum(axis=1) ** 2
    a = 4.0 * np.sin(p[:, 0] * np.pi / (2 * n)) ** 2
    return (w[:, None] * np.exp(-a[:, None] * t[None, :])).sum(0) / w.sum()


@pytest.mark.slow
@pytest.mark.parametrize("n,dt,noise", [(2, 0.0025, "gaussian"), (8, 0.01, "gaussian"), (8, 0.01, "rademacher")])
def test_measured_relaxation_time_is_rouse(n, dt, noise):
    """λ₁ = ζ/(8H sin²(π/2N)) (N = 2: λ_H = ζ/(4H)), measured from ⟨R(t)·R(0)⟩ at rest.

    The fit window's own systematic error is the fit of the exact Rouse correlation on the
    same lags; it must be small (< 1%) and the measurement must agree with it within Z SE.
    """
    chain = P.chain_of(n_beads=n, spring="hookean", H=1.0, kT=1.0, zeta=1.0)
    fit = P.measure_relaxation_time(
        chain,
        jax.random.PRNGKey(3),
        n_chains=128,
        duration=40.0,
        window=(0.5, 0.15),
        dt=dt,
        integrator="euler",
        noise=noise,
    )
    rouse = P.rouse_relaxation_time(n, 1.0, 1.0)
    ideal = P.slope_lambda(fit.time, rouse_correlation(n, fit.time), fit.fit_slice)
    assert abs(ideal / rouse - 1.0) < 0.01, f"window bias {ideal / rouse - 1:.3%}"
    assert_agrees(fit.value, fit.stderr, ideal, f"λ of the N = {n} Hookean chain ({noise} noise)")
    assert fit.stderr < 0.1 * rouse


# ----------------------------------------------------------------------------- FENE and WLC


def boltzmann_q2(spring, b):
    """⟨Q²⟩/Q0² at rest from p(x) ∝ x² exp(−U/kT), x = |Q|/Q0 (b = H Q0²/kT)."""
    if spring == "fene":
        return 3.0 / (b + 5.0)  # x² ~ Beta(3/2, b/2 + 1), exactly
    u = lambda x: (2.0 / 3.0) * b * (0.25 / (1 - x) - 0.25 - 0.25 * x + 0.5 * x * x)
    num = quad(lambda x: x**4 * math.exp(-u(x)), 0, 1, limit=200)[0]
    den = quad(lambda x: x**2 * math.exp(-u(x)), 0, 1, limit=200)[0]
    return num / den


def bond_q2(r):
    Q = r[1] - r[0]
    return Q @ Q


@pytest.mark.slow
@pytest.mark.parametrize(
    "spring,noise",
    [("fene", "gaussian"), ("wlc", "gaussian"), ("fene", "uniform"), ("fene", "rademacher"), ("wlc", "rademacher")],
)
def test_nonlinear_dumbbell_at_rest_matches_boltzmann(spring, noise):
    """Semi-implicit FENE / Marko–Siggia dumbbells sample p(Q) ∝ exp(−U(Q)/kT):
    FENE ⟨Q²⟩ = 3 Q0²/(b + 5) = 3 (kT/H) b/(b + 5); WLC by quadrature. b = 10 is far from
    Hookean (⟨Q²⟩ = 2 kT/H instead of 3). Uniform and ±1 increments reach the same distribution."""
    b, m, dt = 10.0, 256, 0.0005
    chain = P.chain_of(n_beads=2, spring=spring, H=1.0, Q0=math.sqrt(b), kT=1.0, zeta=1.0)
    k = keys(2 * m, 4)
    r0 = P.random_walks(chain, k[:m])
    y = np.asarray(P.run(chain, r0, k[m:], dt=dt, n_saves=220, save_every=100, noise=noise, observe=bond_q2))
    value, se = mean_se(y[:, 20:].mean(axis=1))  # burn-in 1 time unit = 4 λ_H (starts exact)
    exact = b * boltzmann_q2(spring, b)
    # Linearised step bias of the implicit scheme, |bias|/⟨Q²⟩ ≈ H_eff dt/ζ with the spring's
    # stiffness H φ at the rms extension (exact for Hookean: (kT/H)/(1 + H dt/ζ)).
    x_rms = math.sqrt(exact / b)
    h_eff = float(P.phi(chain, jnp.asarray(x_rms)))
    assert h_eff * dt * exact < se / 4
    assert_agrees(value, se, exact, f"{spring} ⟨Q²⟩ at rest ({noise} noise)")


def max_bond(r):
    Q = r[1:] - r[:-1]
    return jnp.sqrt(jnp.max(jnp.sum(Q * Q, axis=-1)))


@pytest.mark.slow
@pytest.mark.parametrize("spring", ["fene", "wlc"])
@pytest.mark.parametrize("dt", [0.01, 0.1])
def test_bonds_never_reach_q0_at_high_wi_and_large_dt(spring, dt):
    """|Q_i| < Q0 always, with Wi = 50 and steps 0.5–5 × ζ/H (explicit Euler blows up for
    dt ≥ ζ/(2H) = 0.01 here)."""
    n, m = 12, 32
    chain = P.chain_of(n_beads=n, spring=spring, H=50.0, Q0=1.0, kT=1.0, zeta=1.0)
    lam = P.rouse_relaxation_time(n, 50.0, 1.0)
    k = keys(2 * m, 5)
    r0 = P.random_walks(chain, k[:m])
    steps = int(round(10 * lam / dt)) + 10
    q = np.asarray(
        P.run(
            chain,
            r0,
            k[m:],
            dt=dt,
            n_saves=steps,
            save_every=1,
            strain_rate=50.0 / lam,
            noise="gaussian",
            observe=max_bond,
        )
    )
    assert np.all(np.isfinite(q))
    assert q.max() < 1.0, f"a bond reached {q.max()!r} ≥ Q0"
    ext = np.asarray(
        P.run(
            chain,
            r0[:4],
            k[m : m + 4],
            dt=dt,
            n_saves=1,
            save_every=steps,
            strain_rate=50.0 / lam,
            noise="gaussian",
            observe=P.extension_of,
        )
    )[:, -1]
    assert ext.min() > 0.8 * (n - 1), "the chains should be nearly fully stretched"


def test_explicit_wlc_that_overshoots_q0_is_poisoned_not_stored():
    """Euler cannot keep a WLC bond below Q0; a chain whose bond overshoots becomes NaN."""
    chain = P.chain_of(n_beads=4, spring="wlc", H=50.0, Q0=1.0)
    k = keys(8, 6)
    r0 = P.random_walks(chain, k[:4])
    r = np.asarray(
        P.run(
            chain,
            r0,
            k[4:],
            dt=0.009,
            n_saves=50,
            save_every=20,
            strain_rate=500.0,
            integrator="euler",
            noise="gaussian",
        )
    )
    bad = ~np.isfinite(r[:, -1]).all(axis=(1, 2))
    assert bad.any()
    Q = np.diff(r, axis=2)
    ok = np.isfinite(Q)
    assert np.all(np.linalg.norm(np.where(ok, Q, 0.0), axis=-1) < 1.0)


# ----------------------------------------------------------------------------- time step


@pytest.mark.slow  # heavy: run with -m slow
@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_unfolding_statistics_unchanged_when_dt_is_halved(noise):
    """The default FENE chain (N = 16, b = 50) at Wi = 2 from the same coils with the default
    dt = 5e-4 and with dt/2, independent noise: mean extension during unfolding and in the
    stretched state, and the mean squared bond length, agree within Z combined SE."""
    n, m = 16, 128
    chain = P.chain_of(n_beads=n, spring="fene", H=50.0, Q0=1.0, kT=1.0, zeta=1.0)
    lam = P.rouse_relaxation_time(n, 50.0, 1.0)
    k = keys(3 * m, 7)
    coils = P.random_walks(chain, k[:m])

    def obs(r):
        Q = r[1:] - r[:-1]
        return jnp.stack([r[:, 0].max() - r[:, 0].min(), jnp.mean(jnp.sum(Q * Q, -1))])

    frames = {}
    for j, dt in enumerate((5e-4, 2.5e-4)):
        every = int(round(0.05 * lam / dt))
        frames[dt] = np.asarray(
            P.run(
                chain,
                coils,
                k[(j + 1) * m : (j + 2) * m],
                dt=dt,
                n_saves=120,
                save_every=every,
                strain_rate=2.0 / lam,
                noise=noise,
                observe=obs,
            )
        )
    for label, pick in [
        ("extension at 1 λ", lambda y: y[:, 20, 0]),
        ("extension at 2 λ", lambda y: y[:, 40, 0]),
        ("extension at 3 λ", lambda y: y[:, 60, 0]),
        ("extension over 4–6 λ", lambda y: y[:, 80:, 0].mean(1)),
        ("⟨Q²⟩ over 4–6 λ", lambda y: y[:, 80:, 1].mean(1)),
    ]:
        (a, sa), (b, sb) = mean_se(pick(frames[5e-4])), mean_se(pick(frames[2.5e-4]))
        se = math.hypot(sa, sb)
        print(f"{label} ({noise}): dt 5e-4 {a:.4g} ± {sa:.2g}, dt 2.5e-4 {b:.4g} ± {sb:.2g} (z = {(a - b) / se:+.2f})")
        assert abs(a - b) < Z * se, f"{label}: dt 5e-4 gives {a:.4g}, dt 2.5e-4 gives {b:.4g} (SE {se:.2g})"
