"""onsagerflow: learn interpretable reduced dynamics (OnsagerNet) from trajectories.

``onsagerflow.load("results/models/<system>/<run>")`` returns a trained run as a
:class:`~onsagerflow.api.LearnedModel` (docs/api.md).
"""

from ._version import __version__

__all__ = ["LearnedModel", "__version__", "load"]


def __getattr__(name: str):
    """``onsagerflow.load`` and ``onsagerflow.LearnedModel`` (imported on first use: the
    command-line stages need neither)."""
    if name in ("load", "LearnedModel"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'onsagerflow' has no attribute '{name}'")
