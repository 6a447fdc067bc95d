#!/usr/bin/env python3
"""stab's GPU check: correctness and throughput of `stab` on one GPU, written to one JSON file.

Run through `scripts/gpu-check.sh` (which finds the GPU machine's LibTorch); see its header.
Every step is timed and guarded: a failing step is recorded with its error and the check goes
on, and steps that would overrun the time budget are recorded as skipped, so one call always
yields a complete JSON file.

Steps
  1. parity    forward hidden states (every layer, every token) on the GPU in fp32 against
               the CPU, same checkpoint and inputs: max |difference| <= 1e-4.
  2. bf16      a 200-step fine-tune (RTE, batch 16, seeds fixed) in bf16 autocast and in fp32
               on the GPU; the training-loss curves, averaged over windows of 20 steps, must
               stay within 0.05 of each other (the stated tolerance), and the final dev
               accuracies are reported side by side.
  3. throughput `stab sweep --gpus 0 --runs-per-gpu K` for K = 1, 2, 4, 8 (K runs of S steps
               at once on the one GPU), for all-MiniLM-L6-v2 and randomly initialised
               BERT-base- and BERT-large-shaped models (`stab init-model`), bf16, batch 16,
               RTE lengths: runs/hour (whole processes, start-up included), train examples/s
               per run and summed over the K runs, peak GPU memory per run (nvidia-smi).
  4. hf        the same run as a plain PyTorch + HF Transformers loop
               (scripts/gpu/hf_train_gpu.py), one process at a time, as users run it today,
               when the machine's Python has torch and transformers.

`--device cpu` runs the same plumbing on a CPU (tiny settings) to test the script itself.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time

from hf_train_gpu import read_tsv  # the same GLUE TSV reading as the baseline

PARITY_TOL = 1e-4
CURVE_WINDOW = 20
CURVE_TOL = 0.05


def sh(cmd, **kw):
    """Runs a command, returns stdout; raises with the tail of stderr on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{tail}")
    return p.stdout


class GpuMemory:
    """Polls nvidia-smi for per-process GPU memory while alive; peak MiB per pid."""

    def __init__(self, enabled):
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.peak = {}
        self.total_peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        if self.enabled:
            self._t = threading.Thread(target=self._run, daemon=True)
            self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-compute-apps=pid,used_memory",
                     "--format=csv,noheader,nounits"],
                    capture_output=True, text=True, timeout=5).stdout
                for line in out.strip().splitlines():
                    pid, mib = [x.strip() for x in line.split(",")]
                    if mib.isdigit():
                        self.peak[pid] = max(self.peak.get(pid, 0), int(mib))
                tot = subprocess.run(
                    ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                    capture_output=True, text=True, timeout=5).stdout.strip().splitlines()
                if tot and tot[0].strip().isdigit():
                    self.total_peak = max(self.total_peak, int(tot[0].strip()))
            except Exception:  # noqa: BLE001 - polling is best effort
                pass
            self._stop.wait(0.25)

    def __exit__(self, *exc):
        self._stop.set()
        if self.enabled:
            self._t.join(timeout=10)

    def per_run_mib(self):
        return max(self.peak.values()) if self.peak else None


