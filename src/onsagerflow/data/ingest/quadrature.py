"""Quadrature weights of a 1-D grid, recognised from its coordinates alone.

A spectral solver's grid is not uniform: Dedalus's Chebyshev bases sample at the
Chebyshev–Gauss points (the roots of T_N), crowded near the walls. Integrals over the
domain — and the L² inner product a PCA of fields should use — need each point weighted
by the length it stands for. The rule is recognised from the coordinates:

- uniform spacing: equal weights, the spacing (a periodic Fourier grid, or a uniform
  grid read as cells);
- Chebyshev–Gauss points on [a, b]: Fejér's first rule, exact for polynomials of degree
  < N (Dedalus's ``ChebyshevT`` grid);
- Chebyshev–Gauss–Lobatto points (walls included): the Clenshaw–Curtis rule;
- Gauss–Legendre points: the Gauss–Legendre weights (Dedalus's ``Legendre`` grid);
- any other increasing grid: the trapezoid rule over the points.

Weights are in the coordinate's units and sum to the length of the domain they cover.
"""

from __future__ import annotations

import numpy as np

RTOL = 1e-8  # relative to the grid's extent: how closely points must match a rule's nodes

UNIFORM = "uniform"
FEJER = "Chebyshev-Gauss (Fejer's first rule)"
CLENSHAW_CURTIS = "Chebyshev-Gauss-Lobatto (Clenshaw-Curtis)"
GAUSS_LEGENDRE = "Gauss-Legendre"
TRAPEZOID = "trapezoid"


def fejer1(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (increasing, in (−1, 1)) and weights of Fejér's first rule on n points."""
    theta = (2 * np.arange(n) + 1) * np.pi / (2 * n)
    k = np.arange(1, n // 2 + 1)
    w = 2.0 / n * (1 - 2 * np.sum(np.cos(2 * np.outer(theta, k)) / (4 * k**2 - 1), axis=1))
    return -np.cos(theta), w  # -cos: increasing nodes; the weights are symmetric


def clenshaw_curtis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (increasing, ±1 included) and weights of the Clenshaw–Curtis rule on n ≥ 2 points."""
    m = n - 1
    theta = np.pi * np.arange(n) / m
    k = np.arange(1, m // 2 + 1)
    b = np.where(2 * k == m, 1.0, 2.0)
    c = np.where((np.arange(n) == 0) | (np.arange(n) == m), 1.0, 2.0)
    w = c / m * (1 - np.sum(b * np.cos(2 * np.outer(theta, k)) / (4 * k**2 - 1), axis=1))
    return -np.cos(theta), w


def _affine_match(x: np.ndarray, nodes: np.ndarray) -> float | None:
    """Half-length of [a, b] if x = a + (b − a)(nodes + 1)/2 for some a < b, else None."""
    scale = (x[-1] - x[0]) / (nodes[-1] - nodes[0])
    shift = x[0] - scale * nodes[0]
    if np.max(np.abs(shift + scale * nodes - x)) > RTOL * (x[-1] - x[0]):
        return None
    return float(scale)


def grid_weights(x: np.ndarray) -> tuple[np.ndarray, str]:
    """Quadrature weights of the grid ``x`` (strictly monotonic) and the rule's name."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 1:
        return np.ones(1), UNIFORM
    flip = x[-1] < x[0]
    xs = x[::-1] if flip else x
    dx = np.diff(xs)
    if np.any(dx <= 0):
        raise ValueError("a grid's coordinates must be strictly monotonic")
    if np.allclose(dx, dx[0], rtol=1e-6, atol=0):
        w, rule = np.full(n, float(np.mean(dx))), UNIFORM
    else:
        candidates = [(FEJER, fejer1(n)), (GAUSS_LEGENDRE, np.polynomial.legendre.leggauss(n))]
        if n >= 3:
            candidates.append((CLENSHAW_CURTIS, clenshaw_curtis(n)))
        for name, (nodes, weights) in candidates:
            half = _affine_match(xs, nodes)
            if half is not None:
                w, rule = weights * half, name
                break
        else:
            w, rule = np.zeros(n), TRAPEZOID
            w[:-1] += dx / 2
            w[1:] += dx / 2
    return (w[::-1] if flip else w), rule
