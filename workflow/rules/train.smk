rule train:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        directory(f"{RESULTS}/models/{{system}}/{{model}}"),
    log:
        f"{RESULTS}/logs/train/{{system}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{system}}/{{model}}.tsv"
    conda:
        "../../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        spec=spec("train"),
    shell:
        "onsagerflow train --threads {threads} --spec {params.spec:q} --data {input.data:q}"
        " --out {output:q} > {log:q} 2>&1"