class Check:
    def __init__(self, a):
        self.a = a
        self.t0 = time.time()
        self.cuda = a.device == "cuda"
        self.work = os.path.abspath(a.work)
        os.makedirs(self.work, exist_ok=True)
        self.result = {
            "what": "stab scripts/gpu-check.sh",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "device": a.device,
            "settings": {"steps": a.steps, "ks": a.ks, "models": a.models, "batch_size": 16,
                         "task": "RTE", "budget_s": a.budget_s},
            "machine": self.machine(),
            "steps_run": [],
            "skipped": [],
            "errors": [],
        }

    # -- bookkeeping -------------------------------------------------------------------------
    def left(self):
        return self.a.budget_s - (time.time() - self.t0)

    def save(self):
        self.result["elapsed_s"] = round(time.time() - self.t0, 1)
        tmp = self.a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.result, f, indent=1)
        os.replace(tmp, self.a.out)

    def step(self, name, fn, need_s=0):
        if any(name.startswith(s) for s in self.a.skip):
            self.result["skipped"].append(f"{name}: --skip")
            return None
        if self.left() < need_s:
            self.result["skipped"].append(f"{name}: {self.left():.0f} s left, needs ~{need_s:.0f} s")
            print(f"[gpu-check] skip {name}", file=sys.stderr)
            return None
        print(f"[gpu-check] {name} ({self.left():.0f} s left)", file=sys.stderr, flush=True)
        t = time.time()
        try:
            out = fn()
            self.result["steps_run"].append({"step": name, "seconds": round(time.time() - t, 1)})
            return out
        except Exception as e:  # noqa: BLE001 - record and go on
            self.result["errors"].append({"step": name, "error": str(e)[-3000:]})
            print(f"[gpu-check] {name} failed: {e}", file=sys.stderr)
            return None
        finally:
            self.save()

    def machine(self):
        m = {"python": platform.python_version(), "platform": platform.platform()}
        try:
            m["stab"] = sh([self.a.stab, "--version"]).strip()
        except Exception as e:  # noqa: BLE001
            m["stab"] = f"error: {e}"
        try:
            import torch  # noqa: PLC0415
            m["torch"] = torch.__version__
            if torch.cuda.is_available():
                m["gpu"] = torch.cuda.get_device_name(0)
                m["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        except Exception as e:  # noqa: BLE001
            m["torch"] = f"not importable: {e}"
        try:
            import transformers  # noqa: PLC0415
            m["transformers"] = transformers.__version__
        except Exception as e:  # noqa: BLE001
            m["transformers"] = f"not importable: {e}"
        if shutil.which("nvidia-smi"):
            m["nvidia_smi"] = sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"]).strip()
        m["cpus"] = os.cpu_count()
        return m

    def data(self):
        return os.path.abspath(self.a.data)

    # -- 1. parity ---------------------------------------------------------------------------
    def parity(self):
        import torch  # noqa: PLC0415
        from safetensors.torch import load_file  # noqa: PLC0415

        rows = read_tsv(os.path.join(self.data(), "glue", "RTE", "dev.tsv"))[: self.a.parity_n]
        inp = os.path.join(self.work, "parity.jsonl")
        with open(inp, "w") as f:
            for r in rows:
                f.write(json.dumps({"text": r["sentence1"], "text_b": r["sentence2"]}) + "\n")
        layers = ",".join(str(i) for i in range(self.num_layers(self.a.model) + 1))
        outs = {}
        for dev in ["cpu", self.a.device]:
            o = os.path.join(self.work, f"features-{dev}.safetensors")
            sh([self.a.stab, "features", "--model", self.a.model, "--input", inp, "--layers",
                layers, "--tokens", "--device", dev, "--threads", str(self.a.threads), "-o", o])
            outs[dev] = load_file(o)
        a, b = outs["cpu"], outs[self.a.device]
        per = {}
        for k in sorted(a):
            per[k] = float((a[k].double() - b[k].double()).abs().max())
        worst = max(per.values())
        self.result["parity"] = {
            "examples": len(rows), "arrays": len(per), "max_abs_diff": worst,
            "max_abs_diff_per_array": per, "tolerance": PARITY_TOL, "pass": worst <= PARITY_TOL,
            "note": "stab features, fp32, CPU vs " + self.a.device + ": [CLS], mean and every "
                    "token's hidden state of every layer (0 = embeddings)",
        }
        del torch

    def num_layers(self, model):
        with open(os.path.join(model, "config.json")) as f:
            return int(json.load(f)["num_hidden_layers"])

    # -- 2. bf16 vs fp32 ---------------------------------------------------------------------
    def run_one(self, out, sets):
        cmd = [self.a.stab, "run", "--quiet", "--preset", "mosbach", "--model", self.a.model,
               "--task", "RTE", "--data-dir", self.data(), "--threads", str(self.a.threads),
               "--out", out]
        for s in sets:
            cmd += ["--set", s]
        sh(cmd)
        with open(os.path.join(out, "record.json")) as f:
            return json.load(f)

    def bf16_curve(self):
        steps = self.a.curve_steps
        common = [f"device={self.a.device}", f"max_steps={steps}", f"eval_every_steps={steps}",
                  "max_curve_points=100000"]
        rec = {}
        for p in ["fp32", "bf16"]:
            rec[p] = self.run_one(os.path.join(self.work, f"curve-{p}"), common + [f"precision={p}"])
        curves = {p: rec[p]["train_loss"]["values"] for p in rec}
        n = min(len(c) for c in curves.values())
        windows = []
        for s in range(0, n, CURVE_WINDOW):
            w = {p: sum(curves[p][s:s + CURVE_WINDOW]) / len(curves[p][s:s + CURVE_WINDOW]) for p in curves}
            windows.append({"steps": f"{s + 1}-{min(s + CURVE_WINDOW, n)}", "fp32": w["fp32"],
                            "bf16": w["bf16"], "diff": abs(w["fp32"] - w["bf16"])})
        worst = max(w["diff"] for w in windows)
        self.result["bf16_curve"] = {
            "steps": n, "window": CURVE_WINDOW, "tolerance": CURVE_TOL,
            "max_window_diff": worst, "pass": worst <= CURVE_TOL, "windows": windows,
            "dev_accuracy": {p: rec[p].get("final_score") for p in rec},
            "precision_recorded": {p: rec[p]["versions"].get("precision") for p in rec},
            "train_examples_per_s": {p: rec[p]["timing"]["train_examples_per_second"] for p in rec},
        }

    # -- 3. throughput -----------------------------------------------------------------------
    def model_dir(self, name):
        if name == "minilm":
            return self.a.model
        shapes = {"bert-base": (768, 12, 12, 3072), "bert-large": (1024, 24, 16, 4096),
                  "tiny": (64, 2, 4, 256)}
        h, layers, heads, inter = shapes[name]
        d = os.path.join(self.work, "models", name)
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            sh([self.a.stab, "init-model", "--tokenizer-from", self.a.model, "--out", d,
                "--hidden", str(h), "--layers", str(layers), "--heads", str(heads),
                "--intermediate", str(inter)])
        return d

    def sweep_file(self, name, model, k, steps):
        path = os.path.join(self.work, f"tp-{name}-k{k}.toml")
        with open(path, "w") as f:
            f.write(f'name = "tp-{name}-k{k}"\n[base]\npreset = "mosbach"\ntask = "RTE"\n'
                    f'model = "{model}"\ndevice = "{self.a.device}"\n'
                    f'precision = "{self.a.precision}"\nmax_steps = {steps}\n'
                    f'eval_every_steps = {steps}\nthreads = {self.a.threads}\n'
                    f'[axes]\nseed = {{ start = 0, end = {k} }}\n')
        return path

    def throughput(self, name, k):
        model = self.model_dir(name)
        steps = self.a.steps
        sweep = self.sweep_file(name, model, k, steps)
        results = os.path.join(self.work, "sweeps")
        shutil.rmtree(os.path.join(results, f"tp-{name}-k{k}"), ignore_errors=True)
        cmd = [self.a.stab, "sweep", sweep, "--results", results, "--data-dir", self.data(),
               "--quiet"]
        cmd += ["--gpus", "0", "--runs-per-gpu", str(k)] if self.cuda else ["--workers", str(k)]
        t = time.time()
        with GpuMemory(self.cuda) as mem:
            sh(cmd)
        wall = time.time() - t
        runs_dir = os.path.join(results, f"tp-{name}-k{k}", "runs")
        recs = []
        for rid in sorted(os.listdir(runs_dir)):
            with open(os.path.join(runs_dir, rid, "record.json")) as f:
                recs.append(json.load(f))
        eps = [r["timing"]["train_examples_per_second"] for r in recs]
        row = {
            "model": name, "k": k, "steps_per_run": steps, "runs": len(recs),
            "statuses": sorted({r["status"] for r in recs}),
            "gpus_recorded": sorted({str(r["versions"].get("gpu")) for r in recs}),
            "precision": recs[0]["versions"].get("precision") if recs else None,
            "wall_s": round(wall, 2),
            "runs_per_hour": round(len(recs) / wall * 3600, 1),
            "train_examples_per_s_per_run": [round(x, 1) for x in eps],
            "train_examples_per_s_sum": round(sum(eps), 1),
            "train_seconds_per_run": [round(r["timing"]["train_seconds"], 2) for r in recs],
            "run_wall_seconds": [round(r["timing"]["wall_seconds"], 2) for r in recs],
            "peak_gpu_mib_per_run": mem.per_run_mib(),
            "peak_gpu_mib_total": mem.total_peak or None,
        }
        self.result.setdefault("throughput", []).append(row)
        return row

    # -- 4. the flat (multi-tensor) Adam against the per-tensor one, one run alone -----------
    def adam_layouts(self, name):
        model = self.model_dir(name)
        steps = self.a.steps
        row = {"model": name, "steps": steps}
        for layout in ["per-tensor", "flat"]:
            out = os.path.join(self.work, f"adam-{name}-{layout}")
            shutil.rmtree(out, ignore_errors=True)
            cmd = [self.a.stab, "run", "--quiet", "--preset", "mosbach", "--model", model,
                   "--task", "RTE", "--data-dir", self.data(), "--threads", str(self.a.threads),
                   "--out", out, "--adam-layout", layout,
                   "--set", f"device={self.a.device}", "--set", f"precision={self.a.precision}",
                   "--set", f"max_steps={steps}", "--set", f"eval_every_steps={steps}"]
            sh(cmd)
            with open(os.path.join(out, "record.json")) as f:
                r = json.load(f)
            t = r["timing"]
            row[layout] = {
                "layout_recorded": r["versions"].get("adam_layout"),
                "train_examples_per_s": round(t["train_examples_per_second"], 1),
                "optimizer_ms_per_step": round(1e3 * t.get("optimizer_seconds", 0) / max(r["steps_done"], 1), 3),
                "train_ms_per_step": round(1e3 * t["train_seconds"] / max(r["steps_done"], 1), 3),
                "final_score": r.get("final_score"),
            }
        row["flat_vs_per_tensor_examples_per_s"] = round(
            row["flat"]["train_examples_per_s"] / row["per-tensor"]["train_examples_per_s"], 3)
        self.result.setdefault("adam_layout", []).append(row)
        return row

    def hf(self, name):
        model = self.model_dir(name)
        cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "hf_train_gpu.py"),
               "--model", model, "--data", os.path.join(self.data(), "glue", "RTE"),
               "--steps", str(self.a.steps), "--device", self.a.device,
               "--precision", self.a.precision, "--threads", str(self.a.threads)]
        t = time.time()
        with GpuMemory(self.cuda) as mem:
            out = sh(cmd)
        wall = time.time() - t
        row = json.loads(out.strip().splitlines()[-1])
        row.update({"model": name, "k": 1, "wall_s": round(wall, 2),
                    "runs_per_hour": round(3600 / wall, 1),
                    "peak_gpu_mib_per_run": mem.per_run_mib()})
        self.result.setdefault("hf", []).append(row)
        return row

    def summarise(self):
        tp = self.result.get("throughput", [])
        summary = {}
        for name in self.a.models:
            rows = [r for r in tp if r["model"] == name]
            one = next((r for r in rows if r["k"] == 1), None)
            if not rows or one is None:
                continue
            best = max(rows, key=lambda r: r["runs_per_hour"])
            hf = next((r for r in self.result.get("hf", []) if r["model"] == name), None)
            summary[name] = {
                "runs_per_hour_k1": one["runs_per_hour"],
                "best_k": best["k"], "runs_per_hour_best": best["runs_per_hour"],
                "best_vs_k1": round(best["runs_per_hour"] / one["runs_per_hour"], 2),
                "examples_per_s_sum_best_vs_k1": round(
                    best["train_examples_per_s_sum"] / one["train_examples_per_s_sum"], 2),
            }
            if hf:
                summary[name]["hf_runs_per_hour"] = hf["runs_per_hour"]
                summary[name]["best_vs_hf_one_run"] = round(best["runs_per_hour"] / hf["runs_per_hour"], 2)
                summary[name]["stab_k1_vs_hf_examples_per_s"] = round(
                    one["train_examples_per_s_sum"] / hf["train_examples_per_s"], 2)
        self.result["summary"] = summary

    def main(self):
        self.step("parity", self.parity, need_s=20)
        self.step("bf16-curve", self.bf16_curve, need_s=30)
        have_hf = "not importable" not in self.result["machine"].get("transformers", "not importable")
        for name in self.a.models:
            self.step(f"init {name}", lambda n=name: self.model_dir(n), need_s=10)
            self.step(f"adam {name}", lambda n=name: self.adam_layouts(n), need_s=40)
            last = None
            for k in self.a.ks:
                need = 10 if last is None else min(last["wall_s"] * (1.2 + k / last["k"] * 0.2), 240)
                last = self.step(f"stab {name} K={k}", lambda n=name, k=k: self.throughput(n, k),
                                 need_s=need) or last
            if have_hf:
                self.step(f"hf {name}", lambda n=name: self.hf(n), need_s=15)
            self.summarise()
            self.save()
        if not have_hf:
            self.result["skipped"].append("hf: transformers is not importable here")
        self.summarise()
        self.save()
        print(json.dumps(self.result.get("summary", {}), indent=1))
        return 0 if not self.result["errors"] else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stab", required=True)
    ap.add_argument("--model", required=True, help="checkpoint dir (all-MiniLM-L6-v2, bf16 copy is fine)")
    ap.add_argument("--data", required=True, help="data dir with glue/RTE/{train,dev}.tsv")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--work", required=True, help="scratch folder")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    ap.add_argument("--steps", type=int, default=150, help="optimizer steps per throughput run")
    ap.add_argument("--curve-steps", type=int, default=200)
    ap.add_argument("--parity-n", type=int, default=64)
    ap.add_argument("--ks", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8])
    ap.add_argument("--models", type=lambda s: s.split(","), default=["bert-base", "minilm", "bert-large"])
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    ap.add_argument("--budget-s", type=float, default=450)
    ap.add_argument("--skip", type=lambda s: s.split(","), default=[],
                    help="steps to leave out, by name prefix: parity,bf16-curve,hf,stab")
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)
    a.stab = os.path.abspath(a.stab)
    a.model = os.path.abspath(a.model)
    sys.exit(Check(a).main())


if __name__ == "__main__":
    main()
