rule ingest:
    input:
        source_files,
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        f"{RESULTS}/logs/ingest/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(INGESTED),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=spec("ingest"),
    shell:
        "{ONSAGERFLOW} ingest --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"
