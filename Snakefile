# genrevae: one waveform VAE per music genre, from raw audio to generated music.
# The rules live in workflow/rules/; the logic lives in the genrevae package (src/genrevae).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
