# onsagerflow: simulate or ingest -> reduce -> learn -> evaluate -> figures -> report.
# `snakemake --cores 2` runs the default config; see README.md, config/README.md and docs/.

import sys
from pathlib import Path

from snakemake.utils import min_version

from onsagerflow.config import ConfigError, check_files, workflow_config

min_version("9.0")


# A config problem ends the run before the DAG with its one line, not a traceback.
# A config given with --configfile replaces the default one instead of being merged
# into it (a user's own systems must not inherit ours); the schema fills defaults.
# The files are read once more with the strict YAML reader first: a syntax error or a
# key given twice then names the file and line.
try:
    CONFIGFILES = check_files(workflow.overwrite_configfiles or ["config/config.yaml"])
except ConfigError as exc:
    sys.exit(f"config error: {exc}")
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Typed --config values, the schema's defaults, seeded copies of models, and every check
# that needs only the config (onsagerflow.config), so `snakemake -n` catches them.
try:
    workflow_config(
        config,
        CONFIGFILES,
        workflow.config_settings.config_args,
        Path(workflow.basedir) / "config" / "schema.yaml",
    )
except ConfigError as exc:
    sys.exit(f"config error: {exc}")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/reduce.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),


onsuccess:
    print(
        f"\nonsagerflow: done. Tables: {', '.join(f'{RESULTS}/tables/{t}.md' for t in TABLE_NAMES)};"
        f" figures under {RESULTS}/figures/.\n"
        f"Every figure and table with captions: snakemake --report {RESULTS}/report.html\n"
    )
