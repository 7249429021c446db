"""The files of a trained run's folder (written by ``training.checkpoint``)."""

PARAMS = "params.npz"
META = "model.json"
HISTORY = "history.csv"
