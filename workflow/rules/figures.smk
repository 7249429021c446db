rule figures:
    input:
        metrics=lambda w: [f"{d}/metrics.json" for d in eval_dirs(w).values()],
        long=lambda w: [f"{d}/long_rollouts.zarr" for d in eval_dirs(w).values()],
        models=lambda w: list(model_dirs(w).values()),
    output:
        attractor=figure_output("attractor", "attractor"),
        errors=figure_output("error_vs_time", "error_vs_time"),
        training=figure_output("training_curves", "training_curves"),
    log:
        log_file("figures/{system}"),
    benchmark:
        benchmark_file("figures/{system}")
    wildcard_constraints:
        system=one_of(STATE_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("figures"),
        spec=spec("figures"),
        models=lambda w: named_paths("--model", model_dirs(w)),
        evals=lambda w: named_paths("--eval", eval_dirs(w)),
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{params.cmd} --spec {params.spec:q} {params.models}"
        " {params.evals} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule potential:
    input:
        metrics=f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json",
        long=f"{RESULTS}/eval/{{system}}/{{model}}/long_rollouts.zarr",
        model=f"{RESULTS}/models/{{system}}/{{model}}",
    output:
        report(
            update(
                multiext(
                    f"{RESULTS}/figures/{{system}}/potential_{{model}}", ".png", ".pdf"
                )
            ),
            caption="../report/potential.rst",
            category="Figures",
            subcategory="{system}",
            labels={"system": "{system}", "figure": "potential {model}"},
        ),
    log:
        log_file("figures/{system}/potential_{model}"),
    benchmark:
        benchmark_file("figures/{system}/potential_{model}")
    wildcard_constraints:
        system=one_of(STATE_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("potential"),
        spec=spec("potential"),
        eval_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        stem=lambda w: f"{RESULTS}/figures/{w.system}/potential_{w.model}",
    shell:
        "{params.cmd} --spec {params.spec:q} --model {input.model:q}"
        " --eval-dir {params.eval_dir:q} --out {params.stem:q} > {log:q} 2>&1"


rule figures_fields:
    input:
        metrics=lambda w: [f"{d}/metrics.json" for d in eval_dirs(w).values()],
        models=lambda w: list(model_dirs(w).values()),
        reducer=f"{RESULTS}/reduce/{{system}}/pca.zarr",
        latent=f"{RESULTS}/reduce/{{system}}/latent.zarr",
        data=f"{RESULTS}/data/{{system}}/trajectories.zarr",
    output:
        variance=figure_output("variance_spectrum", "variance_spectrum"),
        training=figure_output("training_curves", "training_curves_latent"),
        latent=figure_output("latent_trajectories", "latent_trajectories"),
        fields=figure_output("temperature_fields", "temperature_fields"),
    log:
        log_file("figures/{system}"),
    benchmark:
        benchmark_file("figures/{system}")
    wildcard_constraints:
        system=one_of(REDUCED),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("figures-fields"),
        spec=spec("figures"),
        models=lambda w: named_paths("--model", model_dirs(w)),
        evals=lambda w: named_paths("--eval", eval_dirs(w)),
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{params.cmd} --spec {params.spec:q} {params.models}"
        " {params.evals} --reducer {input.reducer:q} --data {input.data:q} --latent {input.latent:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule potential_3d:
    input:
        metrics=lambda w: f"{paths.eval_dir(RESULTS, w.system, w.model)}/metrics.json",
        model=lambda w: paths.model_dir(RESULTS, w.system, w.model),
        latent=lambda w: paths.latent_store(RESULTS, w.system),
    output:
        report(
            update(multiext(f"{RESULTS}/figures/{{system}}/potential_3d_{{model}}", ".png", ".pdf")),
            caption="../report/potential_3d.rst",
            category="Figures",
            subcategory="{system}",
            labels={"system": "{system}", "figure": "potential 3D {model}"},
        ),
    log:
        log_file("figures/{system}/potential_3d_{model}"),
    benchmark:
        benchmark_file("figures/{system}/potential_3d_{model}")
    wildcard_constraints:
        system=one_of(FIELD_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("potential-3d"),
        spec=spec("potential"),
        eval_dir=lambda w: paths.eval_dir(RESULTS, w.system, w.model),
        stem=lambda w: f"{RESULTS}/figures/{w.system}/potential_3d_{w.model}",
    shell:
        "{params.cmd} --spec {params.spec:q} --model {input.model:q} --eval-dir {params.eval_dir:q}"
        " --latent {input.latent:q} --out {params.stem:q} > {log:q} 2>&1"


rule figures_polymer:
    input:
        metrics=f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json",
        model=f"{RESULTS}/models/{{system}}/{{model}}",
        reducer=f"{RESULTS}/reduce/{{system}}/pca.zarr",
        latent=f"{RESULTS}/reduce/{{system}}/latent.zarr",
    output:
        landscape=figure_output("landscape_{model}", "landscape"),
        extension=figure_output("extension_{model}", "extension"),
        unfolding=figure_output("unfolding_times_{model}", "unfolding_times"),
        conformations=figure_output("conformations_{model}", "conformations"),
    log:
        log_file("figures/{system}/polymer_{model}"),
    benchmark:
        benchmark_file("figures/{system}/polymer_{model}")
    wildcard_constraints:
        system=one_of(POLYMER_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        cmd=command("figures-polymer"),
        spec=spec("figures"),
        eval_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{params.cmd} --spec {params.spec:q} --run {wildcards.model}"
        " --model {input.model:q} --eval-dir {params.eval_dir:q} --reducer {input.reducer:q}"
        " --latent {input.latent:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


# Every results table (TABLES in common.smk): results, latent_models, polymer_models, baselines.
rule table:
    input:
        # Table I also lists PRF21's nearest-neighbour baseline (their Table II)
        metrics=lambda w: all_metrics(TABLES[w.table][1])
        + (nearest_neighbour_metrics(FIELD_SYSTEMS) if w.table == "latent_models" else [])
        # and PRF21's LSTM (their Table III) where enabled
        + (lstm_metrics(LSTM_SYSTEMS) if w.table == "latent_models" else []),
        # the polymer table's row of the simulator against itself
        noise_floor=lambda w: (
            [f for s in NOISE_FLOOR_SYSTEMS for f in paths.noise_floor_files(config, s)]
            if w.table == "polymer_models"
            else []
        ),
    output:
        csv=report(
            update(f"{RESULTS}/tables/{{table}}.csv"),
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
        md=update(f"{RESULTS}/tables/{{table}}.md"),
    log:
        log_file("tables/{table}"),
    benchmark:
        benchmark_file("tables/{table}")
    wildcard_constraints:
        table=one_of(TABLE_NAMES),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cmd=command("table", jax=False),
        kind=lambda w: TABLES[w.table][0],
        noise_floor=lambda w, input: repeated("--noise-floor", input.noise_floor),
    shell:
        "{params.cmd} {params.kind} {input.metrics:q} {params.noise_floor} --csv {output.csv:q} --md {output.md:q}"
        " > {log:q} 2>&1"


rule config_file:
    output:
        report(
            update(f"{RESULTS}/config.yaml"),
            caption="../report/config.rst",
            category="Configuration",
        ),
    log:
        log_file("config"),
    benchmark:
        benchmark_file("config")
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cmd=command("config", jax=False),
        config=lambda w: json.dumps(config, sort_keys=True),
    shell:
        "{params.cmd} --spec {params.config:q} --out {output:q} > {log:q} 2>&1"


# PRF21 Figs. 2a, 7, 8: the one-step test accuracy of every state-space run, as bar charts
rule accuracy:
    input:
        all_metrics(STATE_SYSTEMS),
    output:
        report(
            multiext(f"{RESULTS}/figures/accuracy", ".png", ".pdf"),
            caption="../report/accuracy.rst",
            category="Figures",
            subcategory="accuracy",
            labels={"figure": "accuracy"},
        ),
    log:
        log_file("figures/accuracy"),
    benchmark:
        benchmark_file("figures/accuracy")
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cmd=command("accuracy", jax=False),
        stem=lambda w, output: output[0].removesuffix(".png"),
    shell:
        "{params.cmd} {input:q} --out {params.stem:q} > {log:q} 2>&1"
