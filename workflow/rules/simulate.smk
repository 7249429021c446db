rule simulate:
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        f"{RESULTS}/logs/simulate/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(SIMULATED),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        spec=spec("simulate"),
    shell:
        "{ONSAGERFLOW} simulate --threads {threads} {RUNTIME} --spec {params.spec:q} --out {output:q} > {log:q} 2>&1"
