rule ingest:
    input:
        source_files,
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        log_file("ingest/{system}"),
    benchmark:
        benchmark_file("ingest/{system}")
    wildcard_constraints:
        system=one_of(INGESTED),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cmd=command("ingest", jax=False),
        spec=spec("ingest"),
    shell:
        "{params.cmd} --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"
