"""Read, validate and complete a workflow config against ``config/schema.yaml``.

The JSON schema is the one place for every key, its default and its bounds. Validation
fills every default, recursively (a block whose default is ``{}`` gets its own keys'
defaults too), each filled value its own copy. The first problem — in the order the keys
appear in the file — becomes one line naming the key path and what is allowed, e.g.
``systems.lorenz_r28.simulation.t_ned: unknown key; did you mean 't_end'?``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from .checks import check_config, check_system
from .errors import ConfigError
from .specs import expand_seeds

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"
SHOWN = 60  # characters of a value shown in a message
TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}
BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


# --- YAML ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' given twice (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, where: str) -> Any:
    """YAML text; a syntax error or a duplicate key names ``where`` and the line."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        context = f" ({exc.context})" if exc.context and exc.problem_mark else ""
        raise ConfigError(f"{at}: YAML: {exc.problem}{context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: YAML: {' '.join(str(exc).split())}") from None


def load_yaml(path: str | Path) -> dict:
    """A config file as a dict; unreadable files, YAML errors and non-mappings are one line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of keys (systems:, models:, ...), got {_kind(data)}")
    return data


# --- schema ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def load_schema(path: str | Path = SCHEMA) -> dict:
    if not Path(path).exists():
        raise ConfigError(
            f"{path}: the config schema is missing; --config needs the config/schema.yaml of an "
            "onsagerflow checkout (pip install -e .), else pass --spec"
        )
    # libyaml's parser where PyYAML has it: 0.02 s against 0.16 s, in every job that checks a spec
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _filling(cls):
    """The validator class with ``properties`` extended to fill defaults first (then the
    defaults are validated like everything else and nested blocks get their own)."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for key, sub in props.items():
                if key not in instance and isinstance(sub, dict) and "default" in sub:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


_FillingValidator = _filling(Draft202012Validator)


def fill_and_validate(instance: Any, schema: dict, subschema: dict | None = None, prefix: tuple = ()) -> None:
    """Validate ``instance`` in place (filling defaults) against ``subschema`` (a part of
    ``schema``, whose $defs it may name; default: the whole schema)."""
    target = schema if subschema is None else {**subschema, "$defs": schema["$defs"]}
    errors = list(_FillingValidator(target).iter_errors(instance))
    if errors:
        first = min(errors, key=lambda e: _position(instance, e))
        raise ConfigError(describe(first, prefix), (*prefix, *first.absolute_path))


def validated_block(definition: str, block: Mapping[str, Any] | None = None, schema_path: str | Path = SCHEMA) -> dict:
    """A copy of ``block`` validated against ``$defs/<definition>`` (or the top-level key of
    that name), every default filled: e.g. ``validated_block("training", {"epochs": 5})``,
    ``validated_block("model", {"type": "onsagernet"})``, ``validated_block("dask")``."""
    schema = load_schema(schema_path)
    sub = schema["$defs"].get(definition) or schema["properties"][definition]
    filled = copy.deepcopy(dict(block or {}))
    fill_and_validate(filled, schema, sub, (definition,))
    return filled


# --- messages ----------------------------------------------------------------------------


def _position(root: Any, error: ValidationError) -> tuple:
    """Where the error sits in the document, for 'first problem' order: key indices along
    its path (filled defaults come after the user's keys)."""
    pos, node = [], root
    for part in error.absolute_path:
        if isinstance(node, dict):
            keys = list(node)
            pos.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            pos.append(part)
            node = node[part]
    extra = _unknown_keys(error)
    if extra and isinstance(node, dict):
        pos.append(list(node).index(extra[0]))
    return tuple(pos)


