"""HF side of scripts/bench/tokenize_sst2.sh: read SST-2 train (split on TAB, skip header) and
batch-encode every sentence in one call with BertTokenizerFast (truncation, max_length 128).
Threads: RAYON_NUM_THREADS with TOKENIZERS_PARALLELISM=true, set by the caller.

  hf_tokenize.py <tsv> <model_dir> [reps]
"""
import json, os, sys, time

tsv, model = sys.argv[1], sys.argv[2]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
t0 = time.perf_counter()
with open(tsv, encoding="utf-8") as f:
    f.readline()
    rows = [line.rstrip("\n").split("\t")[0] for line in f if line.strip()]
read_s = time.perf_counter() - t0
from transformers import BertTokenizerFast
t1 = time.perf_counter()
tok = BertTokenizerFast.from_pretrained(model)
load_s = time.perf_counter() - t1
times = []
for _ in range(reps):
    t = time.perf_counter()
    enc = tok(rows, truncation=True, max_length=128)
    times.append(time.perf_counter() - t)
tokens = sum(len(x) for x in enc["input_ids"])
times.sort()
best = times[0]
print(json.dumps({"rows": len(rows), "tokens": tokens, "read_s": read_s, "tokenizer_load_s": load_s,
                  "encode_best_s": best, "encode_median_s": times[len(times) // 2],
                  "rows_per_s": len(rows) / best, "rows_per_s_incl_read": len(rows) / (best + read_s),
                  "rayon_threads": os.environ.get("RAYON_NUM_THREADS"),
                  "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM")}))
