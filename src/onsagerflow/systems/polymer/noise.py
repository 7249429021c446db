"""The Brownian increments of the bead-spring integrators: JAX's own random numbers, made fast.

The unit noise of chain k at step n is ``unit_noise(kind, fold_in(key_k, n), (N, 3))``:

    gaussian  jax.random.normal in float32, widened to float64: standard normals with 24-bit
              resolution and tails cut near 5.3σ (probability ~1e-7), immaterial for a weakly
              convergent scheme;
    uniform   √3(2u − 1) from the 16-bit halves of jax.random.bits: mean 0 and variance 1 like
              a Gaussian, hence the same weak order for Brownian dynamics, at less cost;
    rademacher  ±1 with probability ½ each, one bit of jax.random.bits per number: the
              two-point increments of the simplified weak Euler scheme (Kloeden & Platen,
              Numerical Solution of SDEs, §14.1). Mean 0, variance 1 and third moment 0 like
              a Gaussian, which is what weak order 1 asks of an increment; 32 numbers per
              32-bit word, so one Threefry hash per 32 numbers instead of one per number
              (gaussian) or per two (uniform).
              Component c of bead j of an (N, 3) draw is bit j mod 32 of word c·W + j div 32
              (W = ⌈N/32⌉ words per component): the beads of one component run along the
              bits, so an integrator's (component, bead) blocks are strided slices of one
              broadcast shift, with no gather.

A chain's path thus depends on its own key and the step count only, not on the batch it runs
in nor on how the run is cut into saved frames.

Drawing these through ``jax.random`` inside the time loop is what limited the simulator on a
CPU: JAX lowers its Threefry-2x32 hash for the CPU as a rolled loop. ``threefry2x32`` below is
the same hash (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; checked
against the Random123 known-answer vectors and against JAX) written out round by round, which
XLA compiles into one vectorised loop; ``fold_in``, ``random_bits`` and the two transforms
reproduce JAX's counter layout (``jax_threefry_partitionable``, JAX's default), so the fast
path gives the very numbers ``unit_noise`` gives (tested), several times faster. With
rademacher numbers the hashing is a few per cent of a FENE step at N = 300, so a cheaper
generator than Threefry would gain little there.

The integrators want the increments of one step in their own layout (component, then bead,
even and odd beads apart for the semi-implicit scheme): ``draw`` computes any subset of the
(N, 3) numbers, given their flat indices 3 × bead + component, for a batch of chains at once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
    from jax import lax
else:
    jax, jnp, lax = lazy("jax"), lazy("jax.numpy"), lazy("jax.lax")

NOISES = ("gaussian", "uniform", "rademacher")
# Key streams of a simulation: each use of randomness draws from its own branch of the seed.
STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE, STREAM_RELAX = 0, 1, 2, 3
# further noise draws of the stored trajectories (dataset.new_noise_positions): draw d of
# chain k is fold_in(fold_in(fold_in(seed, STREAM_REDRAW), d), k), apart from every stream above
STREAM_REDRAW = 4
# chains that are not the store's (dataset.probe_coils, probe_observables): coils from
# fold_in(fold_in(seed, STREAM_PROBE), 0), their flow's noise from fold_in(..., 1)
STREAM_PROBE = 5
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
KEY_PARITY = 0x1BD11BDA
UNIFORM_LEVELS = 1 << 16  # uniform: 16-bit variates, two per 32-bit word
WORD_BITS = 32  # rademacher: one variate per bit of a 32-bit word
# gaussian: jax.random.normal draws u uniform in [nextafter(−1, 0), 1) in float32, then √2 erf⁻¹(u)
GAUSS_LOW = np.nextafter(np.float32(-1.0), np.float32(0.0))


def threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds of the counter (x0, x1) under the key (k0, k1), uint32."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(KEY_PARITY))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for i in range(5):
        for r in ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))
            x1 = x0 ^ x1
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def fold_in(k0, k1, data):
    """jax.random.fold_in of raw Threefry keys (k0, k1) with uint32 ``data``: the new key."""
    return threefry2x32(k0, k1, jnp.zeros_like(data), data)


def random_bits(k0, k1, index):
    """Word ``index`` (uint32, < 2³²) of jax.random.bits(key, shape, uint32) of any shape."""
    b0, b1 = threefry2x32(k0, k1, jnp.zeros_like(index), index)
    return b0 ^ b1


def unit_noise(kind: str, key, shape):
    """Increments with mean 0 and variance 1 from one raw key, the definition (module
    docstring) that ``draw`` reproduces."""
    if kind == "gaussian":
        return jax.random.normal(key, shape, jnp.float32).astype(jnp.float64)
    n = math.prod(shape)
    if kind == "rademacher":
        if len(shape) != 2 or shape[1] != 3:
            raise ValueError(f"rademacher noise is drawn per bead, shape (N, 3), not {tuple(shape)}")
        words = jax.random.bits(key, (3, _rademacher_words(shape[0])), jnp.uint32)
        return _signs(_spread(words, shape[0])).T
    if kind != "uniform":
        raise ValueError(f"noise: '{kind}' is not one of {list(NOISES)}")
    bits = jax.random.bits(key, ((n + 1) // 2,), jnp.uint32)
    u = jnp.concatenate([bits & 0xFFFF, bits >> 16])[:n].astype(jnp.float64)
    return _uniform(u).reshape(shape)


def _uniform(u):
    """√3(2u − 1), u = (k + ½)/2¹⁶ for 16-bit k: mean 0, variance 1 − 2⁻³²."""
    return math.sqrt(3.0) * ((u + 0.5) / (UNIFORM_LEVELS / 2) - 1.0)


def _rademacher_words(n_beads: int) -> int:
    """W, the 32-bit words that hold one bit per bead."""
    return -(-n_beads // WORD_BITS)


def _spread(words, n_beads: int):
    """Bits (..., N) of words (..., W): bead j is bit j mod 32 of word j div 32, uint32 0 or 1."""
    bits = (words[..., None] >> jnp.arange(WORD_BITS, dtype=jnp.uint32)) & np.uint32(1)
    return bits.reshape(*words.shape[:-1], -1)[..., :n_beads]


def _strided_beads(flat: np.ndarray):
    """(first bead, stride) if the flat indices (3, K) are components 0, 1, 2 of the beads
    first + stride·k, k < K (an integrator's block), else None."""
    if flat.ndim != 2 or flat.shape[0] != 3:
        return None
    beads, comps = np.divmod(flat, 3)
    first = int(beads[0, 0])
    stride = int(beads[0, 1] - first) if flat.shape[1] > 1 else 1
    want = first + stride * np.arange(flat.shape[1])
    if stride < 1 or np.any(comps != np.arange(3)[:, None]) or np.any(beads != want):
        return None
    return first, stride


def _signs(bits):
    """1 − 2 b: bit 0 -> +1, bit 1 -> −1, float64."""
    return 1.0 - 2.0 * bits.astype(jnp.float64)


def step_keys(keys, steps):
    """Keys of the given steps for each chain: keys (B, 2) uint32, steps (S,) -> two (S, B) arrays."""
    keys = jnp.asarray(keys)
    steps = jnp.asarray(steps, jnp.uint32)
    return fold_in(keys[None, :, 0], keys[None, :, 1], steps[:, None])


def draw(kind: str, k0, k1, flat: np.ndarray, n_numbers: int):
    """The numbers at flat indices ``flat`` (static, shape (..., K)) of unit_noise(kind, key,
    shape) with math.prod(shape) = ``n_numbers``, for keys k0, k1 (B,): raw (..., B, K) —
    float32 normals (gaussian), 16-bit integers (uniform) or single bits (rademacher) — for
    ``to_unit``.

    Raw values are what an integrator carries from one step to the next: computed once, in
    the step before (XLA would otherwise recompute the hash inside each of its consumers).
    For rademacher they are the step's 3W words, the same for every subset: carrying the
    words, not the bits, is what keeps XLA from fusing one hash into each of the N bits
    that share a word (32 × the hashing).
    """
    k0, k1 = k0[:, None], k1[:, None]
    flat = np.asarray(flat, np.int64)
    if kind == "gaussian":
        bits = random_bits(k0, k1, jnp.asarray(flat, jnp.uint32)[..., None, :])
        mantissa = (bits >> np.uint32(9)) | np.uint32(0x3F800000)
        u = lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1.0)
        u = lax.max(GAUSS_LOW, u * (np.float32(1.0) - GAUSS_LOW) + GAUSS_LOW)
        return np.float32(math.sqrt(2.0)) * lax.erf_inv(u)
    if kind == "uniform":
        words = (n_numbers + 1) // 2  # number i is the low half of word i, or the high half of word i − words
        high = flat >= words
        bits = random_bits(k0, k1, jnp.asarray(np.where(high, flat - words, flat), jnp.uint32)[..., None, :])
        return jnp.where(jnp.asarray(high)[..., None, :], bits >> 16, bits & 0xFFFF)
    if kind == "rademacher":  # the step's words (3, B, W), whatever the subset: ``to_unit`` picks the bits
        index = jnp.arange(3 * _rademacher_words(n_numbers // 3), dtype=jnp.uint32).reshape(3, 1, -1)
        return random_bits(k0, k1, index)
    raise ValueError(f"noise: '{kind}' is not one of {list(NOISES)}")


def to_unit(kind: str, raw, flat: np.ndarray, n_numbers: int):
    """float64 unit increments at the flat indices ``flat`` from ``draw``'s raw values."""
    if kind == "gaussian":
        return raw.astype(jnp.float64)
    if kind == "uniform":
        return _uniform(raw.astype(jnp.float64))
    bits = _spread(raw, n_numbers // 3)  # (3, B, N): every number of the step
    flat = np.asarray(flat, np.int64)
    strided = _strided_beads(flat)
    if strided is not None:
        first, stride = strided
        return _signs(bits[..., first::stride][..., : flat.shape[1]])
    beads, comps = np.divmod(flat, 3)
    return _signs(jnp.moveaxis(bits[comps, :, beads], -1, -2))  # any other subset: a gather
