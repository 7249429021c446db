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
        f"{RESULTS}/logs/figures/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(STATE_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=spec("figures"),
        models=lambda w: named_paths("--model", model_dirs(w)),
        evals=lambda w: named_paths("--eval", eval_dirs(w)),
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{ONSAGERFLOW} figures --threads {threads} {RUNTIME} --spec {params.spec:q} {params.models}"
        " {params.evals} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule potential:
    input:
        metrics=f"{RESULTS}/eval/{{system}}/{{model}}/metrics.json",
        long=f"{RESULTS}/eval/{{system}}/{{model}}/long_rollouts.zarr",
        model=f"{RESULTS}/models/{{system}}/{{model}}",
    output:
        report(
            multiext(
                f"{RESULTS}/figures/{{system}}/potential_{{model}}", ".png", ".pdf"
            ),
            caption="../report/potential.rst",
            category="Figures",
            subcategory="{system}",
            labels={"system": "{system}", "figure": "potential {model}"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{system}}/potential_{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{system}}/potential_{{model}}.tsv"
    wildcard_constraints:
        system=one_of(STATE_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=spec("potential"),
        eval_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        stem=lambda w: f"{RESULTS}/figures/{w.system}/potential_{w.model}",
    shell:
        "{ONSAGERFLOW} potential --threads {threads} {RUNTIME} --spec {params.spec:q} --model {input.model:q}"
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
        f"{RESULTS}/logs/figures/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(REDUCED),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=spec("figures"),
        models=lambda w: named_paths("--model", model_dirs(w)),
        evals=lambda w: named_paths("--eval", eval_dirs(w)),
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{ONSAGERFLOW} figures-fields --threads {threads} {RUNTIME} --spec {params.spec:q} {params.models}"
        " {params.evals} --reducer {input.reducer:q} --data {input.data:q} --latent {input.latent:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule table:
    input:
        all_metrics(STATE_SYSTEMS),
    output:
        csv=report(
            f"{RESULTS}/tables/results.csv",
            caption="../report/table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/results.md",
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{ONSAGERFLOW} table {input:q} --csv {output.csv:q} --md {output.md:q} > {log:q} 2>&1"


rule latent_table:
    input:
        all_metrics(FIELD_SYSTEMS),
        nearest_neighbour_metrics(FIELD_SYSTEMS),
    output:
        csv=report(
            f"{RESULTS}/tables/latent_models.csv",
            caption="../report/latent_table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/latent_models.md",
    log:
        f"{RESULTS}/logs/latent_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/latent_table.tsv"
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{ONSAGERFLOW} table --latent {input:q} --csv {output.csv:q} --md {output.md:q} > {log:q} 2>&1"


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
        f"{RESULTS}/logs/figures/{{system}}/polymer_{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{system}}/polymer_{{model}}.tsv"
    wildcard_constraints:
        system=one_of(POLYMER_SYSTEMS),
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=spec("figures"),
        eval_dir=lambda w: f"{RESULTS}/eval/{w.system}/{w.model}",
        out_dir=lambda w: f"{RESULTS}/figures/{w.system}",
    shell:
        "{ONSAGERFLOW} figures-polymer --threads {threads} {RUNTIME} --spec {params.spec:q} --run {wildcards.model}"
        " --model {input.model:q} --eval-dir {params.eval_dir:q} --reducer {input.reducer:q}"
        " --latent {input.latent:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule polymer_table:
    input:
        all_metrics(POLYMER_SYSTEMS),
    output:
        csv=report(
            f"{RESULTS}/tables/polymer_models.csv",
            caption="../report/polymer_table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/polymer_models.md",
    log:
        f"{RESULTS}/logs/polymer_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/polymer_table.tsv"
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{ONSAGERFLOW} table --polymer {input:q} --csv {output.csv:q} --md {output.md:q} > {log:q} 2>&1"


rule config_file:
    output:
        report(
            f"{RESULTS}/config.yaml",
            caption="../report/config.rst",
            category="Configuration",
        ),
    log:
        f"{RESULTS}/logs/config.log",
    benchmark:
        f"{RESULTS}/benchmarks/config.tsv"
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=lambda w: json.dumps(config, sort_keys=True),
    shell:
        "{ONSAGERFLOW} config --spec {params.config:q} --out {output:q} > {log:q} 2>&1"



rule baselines_table:
    input:
        all_metrics(SYSTEMS),
    output:
        csv=report(
            f"{RESULTS}/tables/baselines.csv",
            caption="../report/baselines_table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/baselines.md",
    log:
        f"{RESULTS}/logs/baselines_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/baselines_table.tsv"
    conda:
        ENVS["figures"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{ONSAGERFLOW} table --baselines {input:q} --csv {output.csv:q} --md {output.md:q} > {log:q} 2>&1"
