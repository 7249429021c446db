"""onsagerflow: learn interpretable reduced dynamics (OnsagerNet) from trajectories.

``onsagerflow.load("results/models/<system>/<run>")`` returns a trained run as a
:class:`~onsagerflow.api.LearnedModel` (docs/api.md).
"""

from importlib.metadata import PackageNotFoundError, version


def _source_version() -> str:
    """The version in pyproject.toml when running from a source tree that was not installed
    (``--sdm conda`` jobs run the workflow's own src/ tree)."""
    import tomllib
    from pathlib import Path

    try:
        with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"] + "+source"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0+unknown"


try:
    __version__ = version("onsagerflow")
except PackageNotFoundError:
    __version__ = _source_version()

__all__ = ["LearnedModel", "__version__", "load"]


def __getattr__(name: str):
    """``onsagerflow.load`` and ``onsagerflow.LearnedModel`` (imported on first use: the
    command-line stages need neither)."""
    if name in ("load", "LearnedModel"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'onsagerflow' has no attribute '{name}'")
