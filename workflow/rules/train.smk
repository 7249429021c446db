rule train:
    input:
        unpack(train_inputs),
    output:
        update(directory(f"{RESULTS}/models/{{system}}/{{model}}")),
    log:
        log_file("train/{system}/{model}"),
    benchmark:
        benchmark_file("train/{system}/{model}")
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["train"]
    resources:
        mem_mb=lambda w: job_size("train", w.system, w.model)["mem_mb"],
        runtime=lambda w: job_size("train", w.system, w.model)["runtime"],
    params:
        cmd=command("train"),
        spec=spec("train"),
        pretrained=lambda w, input: (
            f"--pretrained {shlex.quote(input.pretrained)}"
            if "pretrained" in input.keys()
            else ""
        ),
        reducer=lambda w, input: (f"--reducer {shlex.quote(input.reducer)}" if "reducer" in input.keys() else ""),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --out {output:q} {params.pretrained} {params.reducer} > {log:q} 2>&1"
