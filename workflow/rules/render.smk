# The render half: figures, generation quality and WAVs per genre, then the cross-genre
# fidelity table and the listening page. `snakemake results/<genre>/generated` builds every
# per-genre artifact; nothing per genre depends on the cross-genre rules.

from genrevae.figure_list import FIGURES


rule figures:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        history=str(GENRE.history_file),
        epoch_samples=str(GENRE.epoch_samples_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("figures"),
    output:
        # one output per figure of genrevae.figure_list.FIGURES (key, file, report caption <stem>.rst)
        **{
            figure.key: report(
                str(GENRE.figure_file(figure.file)),
                caption=f"../report/{figure.report_caption}",
                category="{genre}",
                subcategory="Figures",
                labels={"genre": "{genre}", "figure": figure.file},
            )
            for figure in FIGURES
        },
    log:
        "results/logs/figures/{genre}.log",
    benchmark:
        "results/benchmarks/figures/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=figures_mem_mb,
        runtime=figures_runtime_min,
    params:
        # the stage reads the inputs above and writes the outputs through the genre folder
        genre_dir=genre_folder,
        settings=stage_settings("figures"),
    shell:
        "python -m genrevae figures --genre {wildcards.genre:q} --genre-dir {params.genre_dir:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} > {log:q} 2>&1"


rule quality:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("quality"),
    output:
        report(
            str(GENRE.quality_file),
            caption="../report/generation_quality.rst",
            category="{genre}",
            subcategory="Generation quality",
            labels={
                "genre": "{genre}",
                "measure": "Frechet distances: MFCC, segments, notes",
            },
        ),
    log:
        "results/logs/quality/{genre}.log",
    benchmark:
        "results/benchmarks/quality/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=quality_mem_mb,
        runtime=quality_runtime_min,
    params:
        # the stage opens the model and prior above through the genre folder
        genre_dir=genre_folder,
        settings=stage_settings("quality"),
    shell:
        "python -m genrevae quality --genre {wildcards.genre:q} --genre-dir {params.genre_dir:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule judge:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("judge"),
    output:
        report(
            str(GENRE.judge_file),
            caption="../report/judge.rst",
            category="{genre}",
            subcategory="Generation quality",
            labels={"genre": "{genre}", "measure": "musicnn judge"},
        ),
    log:
        "results/logs/judge/{genre}.log",
    benchmark:
        "results/benchmarks/judge/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=judge_mem_mb,
        runtime=judge_runtime_min,
    params:
        # the stage opens the model and prior above through the genre folder
        genre_dir=genre_folder,
        settings=stage_settings("judge"),
    shell:
        "python -m genrevae judge --genre {wildcards.genre:q} --genre-dir {params.genre_dir:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule export:
    input:
        model=str(GENRE.model_file),
        prior=str(GENRE.prior_file),
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        # Not read: they make `snakemake results/<genre>/generated` build the genre's full set.
        # ancient(): re-drawing a figure or re-measuring must not re-export the WAVs. Every
        # module the export shares with them is also the prior's code, so an edit that changes
        # the export's code re-runs the prior and re-exports through prior.keras.
        metrics=ancient(str(GENRE.metrics_file)),
        quality=ancient(str(GENRE.quality_file)),
        judge=ancient(str(GENRE.judge_file)),
        figures=[ancient(str(path)) for path in rules.figures.output],
        code=command_code("export"),
    output:
        directory(str(GENRE.generated_dir)),
    log:
        "results/logs/export/{genre}.log",
    benchmark:
        "results/benchmarks/export/{genre}.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=export_mem_mb,
        runtime=export_runtime_min,
    params:
        # the stage opens the model and prior above through the genre folder
        genre_dir=genre_folder,
        settings=stage_settings("export"),
    shell:
        "python -m genrevae export --genre-dir {params.genre_dir:q} --shard {input.shard:q}"
        " --split {input.split:q} --settings {params.settings:q} --threads {threads}"
        " --out-dir {output:q} > {log:q} 2>&1"


rule fidelity:
    input:
        models=expand(str(GENRE.model_file), genre=GENRES),
        priors=expand(str(GENRE.prior_file), genre=GENRES),
        shards=expand("results/{genre}/data/clips.npy", genre=GENRES),
        splits=expand("results/{genre}/data/split.csv", genre=GENRES),
        code=command_code("fidelity"),
    output:
        report(
            "results/genre_fidelity.csv",
            caption="../report/genre_fidelity.rst",
            category="Across genres",
            labels={"table": "genre fidelity"},
        ),
    log:
        "results/logs/fidelity/all.log",
    benchmark:
        "results/benchmarks/fidelity/all.tsv"
    retries: 1
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=fidelity_mem_mb,
        runtime=fidelity_runtime_min,
    params:
        genres=GENRES,
        # one folder per genre, in the order of --genre: the stage opens each one's model and prior above
        genre_dirs=expand(str(GENRE.path), genre=GENRES),
        settings=stage_settings("fidelity"),
    shell:
        "python -m genrevae fidelity --genre {params.genres:q} --genre-dir {params.genre_dirs:q}"
        " --shard {input.shards:q} --split {input.splits:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule page:
    input:
        generated=expand(str(GENRE.generated_dir), genre=GENRES),
        metrics=expand(str(GENRE.metrics_file), genre=GENRES),
        quality=expand(str(GENRE.quality_file), genre=GENRES),
        judge=expand(str(GENRE.judge_file), genre=GENRES),
        # the learned-prior table
        prior_reports=expand(str(GENRE.prior_report_file), genre=GENRES),
        figures=expand(rules.figures.output, genre=GENRES),
        fidelity="results/genre_fidelity.csv",
        transfers=transfer_targets(),
        transfer_sources=expand(
            "results/transfer/sources/{source}.json", source=transfer_sources()
        ),
        # the originals' thumbnails and players
        transfer_source_clips=expand(
            [
                "results/transfer/sources/{source}.wav",
                "results/transfer/sources/playback/{source}.wav",
            ],
            source=transfer_sources(),
        ),
        code=command_code("page"),
    output:
        page="results/index.html",
        thumbnails=directory("results/thumbnails"),
        report=report(
            "results/listening_report.html",
            caption="../report/listening_page.rst",
            category="Across genres",
            labels={"table": "listening page"},
        ),
    log:
        "results/logs/page/all.log",
    benchmark:
        "results/benchmarks/page/all.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=light_mem_mb,
        runtime=page_runtime_min,
    params:
        results_dir=lambda wildcards, output: Path(output.page).parent,
        genres=GENRES,
        transfer_sources=transfer_sources(),
    shell:
        "python -m genrevae page --results-dir {params.results_dir:q} --genre {params.genres:q}"
        " --fidelity {input.fidelity:q} --out {output.page:q} --out-report {output.report:q}"
        " --transfer-source {params.transfer_sources:q}"
        " --thumbnails-dir {output.thumbnails:q} > {log:q} 2>&1"
