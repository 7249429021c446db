"""onsagerflow: learn interpretable reduced dynamics (OnsagerNet) from trajectories."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("onsagerflow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
