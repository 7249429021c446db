rule evaluate:
    input:
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
        model=f"{RESULTS}/models/{{system}}/{{model}}",
    output:
        metrics=f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json",
        predictions=directory(f"{RESULTS}/eval/{{system}}/{{model}}/predictions.zarr"),
        long=directory(f"{RESULTS}/eval/{{system}}/{{model}}/long_rollouts.zarr"),
    log:
        f"{RESULTS}/logs/evaluate/{{system}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{system}}/{{model}}.tsv"
    conda:
        "../../envs/cpu.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        spec=spec("evaluate"),
        out_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
    shell:
        "onsagerflow evaluate --threads {threads} --spec {params.spec:q} --data {input.data:q}"
        " --model {input.model:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
