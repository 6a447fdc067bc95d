#!/usr/bin/env bash
# stab's GPU check, one prepared script for a GPU machine (no network needed; < 8 minutes on
# one H100/H200). Writes one JSON file of results (default: $OUT/gpu-check.json, else
# results/gpu-check.json):
#   - correctness: forward hidden states on the GPU (fp32) vs the CPU within 1e-4; a 200-step
#     bf16 fine-tune whose loss curve stays within 0.05 (20-step windows) of the fp32 one;
#   - throughput: runs/hour and examples/s for K = 1, 2, 4, 8 runs per GPU
#     (`stab sweep --gpus 0 --runs-per-gpu K`), for all-MiniLM-L6-v2 and BERT-base- and
#     BERT-large-shaped models, batch 16, RTE, bf16; peak GPU memory per run;
#   - the same run as a plain PyTorch + HF Transformers loop, one at a time, where python3 has
#     torch and transformers;
#   - the flat (multi-tensor) Adam against the per-tensor one, one run alone per model
#     (`stab run --adam-layout per-tensor|flat`): examples/s and optimizer ms per step.
# Prepare here with scripts/gpu-bundle.sh, carry .gpu-bundle, then on the GPU machine:
#   scripts/gpu-check.sh            (BUNDLE=.gpu-bundle; extra flags go to scripts/gpu/gpu_check.py)
# The binary runs against the machine's own torch 2.11 (python3's), found here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bundle="${BUNDLE:-$root/.gpu-bundle}"
out="${GPU_CHECK_OUT:-${OUT:-$root/results}/gpu-check.json}"
work="${GPU_CHECK_WORK:-$(mktemp -d)}"
py="${PYTHON:-python3}"
torch_lib="$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "gpu-check: LibTorch from $torch_lib; results to $out" >&2
"$bundle/stab" --version >&2
mkdir -p "$(dirname "$out")"
exec "$py" scripts/gpu/gpu_check.py --stab "$bundle/stab" --model "$bundle/minilm-bf16" \
  --data "$bundle/data" --out "$out" --work "$work" "$@"
