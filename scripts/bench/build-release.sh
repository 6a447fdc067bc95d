#!/usr/bin/env bash
# Build the release `stab` binary used by the benchmarks; prints its path.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p stab >&2
echo "$(pwd)/target/release/stab"
