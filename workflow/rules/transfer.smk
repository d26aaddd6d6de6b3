# Timbre transfer: source clips (the files of transfer.dir, or one test clip of each genre)
# re-synthesised through every genre's VAE, for the listening page's "original -> as <genre>".


rule transfer_source:
    input:
        unpack(transfer_source_input),
        code=command_code("transfer-source"),
    output:
        wav="results/transfer/sources/{source}.wav",
        playback="results/transfer/sources/playback/{source}.wav",
        record="results/transfer/sources/{source}.json",
    log:
        "results/logs/transfer_source/{source}.log",
    benchmark:
        "results/benchmarks/transfer_source/{source}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=light_mem_mb,
        runtime=page_runtime_min,
    params:
        source=transfer_source_arguments,
        sample_rate=config["sample_rate"],
        playback_rate=config["audio"]["playback_rate"],
        peak_dbfs=config["audio"]["peak_dbfs"],
        out_dir=lambda wildcards, output: Path(output.wav).parent,
    shell:
        "python -m genrevae transfer-source --name {wildcards.source:q} {params.source:q}"
        " --sample-rate {params.sample_rate:q} --playback-rate {params.playback_rate:q}"
        " --peak-dbfs {params.peak_dbfs:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule transfer:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        # read by the command before it loads the networks: the sample rate and the prior's temperature
        config=str(GENRE.config_file),
        prior_report=str(GENRE.prior_report_file),
        sources=lambda wildcards: expand(
            "results/transfer/sources/{source}.wav",
            source=transfer_sources(wildcards.genre),
        ),
        code=command_code("transfer"),
    output:
        directory(str(GENRE.transfer_dir)),
    log:
        "results/logs/transfer/{genre}.log",
    benchmark:
        "results/benchmarks/transfer/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=transfer_mem_mb,
        runtime=transfer_runtime_min,
    params:
        genre_dir=genre_folder,
        strength=config["transfer"]["strength"],
        seed=config["seed"],
        playback_rate=config["audio"]["playback_rate"],
        peak_dbfs=config["audio"]["peak_dbfs"],
    shell:
        "python -m genrevae transfer {params.genre_dir:q} {input.sources:q} --out-dir {output:q}"
        " --strength {params.strength:q} --seed {params.seed:q} --playback-rate {params.playback_rate:q}"
        " --peak-dbfs {params.peak_dbfs:q} --threads {threads} --in-genre-folder > {log:q} 2>&1"
