# Sourced by the benchmarks: `bench_data_dir TASK` prints the data folder holding glue/TASK:
# $DATA_DIR, else $STAB_DATA_DIR, else ../shared/data beside the checkout, else data/ (where
# `stab data fetch glue` writes); otherwise it says how to get the task and fails.
bench_data_dir() {
  local task="$1" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  for d in "${DATA_DIR:-}" "${STAB_DATA_DIR:-}" "$root/../shared/data" "$root/data"; do
    if [ -n "$d" ] && [ -d "$d/glue/$task" ]; then
      (cd "$d" && pwd)
      return 0
    fi
  done
  echo "no glue/$task in \$DATA_DIR, \$STAB_DATA_DIR, ../shared/data or data/: run \`stab data fetch glue --tasks $task --dir data\` (or set DATA_DIR)" >&2
  return 1
}
