# A simulated system's store: one simulate job, or shards gathered (onsagerflow.jobs decides
# which, and which trajectories each shard holds). Shard stores and calibration parts are
# temp(): Snakemake deletes them once the store (or calibration) that needs them is written.
# Until then a rerun finds the finished ones and makes only what is missing (a shard killed
# mid-run left no store: its write is atomic).


rule calibrate_part:
    output:
        temp(f"{RESULTS}/data/{{system}}/calibration/{{part}}.npz"),
    log:
        f"{RESULTS}/logs/calibrate_part/{{system}}/{{part}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/calibrate_part/{{system}}/{{part}}.tsv"
    wildcard_constraints:
        system=one_of(CALIBRATED),
        part=RANGE,
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("calibrate_part", w.system, w.part)["mem_mb"],
        runtime=lambda w: job_size("calibrate_part", w.system, w.part)["runtime"],
    params:
        spec=spec("simulate"),
    shell:
        "{ONSAGERFLOW} calibrate --threads {threads} {RUNTIME} --spec {params.spec:q} --part {wildcards.part}"
        " --out {output:q} > {log:q} 2>&1"


rule calibrate:
    input:
        lambda w: calibration_parts(w.system),
    output:
        f"{RESULTS}/data/{{system}}/calibration.json",
    log:
        f"{RESULTS}/logs/calibrate/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/calibrate/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(CALIBRATED),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("calibrate", w.system)["mem_mb"],
        runtime=lambda w: job_size("calibrate", w.system)["runtime"],
    params:
        spec=spec("simulate"),
    shell:
        "{ONSAGERFLOW} calibrate --threads {threads} {RUNTIME} --spec {params.spec:q} --out {output:q}"
        " {input:q} > {log:q} 2>&1"


rule simulate:
    input:
        unpack(calibration_input),
    output:
        directory(f"{RESULTS}/data/{{system}}/trajectories.zarr"),
    log:
        f"{RESULTS}/logs/simulate/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(WHOLE),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("simulate", w.system)["mem_mb"],
        runtime=lambda w: job_size("simulate", w.system)["runtime"],
    params:
        spec=spec("simulate"),
        calibration=calibration_flag,
    shell:
        "{ONSAGERFLOW} simulate --threads {threads} {RUNTIME} --spec {params.spec:q} {params.calibration}"
        " --out {output:q} > {log:q} 2>&1"


rule simulate_shard:
    input:
        unpack(calibration_input),
    output:
        temp(directory(f"{RESULTS}/data/{{system}}/shards/{{shard}}.zarr")),
    log:
        f"{RESULTS}/logs/simulate_shard/{{system}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate_shard/{{system}}/{{shard}}.tsv"
    wildcard_constraints:
        system=one_of(SHARDED),
        shard=RANGE,
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("simulate_shard", w.system, w.shard)["mem_mb"],
        runtime=lambda w: job_size("simulate_shard", w.system, w.shard)["runtime"],
    params:
        spec=spec("simulate"),
        calibration=calibration_flag,
    shell:
        "{ONSAGERFLOW} simulate --threads {threads} {RUNTIME} --spec {params.spec:q} {params.calibration}"
        " --trajectories {wildcards.shard} --out {output:q} > {log:q} 2>&1"


rule gather:
    input:
        lambda w: shard_stores(w.system),
    output:
        directory(f"{RESULTS}/data/{{system}}/trajectories.zarr"),
    log:
        f"{RESULTS}/logs/gather/{{system}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather/{{system}}.tsv"
    wildcard_constraints:
        system=one_of(SHARDED),
    conda:
        ENVS["simulation"]
    threads: 1
    resources:
        mem_mb=lambda w: job_size("gather", w.system)["mem_mb"],
        runtime=lambda w: job_size("gather", w.system)["runtime"],
    params:
        spec=spec("simulate"),
    shell:
        "{ONSAGERFLOW} gather --threads {threads} {RUNTIME} --spec {params.spec:q} --out {output:q}"
        " {input:q} > {log:q} 2>&1"
