rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        **evaluation_outputs("{system}", "{model}"),
    log:
        log_file("evaluate/{system}/{model}"),
    benchmark:
        benchmark_file("evaluate/{system}/{model}")
    wildcard_constraints:
        system=one_of([s for s in STATE_SYSTEMS + FIELD_SYSTEMS if s in EVALUATED_ALONE]),
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=lambda w: job_size("evaluate", w.system, w.model)["mem_mb"],
        runtime=lambda w: job_size("evaluate", w.system, w.model)["runtime"],
    params:
        cmd=command("evaluate"),
        spec=spec("evaluate"),
        out_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        fields=lambda w, input: evaluate_flags(input),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --model {input.model:q} --out-dir {params.out_dir:q} {params.fields} > {log:q} 2>&1"


rule evaluate_ensembles:
    input:
        unpack(evaluate_inputs),
    output:
        **evaluation_outputs("{system}", "{model}", long=False),
    log:
        log_file("evaluate/{system}/{model}"),
    benchmark:
        benchmark_file("evaluate/{system}/{model}")
    wildcard_constraints:
        system=one_of([s for s in POLYMER_SYSTEMS if s in EVALUATED_ALONE]),
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=lambda w: job_size("evaluate_ensembles", w.system, w.model)["mem_mb"],
        runtime=lambda w: job_size("evaluate_ensembles", w.system, w.model)["runtime"],
    params:
        cmd=command("evaluate"),
        spec=spec("evaluate"),
        out_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        fields=lambda w, input: evaluate_flags(input),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q}"
        " --model {input.model:q} --out-dir {params.out_dir:q} {params.fields} > {log:q} 2>&1"


# The ensemble metrics' floor: a simulated polymer system's simulator reruns one test ensemble
# from its stored starts under draw {draw} of new noise, judged as a model's paths are; the
# polymer table shows the mean over evaluation.noise_floor_draws draws. Where one ensemble's
# rerun would not fit a job (jobs.noise_floor_plan), parts of its realisations are rerun in
# jobs of their own (temp()), then judged together, as simulate_shard and gather do.
rule noise_floor:
    input:
        data=lambda w: paths.data_store(RESULTS, w.system),
    output:
        update(paths.noise_floor_file(RESULTS, "{system}", "{draw}", "{ensemble}")),
    log:
        log_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}"),
    benchmark:
        benchmark_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}")
    wildcard_constraints:
        system=one_of(NOISE_FLOOR_WHOLE),
        draw="[0-9]+",
        ensemble="[0-9]+",
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=lambda w: job_size("noise_floor", w.system, f"draw{w.draw}_ensemble{w.ensemble}")["mem_mb"],
        runtime=lambda w: job_size("noise_floor", w.system, f"draw{w.draw}_ensemble{w.ensemble}")["runtime"],
    params:
        cmd=command("noise-floor"),
        spec=spec("noise_floor"),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --draw {wildcards.draw}"
        " --ensemble {wildcards.ensemble} --out {output:q} > {log:q} 2>&1"


rule noise_floor_part:
    input:
        data=lambda w: paths.data_store(RESULTS, w.system),
    output:
        temp(paths.noise_floor_part(RESULTS, "{system}", "{draw}", "{ensemble}", "{part}")),
    log:
        log_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}_{part}"),
    benchmark:
        benchmark_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}_{part}")
    wildcard_constraints:
        system=one_of(NOISE_FLOOR_SPLIT),
        draw="[0-9]+",
        ensemble="[0-9]+",
        part=RANGE,
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=lambda w: job_size("noise_floor_part", w.system, f"draw{w.draw}_ensemble{w.ensemble}_{w.part}")[
            "mem_mb"
        ],
        runtime=lambda w: job_size("noise_floor_part", w.system, f"draw{w.draw}_ensemble{w.ensemble}_{w.part}")[
            "runtime"
        ],
    params:
        cmd=command("noise-floor"),
        spec=spec("noise_floor"),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --draw {wildcards.draw}"
        " --ensemble {wildcards.ensemble} --part {wildcards.part} --out {output:q} > {log:q} 2>&1"


rule noise_floor_judge:
    input:
        data=lambda w: paths.data_store(RESULTS, w.system),
        parts=lambda w: [
            paths.noise_floor_part(RESULTS, w.system, w.draw, w.ensemble, range_name(r))
            for r in noise_floor_plan(config, w.system)
        ],
    output:
        update(paths.noise_floor_file(RESULTS, "{system}", "{draw}", "{ensemble}")),
    log:
        log_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}"),
    benchmark:
        benchmark_file("noise_floor/{system}/draw{draw}_ensemble{ensemble}")
    wildcard_constraints:
        system=one_of(NOISE_FLOOR_SPLIT),
        draw="[0-9]+",
        ensemble="[0-9]+",
    conda:
        ENVS["learning"]
    threads: 1
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=lambda w: job_size("noise_floor_judge", w.system, f"draw{w.draw}_ensemble{w.ensemble}")["mem_mb"],
        runtime=lambda w: job_size("noise_floor_judge", w.system, f"draw{w.draw}_ensemble{w.ensemble}")["runtime"],
    params:
        cmd=command("noise-floor"),
        spec=spec("noise_floor"),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --draw {wildcards.draw}"
        " --ensemble {wildcards.ensemble} --out {output:q} {input.parts:q} > {log:q} 2>&1"


# jobs.evaluate_per_system: a system's runs one after another in one job (one start-up)
for _system in EVALUATED_TOGETHER:

    rule:
        name:
            f"evaluate_system_{_system}"
        input:
            **evaluate_system_inputs(_system),
        output:
            **evaluate_system_outputs(_system),
        log:
            log_file(f"evaluate/{_system}"),
        benchmark:
            benchmark_file(f"evaluate/{_system}")
        conda:
            ENVS["learning"]
        threads: EVALUATE_SET_THREADS
        priority: PRIORITY["evaluate"] + 0.01 * len(runs_of(config, _system))
        resources:
            mem_mb=job_size("evaluate_system", _system)["mem_mb"],
            runtime=job_size("evaluate_system", _system)["runtime"],
            **EVALUATE_SET_RESOURCES,
        params:
            cmd=command("evaluate-system"),
            spec=stage_spec_json(config, "evaluate_system", _system),
            models=repeated("--model", evaluate_system_paths(_system)["model"]),
            evals=repeated("--eval", evaluate_system_paths(_system)["eval"]),
            fields=lambda w, input: evaluate_flags(input),
        shell:
            "{params.cmd} --spec {params.spec:q} --data {input.data:q} {params.models} {params.evals}"
            " {params.fields} > {log:q} 2>&1"


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
    priority: PRIORITY["evaluate"]
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
    priority: PRIORITY["evaluate"]
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("nearest-neighbour"),
        spec=lambda w: stage_spec_json(config, "nearest_neighbour", w.system, w.n),
    shell:
        "{params.cmd} --spec {params.spec:q} --data {input.data:q} --out {output:q} > {log:q} 2>&1"
