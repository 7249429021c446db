"""The canonical trajectory store: schema, atomic zarr v3 io, and splits by trajectory."""

from .schema import (
    ENSEMBLE_LABELS,
    SPLIT_CODES,
    SchemaError,
    Split,
    Unfolding,
    build_dataset,
    split_mask,
    validate_dataset,
)
from .split import assign_splits
from .store import StoreError, atomic_path, open_store, read_zarr, write_store

__all__ = [
    "SPLIT_CODES",
    "SchemaError",
    "Split",
    "StoreError",
    "Unfolding",
    "ENSEMBLE_LABELS",
    "assign_splits",
    "atomic_path",
    "build_dataset",
    "open_store",
    "read_zarr",
    "split_mask",
    "validate_dataset",
    "write_store",
]
