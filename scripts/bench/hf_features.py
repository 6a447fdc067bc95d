"""HF side of scripts/bench/features_rte.sh: BertModel eval forward over RTE dev pairs,
sorted by length, batch 32, N threads; [CLS] and mean pooling of the last layer, written to a
safetensors file, like `stab features`. Two timings: end-to-end from reading the TSV to the
written file (what `stab features` reports; Python imports excluded) and forward-only.

  hf_features.py --model DIR --tsv glue/RTE/dev.tsv --threads 2 --batch 32 --out /tmp/x.safetensors
"""
import argparse, json, resource, time

p = argparse.ArgumentParser()
p.add_argument("--model", required=True); p.add_argument("--tsv", required=True)
p.add_argument("--threads", type=int, default=2); p.add_argument("--batch", type=int, default=32)
p.add_argument("--out", required=True)
a = p.parse_args()

import torch
from safetensors.torch import save_file
from transformers import BertModel, BertTokenizerFast

torch.set_num_threads(a.threads)
t0 = time.perf_counter()
pairs = []
with open(a.tsv, encoding="utf-8") as f:
    f.readline()
    for line in f:
        c = line.rstrip("\n").split("\t")
        if len(c) >= 3:
            pairs.append((c[1], c[2]))
tok = BertTokenizerFast.from_pretrained(a.model)
model = BertModel.from_pretrained(a.model, add_pooling_layer=False).eval()
enc = tok([x for x, _ in pairs], [y for _, y in pairs], truncation=True, max_length=128)
n = len(pairs)
order = sorted(range(n), key=lambda i: len(enc["input_ids"][i]))
h = model.config.hidden_size
cls = torch.zeros(n, h); mean = torch.zeros(n, h)
fwd = 0.0
with torch.inference_mode():
    for s in range(0, n, a.batch):
        idx = order[s:s + a.batch]
        batch = tok.pad({k: [enc[k][i] for i in idx] for k in ("input_ids", "token_type_ids", "attention_mask")},
                        return_tensors="pt")
        tf = time.perf_counter()
        hs = model(**batch).last_hidden_state
        fwd += time.perf_counter() - tf
        m = batch["attention_mask"].unsqueeze(-1).to(hs.dtype)
        it = torch.tensor(idx)
        cls[it] = hs[:, 0]
        mean[it] = (hs * m).sum(1) / m.sum(1)
save_file({"cls.-1": cls.contiguous(), "mean.-1": mean.contiguous()}, a.out)
total = time.perf_counter() - t0
print(json.dumps({"examples": n, "seconds_end_to_end": total, "examples_per_second": n / total,
                  "forward_seconds": fwd, "examples_per_second_forward_only": n / fwd,
                  "threads": a.threads, "batch": a.batch,
                  "attn_implementation": getattr(model.config, "_attn_implementation", None),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
