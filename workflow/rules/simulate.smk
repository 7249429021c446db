rule simulate:
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        log_file("simulate/{system}"),
    benchmark:
        benchmark_file("simulate/{system}")
    wildcard_constraints:
        system=one_of(SIMULATED),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cmd=command("simulate"),
        spec=spec("simulate"),
    shell:
        "{params.cmd} --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"
