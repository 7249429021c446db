rule reduce:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        pca=directory(f"{RESULTS}/reduce/{{system}}/pca.zarr"),
        latent=directory(f"{RESULTS}/reduce/{{system}}/latent.zarr"),
    log:
        f"{RESULTS}/logs/reduce/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reduce/{{system}}.tsv"
    conda:
        ENVS["learning"]
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        spec=spec("reduce"),
        out_dir=lambda w: f"{RESULTS}/reduce/{w.system}",
        dask=json.dumps(config["dask"], sort_keys=True),
    shell:
        "{ONSAGERFLOW} reduce --threads {threads} {RUNTIME} --spec {params.spec:q} --data {input.data:q}"
        " --out-dir {params.out_dir:q} --dask {params.dask:q} > {log:q} 2>&1"


rule pde_states:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        directory(f"{RESULTS}/reduce/{{system}}/pde_states.zarr"),
    log:
        f"{RESULTS}/logs/pde_states/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pde_states/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(PDE_STATE_SYSTEMS),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        spec=spec("pde_states"),
    shell:
        "{ONSAGERFLOW} pde-states --threads {threads} {RUNTIME} --spec {params.spec:q} --data {input.data:q}"
        " --out {output:q} > {log:q} 2>&1"
