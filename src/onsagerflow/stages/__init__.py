"""What each ``onsagerflow <stage>`` command does: read inputs, call the library, write
outputs atomically with provenance. Snakemake rules call these through the CLI."""
