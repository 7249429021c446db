rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics=update(f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json"),
        predictions=update(directory(f"{RESULTS}/eval/{{system}}/{{model}}/predictions.zarr")),
        long=update(directory(f"{RESULTS}/eval/{{system}}/{{model}}/long_rollouts.zarr")),
    log:
        log_file("evaluate/{system}/{model}"),
    benchmark:
        benchmark_file("evaluate/{system}/{model}")
    wildcard_constraints:
        system=one_of(STATE_SYSTEMS + FIELD_SYSTEMS),
    conda:
        ENVS["learning"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("evaluate", w.system, w.model)["mem_mb"],
        runtime=lambda w: job_size("evaluate", w.system, w.model)["runtime"],
    params:
        cmd=command("evaluate"),
        spec=spec("evaluate"),
        out_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        fields=lambda w, input: (
            f"--reducer {shlex.quote(input.reducer)} --fields {shlex.quote(input.fields)}"
            if "reducer" in input.keys()
            else ""
        )
        + (
            f" --pde-states {shlex.quote(input.pde_states)}"
            if "pde_states" in input.keys()
            else ""
        )
        + (
            f" --pde-orbits {shlex.quote(input.pde_orbits)}"
            if "pde_orbits" in input.keys()
            else ""
        ),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --model {input.model:q} --out-dir {params.out_dir:q} {params.fields} > {log:q} 2>&1"


rule evaluate_ensembles:
    input:
        unpack(evaluate_inputs),
    output:
        metrics=update(f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json"),
        predictions=update(directory(f"{RESULTS}/eval/{{system}}/{{model}}/predictions.zarr")),
    log:
        log_file("evaluate/{system}/{model}"),
    benchmark:
        benchmark_file("evaluate/{system}/{model}")
    wildcard_constraints:
        system=one_of(POLYMER_SYSTEMS),
    conda:
        ENVS["learning"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("evaluate_ensembles", w.system, w.model)["mem_mb"],
        runtime=lambda w: job_size("evaluate_ensembles", w.system, w.model)["runtime"],
    params:
        cmd=command("evaluate"),
        spec=spec("evaluate"),
        out_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --model {input.model:q} --out-dir {params.out_dir:q} --fields {input.fields:q}"
        " --reducer {input.reducer:q} > {log:q} 2>&1"


rule lstm_baseline:
    input:
        data=lambda w: paths.latent_store(RESULTS, w.system),
    output:
        update(f"{RESULTS}/eval/{{system}}/lstm-n{{n}}/metrics.json"),
    log:
        log_file("evaluate/{system}/lstm-n{n}"),
    benchmark:
        benchmark_file("evaluate/{system}/lstm-n{n}")
    wildcard_constraints:
        system=one_of(LSTM_SYSTEMS),
        n="[0-9]+",
    conda:
        ENVS["learning"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cmd=command("lstm-baseline"),
        spec=lambda w: stage_spec_json(config, "lstm_baseline", w.system, w.n),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --out {output:q} > {log:q} 2>&1"


rule nearest_neighbour:
    input:
        data=lambda w: paths.latent_store(RESULTS, w.system),
    output:
        update(f"{RESULTS}/eval/{{system}}/nearest_neighbour-n{{n}}/metrics.json"),
    log:
        log_file("evaluate/{system}/nearest_neighbour-n{n}"),
    benchmark:
        benchmark_file("evaluate/{system}/nearest_neighbour-n{n}")
    wildcard_constraints:
        system=one_of(FIELD_SYSTEMS),
        n="[0-9]+",
    conda:
        ENVS["learning"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("nearest-neighbour"),
        spec=lambda w: stage_spec_json(config, "nearest_neighbour", w.system, w.n),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --out {output:q} > {log:q} 2>&1"
