#!/usr/bin/env bash
# Installs the Python reference implementations used only to *regenerate* golden test vectors
# (tests never need Python): HF Transformers, scikit-learn, scipy, seqeval, deepsig.
# PyPI's Linux torch wheel is the CUDA build, whose Python module needs the nvidia-* libraries
# even on a CPU, so the Python side gets its own full torch install (.deps/pyref-torch, ~4 GB).
# Afterwards: PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 <script>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="$root/.deps/pyref"
pp="$ref:$root/.deps/pyref-torch"
if [ "${1:-}" = "--pythonpath" ]; then echo "$pp"; exit 0; fi
if [ ! -e "$root/.deps/pyref-torch/.stab-complete" ]; then
  rm -rf "$root/.deps/pyref-torch"
  python3 -m pip install --quiet --disable-pip-version-check --target "$root/.deps/pyref-torch" torch==2.11.0
  touch "$root/.deps/pyref-torch/.stab-complete"
fi
if [ ! -e "$ref/.stab-complete" ]; then
  rm -rf "$ref"
  python3 -m pip install --quiet --disable-pip-version-check --target "$ref" \
    'transformers==4.57.*' 'scikit-learn==1.7.*' 'scipy==1.16.*' seqeval==1.2.2 'numpy<2.4' \
    sympy filelock fsspec typing_extensions
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ref" deepsig==1.2.8
  touch "$ref/.stab-complete"
fi
echo "$pp"
