"""The ingestion docs' config blocks run as printed: each YAML block of docs/ingest*.md and of
config/README.md's "Your own data" is a whole config that validates and passes the checks."""

import re
from pathlib import Path

import pytest
import yaml

from onsagerflow.config import validate_config

ROOT = Path(__file__).resolve().parents[1]
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def blocks():
    out = []
    for doc in sorted((ROOT / "docs").glob("ingest*.md")):
        out += [(doc.name, b) for b in YAML_BLOCK.findall(doc.read_text())]
    text = (ROOT / "config" / "README.md").read_text()
    section = text[text.index("## Your own data") :]
    section = section[: section.index("\n## ", 1)]
    out += [("config/README.md", b) for b in YAML_BLOCK.findall(section)]
    return out


@pytest.mark.parametrize("where,block", blocks())
def test_docs_config_blocks_validate(where, block):
    validate_config(yaml.safe_load(block))
