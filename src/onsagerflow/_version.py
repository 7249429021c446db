"""The package version: the installed distribution's, or pyproject.toml's in a source tree."""

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
