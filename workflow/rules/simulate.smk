# A simulated system's store: one simulate job, or shards gathered (onsagerflow.jobs decides
# which, and which trajectories each shard holds). Shard stores and calibration parts are
# temp(): Snakemake deletes them once the store (or calibration) that needs them is written
# (temp, not update(): nothing earlier to keep). The store and calibration are update() as
# every other output.
# Until then a rerun finds the finished ones and makes only what is missing (a shard killed
# mid-run left no store: its write is atomic).


rule calibrate_part:
    output:
        temp(f"{RESULTS}/data/{{system}}/calibration/{{part}}.npz"),
    log:
        log_file("calibrate_part/{system}/{part}"),
    benchmark:
        benchmark_file("calibrate_part/{system}/{part}")
    wildcard_constraints:
        system=one_of(CALIBRATED),
        part=RANGE,
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=lambda w: job_size("calibrate_part", w.system, w.part)["mem_mb"],
        runtime=lambda w: job_size("calibrate_part", w.system, w.part)["runtime"],
    params:
        cmd=command("calibrate"),
        spec=spec("simulate"),
    shell:
        "{params.cmd} --spec {params.spec:q} --part {wildcards.part} --out {output:q} > {log:q} 2>&1"


rule calibrate:
    input:
        lambda w: calibration_parts(w.system),
    output:
        update(f"{RESULTS}/data/{{system}}/calibration.json"),
    log:
        log_file("calibrate/{system}"),
    benchmark:
        benchmark_file("calibrate/{system}")
    wildcard_constraints:
        system=one_of(CALIBRATED),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=lambda w: job_size("calibrate", w.system)["mem_mb"],
        runtime=lambda w: job_size("calibrate", w.system)["runtime"],
    params:
        cmd=command("calibrate"),
        spec=spec("simulate"),
    shell:
        "{params.cmd} --spec {params.spec:q} --out {output:q} {input:q} > {log:q} 2>&1"


rule simulate:
    input:
        unpack(calibration_input),
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        log_file("simulate/{system}"),
    benchmark:
        benchmark_file("simulate/{system}")
    wildcard_constraints:
        system=one_of(WHOLE),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=lambda w: job_size("simulate", w.system)["mem_mb"],
        runtime=lambda w: job_size("simulate", w.system)["runtime"],
    params:
        cmd=command("simulate"),
        spec=spec("simulate"),
        calibration=calibration_flag,
    shell:
        "{params.cmd} --spec {params.spec:q} {params.calibration} --out {output:q} > {log:q} 2>&1"


rule simulate_shard:
    input:
        unpack(calibration_input),
    output:
        temp(directory(f"{RESULTS}/data/{{system}}/shards/{{shard}}.zarr")),
    log:
        log_file("simulate_shard/{system}/{shard}"),
    benchmark:
        benchmark_file("simulate_shard/{system}/{shard}")
    wildcard_constraints:
        system=one_of(SHARDED),
        shard=RANGE,
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=lambda w: job_size("simulate_shard", w.system, w.shard)["mem_mb"],
        runtime=lambda w: job_size("simulate_shard", w.system, w.shard)["runtime"],
    params:
        cmd=command("simulate"),
        spec=spec("simulate"),
        calibration=calibration_flag,
    shell:
        "{params.cmd} --spec {params.spec:q} {params.calibration} --trajectories {wildcards.shard}"
        " --out {output:q} > {log:q} 2>&1"


rule gather:
    input:
        lambda w: shard_stores(w.system),
    output:
        update(directory(f"{RESULTS}/data/{{system}}/trajectories.zarr")),
    log:
        log_file("gather/{system}"),
    benchmark:
        benchmark_file("gather/{system}")
    wildcard_constraints:
        system=one_of(SHARDED),
    conda:
        ENVS["simulation"]
    threads: 1
    priority: PRIORITY["data"]
    resources:
        mem_mb=lambda w: job_size("gather", w.system)["mem_mb"],
        runtime=lambda w: job_size("gather", w.system)["runtime"],
    params:
        cmd=command("gather"),
        spec=spec("simulate"),
    shell:
        "{params.cmd} --spec {params.spec:q} --out {output:q} {input:q} > {log:q} 2>&1"
