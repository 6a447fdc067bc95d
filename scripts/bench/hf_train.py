"""HF Transformers side of scripts/bench/train_throughput.sh (run one mode per process so that
ru_maxrss is that mode's own peak).

  hf_train.py train --model DIR --data DIR/RTE --mode padded|dynamic --steps 40 --warmup 3
  hf_train.py peak  --threads 2          # fp32 matmul GFLOP/s (2048x2048)
  hf_train.py lengths --model DIR --data DIR/RTE   # token-length stats of RTE train

Training loop = HF Trainer's inner step, PyTorch eager (no torch.compile): collate, forward
(BertForSequenceClassification, train mode, dropout on), loss.backward(), loss.item(),
clip_grad_norm_(1.0), torch.optim.AdamW(lr 2e-5, wd 0.01 on non-bias/LayerNorm, eps 1e-6),
linear warmup schedule (10 %), zero_grad. The timed window covers exactly that per step,
like stab's `timing.train_*` (no evaluation, no model loading, no tokenisation of the set).
"""
import argparse, json, os, random, resource, sys, time


def read_rte(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            c = line.rstrip("\n").split("\t")
            if len(c) < 4:
                continue
            rows.append((c[1], c[2], 1 if c[3] == "not_entailment" else 0))
    return rows


def cmd_peak(a):
    import torch
    torch.set_num_threads(a.threads)
    n = 2048
    x = torch.randn(n, n); y = torch.randn(n, n)
    for _ in range(3):
        torch.matmul(x, y)
    best = float("inf")
    reps = []
    for _ in range(a.reps):
        t = time.perf_counter(); torch.matmul(x, y); dt = time.perf_counter() - t
        reps.append(dt); best = min(best, dt)
    reps.sort()
    print(json.dumps({"n": n, "threads": a.threads, "best_s": best, "median_s": reps[len(reps) // 2],
                      "gflops_best": 2 * n**3 / best / 1e9,
                      "gflops_median": 2 * n**3 / reps[len(reps) // 2] / 1e9,
                      "torch": torch.__version__}))


def cmd_lengths(a):
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast.from_pretrained(a.model)
    rows = read_rte(os.path.join(a.data, "train.tsv"))
    enc = tok([r[0] for r in rows], [r[1] for r in rows], truncation=True, max_length=128)
    ls = [len(x) for x in enc["input_ids"]]
    print(json.dumps({"n": len(ls), "mean_len": sum(ls) / len(ls),
                      "mean_len_sq": sum(l * l for l in ls) / len(ls),
                      "frac_truncated": sum(l == 128 for l in ls) / len(ls)}))


def cmd_train(a):
    import torch
    from torch.nn.utils import clip_grad_norm_
    from transformers import (BertForSequenceClassification, BertTokenizerFast,
                              DataCollatorWithPadding, get_linear_schedule_with_warmup)
    from transformers.trainer_utils import set_seed

    torch.set_num_threads(a.threads)
    set_seed(a.seed)
    tok = BertTokenizerFast.from_pretrained(a.model)
    model = BertForSequenceClassification.from_pretrained(a.model, num_labels=2)
    model.train()

    rows = read_rte(os.path.join(a.data, "train.tsv"))
    n_needed = (a.steps + a.warmup) * a.batch
    rng = random.Random(a.seed)
    rng.shuffle(rows)
    rows = rows[:n_needed]
    padding = "max_length" if a.mode == "padded" else False
    enc = tok([r[0] for r in rows], [r[1] for r in rows], truncation=True,
              max_length=a.max_length, padding=padding)
    feats = [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
              "attention_mask": enc["attention_mask"][i], "labels": rows[i][2]}
             for i in range(len(rows))]
    collator = DataCollatorWithPadding(tok)  # pads to the batch's longest (no-op when padded)

    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=2e-5, eps=1e-6)
    total = a.steps + a.warmup
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * total), total)

    times, real_tok, exec_tok = [], [], []
    for s in range(total):
        batch_feats = feats[s * a.batch:(s + 1) * a.batch]
        t0 = time.perf_counter()
        batch = collator(batch_feats)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            out = model(**batch)
        loss = out.loss
        loss.backward()
        lv = loss.item()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step(); opt.zero_grad()
        times.append(time.perf_counter() - t0)
        real_tok.append(int(batch["attention_mask"].sum()))
        exec_tok.append(int(batch["input_ids"].numel()))
        if not (lv == lv):
            sys.exit("non-finite loss")
    w = a.warmup
    timed = sum(times[w:])
    ex = a.steps * a.batch
    print(json.dumps({
        "mode": a.mode, "bf16_autocast": a.bf16, "steps": a.steps, "warmup_steps_excluded": w, "batch": a.batch,
        "threads": a.threads, "train_seconds": timed,
        "examples_per_second": ex / timed,
        "real_tokens_per_second": sum(real_tok[w:]) / timed,
        "executed_tokens_per_second": sum(exec_tok[w:]) / timed,
        "mean_padded_len": sum(exec_tok[w:]) / ex,
        "mean_real_len": sum(real_tok[w:]) / ex,
        "examples_per_second_incl_first_steps": total * a.batch / sum(times),
        "first_step_seconds": times[0],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "torch": torch.__version__,
    }))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--model", required=True); t.add_argument("--data", required=True)
    t.add_argument("--mode", choices=["padded", "dynamic"], required=True)
    t.add_argument("--steps", type=int, default=40); t.add_argument("--warmup", type=int, default=3)
    t.add_argument("--batch", type=int, default=16); t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--threads", type=int, default=2); t.add_argument("--seed", type=int, default=1)
    t.add_argument("--bf16", action="store_true", help="torch.autocast('cpu', bfloat16) around the forward pass")
    k = sub.add_parser("peak"); k.add_argument("--threads", type=int, default=2); k.add_argument("--reps", type=int, default=10)
    l = sub.add_parser("lengths"); l.add_argument("--model", required=True); l.add_argument("--data", required=True)
    a = p.parse_args()
    {"train": cmd_train, "peak": cmd_peak, "lengths": cmd_lengths}[a.cmd](a)


if __name__ == "__main__":
    main()
