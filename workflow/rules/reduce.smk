rule reduce:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        pca=update(directory(f"{RESULTS}/reduce/{{system}}/pca.zarr")),
        latent=update(directory(f"{RESULTS}/reduce/{{system}}/latent.zarr")),
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
