#!/usr/bin/env bash
# Installs the Python reference implementations used only to *regenerate* golden test vectors
# (tests never need Python): HF Transformers, scikit-learn, scipy, seqeval, deepsig.
# Uses the LibTorch wheel from scripts/setup.sh as the `torch` Python package.
# Afterwards: PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 <script>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="$root/.deps/pyref"
pp="$ref:$root/.deps/torch"
if [ "${1:-}" = "--pythonpath" ]; then echo "$pp"; exit 0; fi
bash "$root/scripts/setup.sh" >/dev/null
if [ ! -e "$ref/.stab-complete" ]; then
  rm -rf "$ref"
  python3 -m pip install --quiet --disable-pip-version-check --target "$ref" \
    'transformers==4.57.*' 'scikit-learn==1.7.*' 'scipy==1.16.*' seqeval==1.2.2 'numpy<2.4' \
    sympy filelock fsspec typing_extensions
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ref" deepsig==1.2.8
  touch "$ref/.stab-complete"
fi
echo "$pp"
