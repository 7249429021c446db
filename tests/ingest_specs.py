"""Ingest specs as the workflow hands them over: a system block validated against
config/schema.yaml with every default filled in (as Snakemake's validate does), then
sliced by config.data_spec. One validator is built per test session."""

from __future__ import annotations

import copy
import functools
import os

import yaml

from onsagerflow.config import data_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "config", "schema.yaml")
SPLITS = {"train": 0.5, "val": 0.25, "test": 0.25}


@functools.cache
def _validator():
    import jsonschema

    with open(SCHEMA) as fh:
        schema = yaml.safe_load(fh)
    base = jsonschema.validators.validator_for(schema)
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sub):
        for prop, subschema in properties.items():
            if isinstance(instance, dict) and "default" in subschema:
                instance.setdefault(prop, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, sub)

    return jsonschema.validators.extend(base, {"properties": set_defaults})(schema)


def validated(config: dict) -> dict:
    """``config`` checked against the schema, defaults filled in place; raises on a bad key."""
    v = _validator()
    errors = sorted(v.iter_errors(config), key=lambda e: list(e.path))
    if errors:
        raise ValueError("; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3]))
    return config


def spec_of(source: dict, name: str = "mine", seed: int = 1, splits: dict | None = None, **system) -> dict:
    """The ingest stage's spec of one ingested system with this source block."""
    cfg = {
        "systems": {
            name: {
                "type": "ingested",
                "seed": seed,
                "splits": splits or SPLITS,
                "source": copy.deepcopy(source),
                **system,
            }
        },
        "models": {"onsagernet": {"type": "onsagernet"}},
    }
    return data_spec(validated(cfg), name)
