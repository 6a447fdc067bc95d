#!/usr/bin/env bash
# The main job: the Devlin vs the Mosbach recipe on 500 CoLA examples with all-MiniLM-L6-v2
# (experiments/quickstart.toml), then the variance report with plots.
#   scripts/quickstart.sh [--data-dir DIR]
# Data: DIR, else $STAB_DATA_DIR, else ../shared/data, else data/ — fetched there from the
# Hugging Face Hub (`stab data fetch glue --tasks CoLA`) when missing (scripts/quickstart-data.sh).
# Results: results/quickstart/ (runs), results/quickstart/report/ (report.md, report.html, plots/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data=""
if [ "${1:-}" = "--data-dir" ]; then data="$2"; shift 2; fi
bash scripts/setup.sh >/dev/null
stab="${CARGO_TARGET_DIR:-$root/target}/release/stab"
if [ -z "$data" ] && ! data="$(bash scripts/quickstart-data.sh --find)"; then
  data=""
fi
if [ -n "$data" ]; then
  # The data is on disk and the model in .deps/: no Hub client needed. Leaving it out
  # (hf-hub, ureq, rustls, parquet) shortens a cold build (README: the quickstart's budget).
  cargo build --release -p stab --no-default-features
else
  cargo build --release -p stab
  data="$(STAB="$stab" bash scripts/quickstart-data.sh)"
fi
"$stab" sweep experiments/quickstart.toml --data-dir "$data" "$@"
"$stab" report results/quickstart
