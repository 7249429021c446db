"""Evaluation of learned models on held-out trajectories."""
