# The render half: figures, generation quality and WAVs per genre, then the cross-genre
# fidelity table and the listening page. `snakemake results/<genre>/generated` builds every
# per-genre artifact; nothing per genre depends on the cross-genre rules.

from genrevae.figure_list import FIGURES


rule figures:
    input:
        model="results/{genre}/model/model.keras",
        prior="results/{genre}/prior/prior.keras",
        history="results/{genre}/model/history.csv",
        epoch_samples="results/{genre}/model/epoch_samples.npy",
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("figures"),
    output:
        # one output per figure of genrevae.figure_list.FIGURES (key, file, report caption <stem>.rst)
        **{
            figure.key: report(
                f"results/{{genre}}/figures/{figure.file}",
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
        out_dir=lambda wildcards, output: Path(output.grid).parent,
        settings=model_settings("seed", "sample_rate", "figures", "prior"),
    shell:
        "python -m genrevae figures --genre {wildcards.genre:q} --model {input.model:q} --prior {input.prior:q}"
        " --history {input.history:q} --epoch-samples {input.epoch_samples:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule quality:
    input:
        model="results/{genre}/model/model.keras",
        prior="results/{genre}/prior/prior.keras",
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("quality"),
    output:
        report(
            "results/{genre}/generation_quality.json",
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
        settings=model_settings("seed", "sample_rate", "features", "quality", "prior"),
    shell:
        "python -m genrevae quality --genre {wildcards.genre:q} --model {input.model:q} --prior {input.prior:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule judge:
    input:
        model="results/{genre}/model/model.keras",
        prior="results/{genre}/prior/prior.keras",
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        code=command_code("judge"),
    output:
        report(
            "results/{genre}/judge.json",
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
        settings=model_settings("seed", "sample_rate", "quality", "prior", "judge"),
    shell:
        "python -m genrevae judge --genre {wildcards.genre:q} --model {input.model:q} --prior {input.prior:q}"
        " --shard {input.shard:q} --split {input.split:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule export:
    input:
        model="results/{genre}/model/model.keras",
        prior="results/{genre}/prior/prior.keras",
        shard="results/{genre}/data/clips.npy",
        split="results/{genre}/data/split.csv",
        # Not read: they make `snakemake results/<genre>/generated` build the genre's full set.
        # ancient(): re-drawing a figure or re-measuring must not re-export the WAVs. Every
        # module the export shares with them is also the prior's code, so an edit that changes
        # the export's code re-runs the prior and re-exports through prior.keras.
        metrics=ancient("results/{genre}/metrics.json"),
        quality=ancient("results/{genre}/generation_quality.json"),
        judge=ancient("results/{genre}/judge.json"),
        figures=[ancient(str(path)) for path in rules.figures.output],
        code=command_code("export"),
    output:
        directory("results/{genre}/generated"),
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
        settings=model_settings("seed", "sample_rate", "export", "audio", "prior"),
    shell:
        "python -m genrevae export --model {input.model:q} --prior {input.prior:q} --shard {input.shard:q}"
        " --split {input.split:q} --settings {params.settings:q} --threads {threads}"
        " --out-dir {output:q} > {log:q} 2>&1"


rule fidelity:
    input:
        models=expand("results/{genre}/model/model.keras", genre=GENRES),
        priors=expand("results/{genre}/prior/prior.keras", genre=GENRES),
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
        settings=model_settings("seed", "sample_rate", "features", "fidelity", "prior"),
    shell:
        "python -m genrevae fidelity --genre {params.genres:q} --model {input.models:q} --prior {input.priors:q}"
        " --shard {input.shards:q} --split {input.splits:q} --settings {params.settings:q}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule page:
    input:
        generated=expand("results/{genre}/generated", genre=GENRES),
        metrics=expand("results/{genre}/metrics.json", genre=GENRES),
        quality=expand("results/{genre}/generation_quality.json", genre=GENRES),
        judge=expand("results/{genre}/judge.json", genre=GENRES),
        figures=expand(rules.figures.output, genre=GENRES),
        fidelity="results/genre_fidelity.csv",
        transfers=transfer_targets(),
        transfer_sources=expand(
            "results/transfer/sources/{source}.json", source=transfer_sources()
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