def _unknown_keys(error: ValidationError) -> list[str]:
    if error.validator != "additionalProperties" or error.validator_value is not False:
        return []
    known = set(error.schema.get("properties", {}))
    return [k for k in error.instance if k not in known]


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _kind(value: Any) -> str:
    for name, t in (("true or false", bool), ("an integer", int), ("a number", float), ("a string", str)):
        if isinstance(value, t):
            return name
    return {dict: "a mapping", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


def _suggest(word: Any, options: Iterable[Any]) -> str:
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f" (allowed: {', '.join(options)})"


def describe(error: ValidationError, prefix: tuple = ()) -> str:
    """One line: the key path, the value and what is allowed."""
    kinds = [
        e.validator_value for e in error.context if e.validator == "type" and e.absolute_path == error.absolute_path
    ]
    if error.context and len(kinds) == len(error.context):  # oneOf/anyOf of kinds: name them all
        want = [k for kind in kinds for k in ([kind] if isinstance(kind, str) else kind)]
        where = _path((*prefix, *error.absolute_path)) or "(top level)"
        return f"{where}: got {_show(error.instance)} ({_kind(error.instance)}); expected {' or '.join(TYPE_NAMES[t] for t in want)}"
    error = best_match([error])  # oneOf/anyOf: the branch that fits the value's kind best
    parts = (*prefix, *error.absolute_path)
    where = _path(parts) or "(top level)"
    v, kw, allowed = error.instance, error.validator, error.validator_value
    note = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if "propertyNames" in error.absolute_schema_path:
        return f"{where}: the name {_show(v)} is not allowed" + (f"; {note}" if note else "")
    if kw == "additionalProperties" and allowed is False:
        key = _unknown_keys(error)[0]
        return f"{_path((*parts, key))}: unknown key" + _suggest(key, error.schema.get("properties", {}))
    if kw == "required":
        key = next(k for k in allowed if k not in v)
        sub = error.schema.get("properties", {}).get(key, {})
        what = sub.get("description") or (f"one of {', '.join(sub['enum'])}" if "enum" in sub else "")
        return f"{where}: missing key '{key}'" + (f" ({what})" if what else "")
    if kw == "type":
        want = [allowed] if isinstance(allowed, str) else allowed
        hint = ""
        if isinstance(v, str) and _looks_numeric(v):
            hint = " (YAML reads a number without a '.' before its exponent, like 1e-3, as text: write 1.0e-3)"
        return f"{where}: got {_show(v)} ({_kind(v)}); expected {' or '.join(TYPE_NAMES[t] for t in want)}{hint}"
    if kw == "enum":
        return f"{where}: got {_show(v)}" + _suggest(v, allowed)
    if kw == "const":
        return f"{where}: got {_show(v)}; must be {_show(allowed)}"
    if kw in BOUNDS:
        return f"{where}: got {_show(v)}; must be {BOUNDS[kw]} {allowed}"
    if kw in ("minItems", "maxItems"):
        return f"{where}: got {len(v)} item(s); {'at least' if kw == 'minItems' else 'at most'} {allowed} allowed"
    if kw == "minProperties":
        return f"{where}: needs at least {allowed} entr{'y' if allowed == 1 else 'ies'}"
    if kw == "uniqueItems":
        return f"{where}: items must differ, got {_show(v)}"
    if kw == "pattern":
        return f"{where}: {_show(v)} is not allowed" + (f"; {note}" if note else f" (must match {allowed})")
    return f"{where}: {' '.join(error.message.split())[:200]}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- the config as a whole ----------------------------------------------------------------


def validate_config(config: dict, schema_path: str | os.PathLike = SCHEMA) -> dict:
    """Validate in place, fill every default, then expand seeded models and run the checks
    the schema cannot express. Returns ``config``; the first problem raises ConfigError."""
    if not isinstance(config, dict):
        raise ConfigError(f"a config is a mapping of keys (systems:, models:, ...), got {_kind(config)}")
    fill_and_validate(config, load_schema(Path(schema_path)))
    return prepare_config(config)


def prepare_config(config: dict) -> dict:
    """Expand seeded models and check a config already validated and filled (in place).

    The JSON round trip unshares anything a caller shares between blocks and turns any
    mapping type into plain dicts and lists."""
    fresh = json.loads(json.dumps(config))
    config.clear()
    config.update(fresh)
    expand_seeds(config)
    check_config(config)
    return config


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None, schema_path: str | Path = SCHEMA) -> dict:
    """Read a config file, lay ``overrides`` (top-level keys, e.g. ``{"results": ...}``)
    over it, validate, fill defaults and check: the config the workflow would run."""
    config = load_yaml(path)
    config.update(overrides or {})
    try:
        return validate_config(config, schema_path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}", exc.path) from None


def validated_system(block: Mapping[str, Any], name: str, schema_path: str | Path = SCHEMA) -> dict:
    """One system block (the value under ``systems.<name>``), validated, with every default
    filled and the checks that need no other part of the config; a copy."""
    out = copy.deepcopy(dict(block))
    schema = load_schema(schema_path)
    fill_and_validate(out, schema, schema["$defs"]["system"], ("systems", name))
    check_system(out, name)
    return out
