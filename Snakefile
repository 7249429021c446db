# onsagerflow: simulate or ingest -> reduce -> learn -> evaluate -> figures -> report.
# `snakemake --cores 2` runs the default config; see README.md, config/README.md and docs/.

from snakemake.utils import min_version, validate

min_version("9.0")


# A config given with --configfile replaces the default one instead of being merged
# into it (a user's own systems must not inherit ours); the schema fills defaults.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


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
