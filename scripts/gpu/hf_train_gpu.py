#!/usr/bin/env python3
"""The baseline for scripts/gpu-check.sh: one fine-tuning run as users write it today.

Plain PyTorch + HF Transformers: BertForSequenceClassification built from the checkpoint's
config.json (random weights: throughput does not depend on them), RTE train shuffled with a
fixed seed, batch 16, dynamic padding, max length 128, torch.optim.AdamW (lr 2e-5, wd 0.01,
eps 1e-6, its default foreach implementation), linear warmup 10 % and decay, gradient clipping
1.0, bf16 autocast on request, one evaluation on dev at the end. Prints one JSON line:
train examples/s (steps after the first 5, synchronised), steps, dev accuracy, peak memory.
"""

import argparse
import json
import random
import time


def read_tsv(path):
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in lines[1:] if line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with train.tsv and dev.tsv (RTE)")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(f"{a.model}/config.json") as f:
        c = json.load(f)
    config = BertConfig(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
        num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
        intermediate_size=c["intermediate_size"],
        max_position_embeddings=c.get("max_position_embeddings", 512),
        type_vocab_size=c.get("type_vocab_size", 2), layer_norm_eps=c.get("layer_norm_eps", 1e-12),
        num_labels=2)
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{a.model}/tokenizer.json")
    tok.pad_token = "[PAD]"  # padding/truncation built into tokenizer.json are overridden per call
    dev = torch.device(a.device)
    model = BertForSequenceClassification(config).to(dev)
    labels = {"entailment": 0, "not_entailment": 1}

    def encode(rows):
        enc = tok([r["sentence1"] for r in rows], [r["sentence2"] for r in rows],
                  truncation="longest_first", max_length=128, padding="longest",
                  return_tensors="pt")
        y = torch.tensor([labels[r["label"]] for r in rows])
        return {k: v.to(dev) for k, v in enc.items()}, y.to(dev)

    train = read_tsv(f"{a.data}/train.tsv")
    dev_rows = read_tsv(f"{a.data}/dev.tsv")
    rng = random.Random(a.seed)
    order = []
    while len(order) < a.steps * 16:
        idx = list(range(len(train)))
        rng.shuffle(idx)
        order += idx
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01, eps=1e-6)
    warm = int(0.1 * a.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(1, warm) if s < warm else max(0.0, (a.steps - s) / max(1, a.steps - warm)))
    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model.train()
    timed_from, t0, losses = 5, None, []
    for step in range(a.steps):
        if step == timed_from:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.time()
        batch = [train[i] for i in order[step * 16:(step + 1) * 16]]
        x, y = encode(batch)
        with amp:
            out = model(**x, labels=y)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(out.loss.item())
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.time() - t0
    model.eval()
    correct = 0
    with torch.no_grad(), amp:
        for i in range(0, len(dev_rows), 64):
            x, y = encode(dev_rows[i:i + 64])
            correct += int((model(**x).logits.argmax(-1) == y).sum())
    print(json.dumps({
        "steps": a.steps, "precision": a.precision,
        "train_examples_per_s": round((a.steps - timed_from) * 16 / train_s, 1),
        "final_loss": losses[-1], "dev_accuracy": correct / len(dev_rows),
        "peak_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20) if dev.type == "cuda" else None,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
