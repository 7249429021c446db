"""The workflow config: validation against config/schema.yaml (the one source of every key,
default and bound), the checks a schema cannot express, and each stage's slice of it.

``load_config(path)`` gives the config a run would use; ``validated_system(block, name)``
one system block with its defaults; ``stage_spec(config, stage, system, run)`` what a stage
receives, the same for the workflow's rules and for a stage run by hand.
"""

from .checks import check_config, check_system, check_times_within, pair_lag, pca_size_limit, whole_multiple
from .errors import ConfigError
from .specs import (
    DATA_KEYS,
    RUN_SEPARATOR,
    SEEDED,
    data_spec,
    evaluation_spec,
    expand_seeds,
    model_spec,
    parse_run,
    potential_models,
    reduction,
    run_name,
    runs_of,
    runtime_flags,
    seed_key,
    stage_spec,
    stage_spec_json,
    training_spec,
)
from .validate import (
    SCHEMA,
    describe,
    load_config,
    load_schema,
    load_yaml,
    parse_yaml,
    prepare_config,
    validate_config,
    validated_block,
    validated_system,
)
from .workflow import check_files, typed_overrides, workflow_config

__all__ = [
    "DATA_KEYS",
    "RUN_SEPARATOR",
    "SCHEMA",
    "SEEDED",
    "ConfigError",
    "check_config",
    "check_files",
    "check_system",
    "check_times_within",
    "data_spec",
    "describe",
    "evaluation_spec",
    "expand_seeds",
    "load_config",
    "load_schema",
    "load_yaml",
    "model_spec",
    "pair_lag",
    "parse_run",
    "parse_yaml",
    "pca_size_limit",
    "potential_models",
    "prepare_config",
    "reduction",
    "run_name",
    "runs_of",
    "runtime_flags",
    "seed_key",
    "stage_spec",
    "stage_spec_json",
    "training_spec",
    "typed_overrides",
    "validate_config",
    "validated_block",
    "validated_system",
    "whole_multiple",
    "workflow_config",
]
