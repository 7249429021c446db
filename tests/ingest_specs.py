"""Ingest specs as the workflow hands them over: a system block validated against
config/schema.yaml with every default filled in (the config package's own validator),
then sliced by config.data_spec. The checks that need the whole config (a field layout's
reduction, say) are not run: these specs feed the ingest stage alone."""

from __future__ import annotations

import copy

from onsagerflow.config import data_spec, load_schema
from onsagerflow.config.validate import fill_and_validate

SPLITS = {"train": 0.5, "val": 0.25, "test": 0.25}


def spec_of(source: dict, name: str = "mine", seed: int = 1, splits: dict | None = None, **system) -> dict:
    """The ingest stage's spec of one ingested system with this source block."""
    block = {
        "type": "ingested",
        "seed": seed,
        "splits": splits or SPLITS,
        "source": copy.deepcopy(source),
        "models": ["onsagernet"],
        **system,
    }
    schema = load_schema()
    fill_and_validate(block, schema, schema["$defs"]["system"], ("systems", name))
    return data_spec({"systems": {name: block}}, name)
