#!/usr/bin/env bash
# The test command: installs what the tests need (LibTorch, the model; Slurm where we are root
# and apt works) and runs the whole workspace's tests. Tests read GLUE/CoNLL from
# $STAB_DATA_DIR (default: ../shared/data beside the checkout).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export STAB_DATA_DIR="${STAB_DATA_DIR:-$(cd "$root/.." && pwd)/shared/data}"
bash scripts/setup.sh >/dev/null
# The Slurm launcher test runs against a real single-node Slurm (Debian packages).
if ! command -v sbatch >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test: installing Slurm (slurmctld slurmd slurm-client) for the launcher test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge) >/dev/null 2>&1 || echo "test: Slurm install failed" >&2
fi
if command -v sbatch >/dev/null 2>&1; then export STAB_TEST_SLURM=1; fi
# Unit, integration and doc tests (benchmarks are run by their own scripts, not here).
cargo test --workspace "$@"
