"""Every YAML block of the docs is a config that validates as printed.

A block is a whole config unless an HTML comment on the line before its fence says it is a
fragment by design:

- ``<!-- config: systems entries -->``: entries of ``systems``, checked with the default
  config's models (which they name);
- ``<!-- config: one line each -->``: alternative top-level lines, each laid over the default
  config on its own.
"""

import re
from pathlib import Path

import pytest
import yaml

from onsagerflow.config import validate_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"(?:<!-- config: (?P<kind>[a-z ]+) -->\n)?```yaml\n(?P<body>.*?)```", re.S)
KINDS = ("systems entries", "one line each")


def blocks():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start("body"))
            yield pytest.param(m.group("kind"), m.group("body"), id=f"{path.relative_to(ROOT)}:{line}")


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("kind,body", list(blocks()))
def test_every_yaml_block_of_the_docs_validates(kind, body):
    assert kind in (None, *KINDS), f"unknown marker 'config: {kind}'"
    if kind is None:
        validate_config(yaml.safe_load(body))
    elif kind == "systems entries":
        validate_config({"systems": yaml.safe_load(body), "models": default_config()["models"]})
    else:
        lines = [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert len(lines) > 1
        for ln in lines:
            validate_config({**default_config(), **yaml.safe_load(ln)})


def test_the_readme_example_is_the_tested_ingest_config():
    """The README's worked example runs as printed: it is tests/configs/ingest_tiny.yaml, which
    the ingestion tests run end to end."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    printed = [yaml.safe_load(m.group("body")) for m in FENCE.finditer(text) if "lorenz_mine" in m.group("body")]
    tested = yaml.safe_load((ROOT / "tests" / "configs" / "ingest_tiny.yaml").read_text())
    assert printed == [tested]


def test_the_markers_are_read():
    found = [kind for path in DOCS for kind in (m.group("kind") for m in FENCE.finditer(path.read_text()))]
    assert set(KINDS) <= set(found)
