# The data half: toy dataset -> index and 3 kHz shard (one pass over the files) -> train/test
# split, one job per genre.


rule toy:
    input:
        code=command_code("toy"),
    output:
        expand(
            "data/toy/{{genre}}/{{genre}}.{index}.wav",
            index=[f"{i:05d}" for i in range(config["toy"]["clips_per_genre"])],
        ),
    log:
        "results/logs/toy/{genre}.log",
    benchmark:
        "results/benchmarks/toy/{genre}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=light_mem_mb,
        runtime=toy_runtime_min,
    params:
        out=lambda wildcards, output: Path(output[0]).parents[1],
        clips=config["toy"]["clips_per_genre"],
        seed=config["toy"]["seed"],
        sample_rate=config["toy"]["sample_rate"],
        duration=config["toy"]["duration"],
    shell:
        "python -m genrevae toy --out {params.out:q} --genre {wildcards.genre:q} --clips {params.clips:q}"
        " --seed {params.seed:q} --sample-rate {params.sample_rate:q} --duration {params.duration:q}"
        " > {log:q} 2>&1"


rule prepare:
    input:
        audio=audio_files,
        code=command_code("prepare"),
    output:
        index="results/{genre}/data/index.csv",
        shard="results/{genre}/data/clips.npy",
        tracks="results/{genre}/data/tracks.csv",
    log:
        "results/logs/prepare/{genre}.log",
    benchmark:
        "results/benchmarks/prepare/{genre}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: config["resources"]["data_threads"]
    resources:
        mem_mb=prepare_mem_mb,
        runtime=data_runtime_min,
    params:
        min_seconds=config["min_seconds"],
        sample_rate=config["sample_rate"],
        n_samples=config["n_samples"],
        offset_seconds=config["clip_offset_seconds"],
        # Not inputs (Snakemake needs those to exist); prepare records what each one is.
        other_entries=other_entries,
    shell:
        "python -m genrevae prepare --genre {wildcards.genre:q} --min-seconds {params.min_seconds:q}"
        " --sample-rate {params.sample_rate:q} --n-samples {params.n_samples:q}"
        " --offset-seconds {params.offset_seconds:q} --threads {threads}"
        " --out-index {output.index:q} --out-shard {output.shard:q} --out-tracks {output.tracks:q}"
        " {input.audio:q} {params.other_entries:q} > {log:q} 2>&1"


rule split:
    input:
        tracks="results/{genre}/data/tracks.csv",
        code=command_code("split"),
    output:
        "results/{genre}/data/split.csv",
    log:
        "results/logs/split/{genre}.log",
    benchmark:
        "results/benchmarks/split/{genre}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=light_mem_mb,
        runtime=data_runtime_min,
    params:
        split=lambda wildcards: split_arguments(config["split"], wildcards.genre),
    shell:
        "python -m genrevae split --genre {wildcards.genre:q} --tracks {input.tracks:q} {params.split:q}"
        " --out {output:q} > {log:q} 2>&1"
