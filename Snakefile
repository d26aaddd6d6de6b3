# genrevae: one waveform VAE per music genre, from raw audio to generated music.
# The rules live in workflow/rules/; the logic lives in the genrevae package (src/genrevae).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    genre=r"[^/]+",
    source=r"[^/]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/transfer.smk"


rule all:
    default_target: True
    input:
        all_targets(),
