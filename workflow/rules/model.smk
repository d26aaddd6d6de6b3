# The model half: one VAE per genre, trained on its train split and evaluated on both splits.


rule train_model:
    input:
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=package_code("model", "losses", "training", "files"),
    output:
        model="results/{genre}/model/model.keras",
        history="results/{genre}/model/history.csv",
        config="results/{genre}/model/config.json",
        epoch_samples="results/{genre}/model/epoch_samples.npy",
    log:
        "results/logs/train_model/{genre}.log",
    benchmark:
        "results/benchmarks/train_model/{genre}.tsv"
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
        settings=model_settings("seed", "sample_rate", "model", "train"),
    shell:
        "python -m genrevae train --shard {input.shard} --split {input.split}"
        " --out-dir {params.out_dir} --settings {params.settings:q} --threads {threads}"
        " > {log} 2>&1"


rule evaluate_model:
    input:
        model="results/{genre}/model/model.keras",
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=package_code("model", "losses", "evaluation", "files"),
    output:
        "results/{genre}/metrics.json",
    log:
        "results/logs/evaluate_model/{genre}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=evaluate_mem_mb,
        runtime=evaluate_runtime_min,
        gpu=config["resources"]["train_gpus"],
    params:
        settings=model_settings("seed", "sample_rate", "model", "evaluate"),
    shell:
        "python -m genrevae evaluate --model {input.model} --shard {input.shard}"
        " --split {input.split} --settings {params.settings:q} --threads {threads}"
        " --out {output} > {log} 2>&1"
