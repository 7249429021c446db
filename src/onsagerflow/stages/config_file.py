"""``onsagerflow config``: the configuration a run used, every default filled in, as YAML
with its provenance — the report shows it beside the results it produced."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..data import atomic_path
from ..provenance import stamp


def run(config: dict, out: str) -> None:
    header = "".join(f"# {k}: {v}\n" for k, v in stamp(config).items())
    text = (
        "# The configuration of this run, with the defaults of config/schema.yaml filled in.\n"
        + header
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    )
    with atomic_path(Path(out)) as tmp:
        Path(tmp).write_text(text)
