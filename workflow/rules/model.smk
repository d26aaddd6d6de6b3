# The model half: one VAE per genre, trained on its train split and evaluated on both splits.


rule train:
    input:
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("train"),
    output:
        model=str(GENRE.model_file),
        history=str(GENRE.history_file),
        config=str(GENRE.config_file),
        epoch_samples=str(GENRE.epoch_samples_file),
    log:
        "results/logs/train/{genre}.log",
    benchmark:
        "results/benchmarks/train/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime_min,
        gpu=config["resources"]["train_gpus"],
    params:
        out_dir=lambda wildcards, output: Path(output.model).parent,
        settings=stage_settings("train"),
    shell:
        "python -m genrevae train --shard {input.shard:q} --split {input.split:q}"
        " --out-dir {params.out_dir:q} --settings {params.settings:q} --threads {threads}"
        " > {log:q} 2>&1"


rule prior:
    input:
        model=str(GENRE.model_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("prior"),
    output:
        prior=str(GENRE.prior_file),
        report=str(GENRE.prior_report_file),
    log:
        "results/logs/prior/{genre}.log",
    benchmark:
        "results/benchmarks/prior/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=prior_mem_mb,
        runtime=prior_runtime_min,
        gpu=config["resources"]["train_gpus"],
    params:
        # the stage opens the model above through the genre folder
        genre_dir=genre_folder,
        out_dir=lambda wildcards, output: Path(output.prior).parent,
        settings=stage_settings("prior"),
    shell:
        "python -m genrevae prior --genre-dir {params.genre_dir:q} --shard {input.shard:q}"
        " --split {input.split:q} --settings {params.settings:q} --threads {threads}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule evaluate:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("evaluate"),
    output:
        str(GENRE.metrics_file),
    log:
        "results/logs/evaluate/{genre}.log",
    benchmark:
        "results/benchmarks/evaluate/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=evaluate_mem_mb,
        runtime=evaluate_runtime_min,
        gpu=config["resources"]["train_gpus"],
    params:
        # the stage opens the model and prior above through the genre folder
        genre_dir=genre_folder,
        settings=stage_settings("evaluate"),
    shell:
        "python -m genrevae evaluate --genre-dir {params.genre_dir:q} --shard {input.shard:q}"
        " --split {input.split:q} --settings {params.settings:q} --threads {threads}"
        " --out {output:q} > {log:q} 2>&1"
