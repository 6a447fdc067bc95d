#!/usr/bin/env bash
# The main job: the Devlin vs the Mosbach recipe on 500 CoLA examples with all-MiniLM-L6-v2
# (experiments/quickstart.toml), then the variance report with plots.
#   scripts/quickstart.sh [--data-dir DIR]     (or STAB_DATA_DIR; default ../shared/data)
# Results: results/quickstart/ (runs), results/quickstart/report/ (report.md, report.html, plots/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
data="${STAB_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}"
if [ "${1:-}" = "--data-dir" ]; then data="$2"; shift 2; fi
bash scripts/setup.sh >/dev/null
cargo build --release -p stab
./target/release/stab sweep experiments/quickstart.toml --data-dir "$data" "$@"
./target/release/stab report results/quickstart
