rule reduce:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        pca=update(directory(f"{RESULTS}/reduce/{{system}}/pca.zarr")),
        latent=update(directory(f"{RESULTS}/reduce/{{system}}/latent.zarr")),
    log:
        log_file("reduce/{system}"),
    benchmark:
        benchmark_file("reduce/{system}")
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        cmd=command("reduce"),
        spec=spec("reduce"),
        out_dir=lambda w: f"{RESULTS}/reduce/{w.system}",
        dask=json.dumps(config["dask"], sort_keys=True),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --out-dir {params.out_dir:q} --dask {params.dask:q} > {log:q} 2>&1"


rule pde_states:
    input:
        data=lambda w: paths.data_store(RESULTS, w.system),
    output:
        update(directory(f"{RESULTS}/reduce/{{system}}/pde_states.zarr")),
    log:
        log_file("pde_states/{system}"),
    benchmark:
        benchmark_file("pde_states/{system}")
    wildcard_constraints:
        system=one_of(PDE_STATE_SYSTEMS),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["train"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        cmd=command("pde-states"),
        spec=spec("pde_states"),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --out {output:q} > {log:q} 2>&1"


rule pde_orbits:
    input:
        data=lambda w: paths.data_store(RESULTS, w.system),
    output:
        update(directory(f"{RESULTS}/reduce/{{system}}/pde_orbits.zarr")),
    log:
        log_file("pde_orbits/{system}"),
    benchmark:
        benchmark_file("pde_orbits/{system}")
    wildcard_constraints:
        system=one_of(PDE_ORBIT_SYSTEMS),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["train"]
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        cmd=command("pde-orbits"),
        spec=spec("pde_orbits"),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --out {output:q} > {log:q} 2>&1"
