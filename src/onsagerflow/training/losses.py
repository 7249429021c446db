"""The PRF21 Heun-step pair loss, with an optional multi-step rollout term, and the
Euler–Maruyama likelihood of the stochastic S-OnsagerNet."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def heun_step(field, z, h):
    """One explicit trapezoidal (Heun, RK2) step of dz/dt = field(z)."""
    k1 = field(z)
    k2 = field(z + h * k1)
    return z + 0.5 * h * (k1 + k2)


def window_loss(field, windows, tau, rollout_weight=0.0):
    """Loss on windows (batch, K+1, n) of states spaced by tau.

    Pair term (PRF21): mean |(Φ_τ(z₀) − z₁)/τ|² over batch and components, Φ one Heun
    step. For K > 1 the rollout term adds, with weight ``rollout_weight``, the mean over
    k = 2..K of |(Φ_τ^k(z₀) − z_k)/(kτ)|², which penalises drift that one step hides.
    """
    z0 = windows[:, 0]
    K = windows.shape[1] - 1 if rollout_weight else 1  # no weight: the later steps cost for nothing

    def step(z, _):
        z = heun_step(field, z, tau)
        return z, z

    _, preds = jax.lax.scan(step, z0, None, length=K)  # (K, batch, n)
    preds = jnp.swapaxes(preds, 0, 1)
    k = jnp.arange(1, K + 1, dtype=windows.dtype)[None, :, None]
    err = jnp.mean(((preds - windows[:, 1 : K + 1]) / (k * tau)) ** 2, axis=(0, 2))  # per k
    pair = err[0]
    if K == 1:
        return pair
    return pair + rollout_weight * jnp.mean(err[1:])


def joint_loss(
    model,
    windows,
    tau,
    rollout_weight=0.0,
    reconstruction_weight=1.0,
    isometry_weight=0.1,
    pca_penalty_weight=0.0,
    dynamics_loss=None,
    form="ours",
):
    """An autoencoder chart + latent dynamics on windows of PCA coordinates y (batch, K+1, m).

    Dynamics: ``dynamics_loss(dynamics, h_windows, tau)`` of the encoded windows — by
    default the pair (and rollout) loss; the Euler–Maruyama likelihood for an SDE.

    ``form="ours"``: reconstruction is the relative error |D(E(y)) − y|² / |y|² in units of
    the per-coordinate scale of y; the PCA penalty max(0, rec − rec_PCA) over the batch, so
    the chart never reconstructs worse than the plain PCA chart it starts from.

    ``form="ncs24"`` (the authors' code): reconstruction is the mean squared error of the bead
    positions, rec_i = mean over coordinates of (x_i − x̂_i)² for each sample i, averaged over
    the batch; the PCA penalty is the mean over samples of max(0, log rec_i − log rec_PCA,i).
    Positions come from the stored PCA coordinates (the chart's inverse PCA).

    Isometry (either form): distances between encoded snapshots stay those of the plain PCA
    chart, mean (‖h_i − h_j‖ − ‖ĥ_i − ĥ_j‖)² / mean ‖ĥ_i − ĥ_j‖², ĥ the linear encoding, pairs
    (i, i+1) of the shuffled batch — the residual nets may bend the chart, not crush it. With
    an SDE likelihood it also matters for another reason: the Gaussian NLL of encoded
    increments falls as the chart shrinks a coordinate (log det Σ), so without it only the
    reconstruction (and the PCA penalty) resist a collapsing closure.
    """
    ae = model.autoencoder
    h = ae.encode(windows)
    if dynamics_loss is None:
        dyn = window_loss(model.dynamics, h, tau, rollout_weight)
    else:
        dyn = dynamics_loss(model.dynamics, h, tau)
    y0 = windows[:, 0]
    lin = ae.linear_encode(y0)
    loss = dyn
    if form == "ncs24":
        rec_i = jnp.mean(ae.position_error(ae.decode(h[:, 0]) - y0) ** 2, axis=-1)
        rec_pca_i = jnp.mean(ae.position_error(ae.linear_decode(lin) - y0) ** 2, axis=-1)
        loss = loss + reconstruction_weight * jnp.mean(rec_i)
        if pca_penalty_weight:
            tiny = jnp.finfo(rec_i.dtype).tiny
            ratio = jnp.log(jnp.maximum(rec_i, tiny)) - jnp.log(jnp.maximum(rec_pca_i, tiny))
            loss = loss + pca_penalty_weight * jnp.mean(jax.nn.relu(ratio))
    else:
        f = ae.fixed  # observables pass through exactly: they take no part in the reconstruction
        scale = ae.y_scale[..., f:]
        norm = jnp.sum((y0[:, f:] / scale) ** 2)
        rec = jnp.sum(((ae.decode(h[:, 0])[:, f:] - y0[:, f:]) / scale) ** 2) / norm
        loss = loss + reconstruction_weight * rec
        if pca_penalty_weight:
            rec_pca = jnp.sum(((ae.linear_decode(lin)[:, f:] - y0[:, f:]) / scale) ** 2) / norm
            loss = loss + pca_penalty_weight * jax.nn.relu(rec - rec_pca)
    if isometry_weight:
        h0 = h[:, 0]
        d_h = jnp.linalg.norm(h0 - jnp.roll(h0, 1, axis=0), axis=-1)
        d_ref = jnp.linalg.norm(lin - jnp.roll(lin, 1, axis=0), axis=-1)
        loss = loss + isometry_weight * jnp.mean((d_h - d_ref) ** 2) / jnp.maximum(jnp.mean(d_ref**2), 1e-12)
    return loss


def em_nll(model, windows, tau):
    """Euler–Maruyama negative log-likelihood per increment and component (docs/science.md, "S-OnsagerNet").

    windows (batch, K+1, n): every consecutive pair (Z, Z') gives an increment
    ΔZ = Z' − Z ~ N(μ, Σ) with μ = b(Z) τ, Σ = σσᵀ(Z) τ (b = ``model.drift``,
    σσᵀ = ``model.diffusion_matrix``). With Σ = C Cᵀ (Cholesky) and r = ΔZ − μ,

        NLL = ½ [ |C⁻¹ r|² + log det Σ + n log 2π ],   log det Σ = 2 Σ_i log C_ii,

    averaged over batch and the K increments and divided by n, so the value does not
    grow with the dimension. C⁻¹ r is a triangular solve: no inverse is formed.
    """
    z = windows[:, :-1]
    dz = windows[:, 1:] - z
    n = z.shape[-1]
    r = dz - tau * model.drift(z)
    chol = jnp.linalg.cholesky(tau * model.diffusion_matrix(z))
    y = jax.scipy.linalg.solve_triangular(chol, r[..., None], lower=True)[..., 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    nll = 0.5 * (jnp.sum(y**2, axis=-1) + logdet + n * jnp.log(2.0 * jnp.pi))
    return jnp.mean(nll) / n


def em_nll_sum(model, windows, tau):
    """The Euler–Maruyama NLL per increment summed over the n components (NCS24's code), not
    averaged over them: ``em_nll`` × n."""
    return em_nll(model, windows, tau) * windows.shape[-1]
