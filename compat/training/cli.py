"""`python -m compat train`: one training run; progress to the terminal, events to RUN_DIR/events.jsonl.

Works the same under `torchrun --nproc_per_node=N -m compat train ...` (rank 0 writes the run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compat.cli import CommandFailed
from compat.training.config import COMPUTE_DTYPES, LOSSES, PRESETS, QUANTS, ConfigError, TrainConfig, parse_instruction

# option dest -> TrainConfig field, for the options that override a preset when given
OVERRIDES = ("validation", "test", "groups", "quant", "compute_dtype", "lora_r", "lora_alpha", "loss", "epochs",
             "lr", "batch", "seed", "max_steps", "eval_steps", "logging_steps", "unrelated", "base")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="FILE|DIR",
                   help="pair file, or a directory with train.jsonl (+ validation.jsonl, test.jsonl)")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default: COMPAT_HOME/runs/<run-id>)")
    p.add_argument("--validation", metavar="FILE", help="validation pairs (default: 10%% of --data held out)")
    p.add_argument("--test", metavar="FILE", help="test pairs, measured once at the end")
    p.add_argument("--groups", metavar="FILE",
                   help="stance groups for the supcon losses (default: train_groups.jsonl in a --data directory, "
                        "else generated: half as many as training pairs, kept in the run directory)")
    p.add_argument("--extra-test", metavar="FILE", action="append", default=[],
                   help="another pair file to measure at the end (repeatable)")
    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="settings for what is not given: " + "; ".join(
                       f"{k}: {v['epochs']:g} epochs, lr {v['lr']:g}" for k, v in PRESETS.items()))
    p.add_argument("--base", metavar="PATH",
                   help="a local sentence-transformers folder to fine-tune (default: the shipped all-MiniLM-L6-v2)")
    p.add_argument("--quant", choices=QUANTS, help="base weights in 4-bit NF4 (default) or full precision")
    p.add_argument("--compute-dtype", choices=COMPUTE_DTYPES,
                   help="4-bit compute dtype; auto: bf16 where the hardware has it, else fp32")
    p.add_argument("--lora-r", type=int, help="LoRA rank (default 8)")
    p.add_argument("--lora-alpha", type=int, help="LoRA alpha (default 16)")
    p.add_argument("--full", action="store_true", help="full fine-tune instead of LoRA (needs --quant none)")
    p.add_argument("--loss", choices=LOSSES, help="training loss (default cosent+supcon: pairs and stance groups)")
    p.add_argument("--unrelated", type=float, metavar="SHARE",
                   help="signed_cosine: unrelated pairs (cosine target 0) to add, as a share of the "
                        "training pairs (default 0.5; 0 adds none)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float, help="learning rate (default: the preset's; a tenth of it with --full)")
    p.add_argument("--batch", type=int, help="pairs per step and process (default 16)")
    p.add_argument("--instruction", metavar="TEXT|none",
                   help="prompt put before every statement in training and scoring; `default` for the standard "
                        "one; none (the default) for no prompt")
    p.add_argument("--no-stance-gain", action="store_true",
                   help="ship the embeddings as trained: no centring and weighing of the stance direction, "
                        "which by default is added when it raises validation AUC (compat.stance_gain)")
    p.add_argument("--seed", type=int, help="seed for adapter init, data order and splits (default 42)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--eval-steps", type=int, help="evaluate on validation every N steps")
    p.add_argument("--logging-steps", type=int, help="write an event line every N steps")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress lines on the terminal")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the command line asks for: the preset, then every option that was given."""
    given = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k, None) is not None}
    if args.full:
        given["full"] = True
        given.setdefault("quant", "none")  # an explicit --quant 4bit is refused by TrainConfig.check
    if args.instruction is not None:
        given["instruction"] = parse_instruction(args.instruction)
    if getattr(args, "no_stance_gain", False):
        given["stance_gain"] = False
    return TrainConfig.from_preset(args.preset, data=args.data, out=args.out,
                                   extra_tests=list(args.extra_test), force=args.force, **given)


def run(args: argparse.Namespace) -> int:
    from compat.training.data import DataError
    from compat.training.run import RunDirError, train

    try:
        config = config_from_args(args)
        result = train(config, echo=not args.quiet)
    except (ConfigError, DataError, RunDirError) as exc:
        raise CommandFailed(str(exc)) from exc
    if result.run_dir is None:  # a torchrun rank other than 0
        return 0
    print_summary(result)
    return 0


def print_summary(result) -> None:
    """Final figures of a run, fine-tuned beside base, one line per data set."""
    print(f"{result.status}: {result.run_dir} ({result.steps} steps)")
    for name in ("validation", "test", *[k for k in result.metrics if k not in RESERVED]):
        block = result.metrics.get(name)
        if not isinstance(block, dict) or "fine_tuned" not in block:
            continue
        ft, base = block["fine_tuned"], block["base"]
        print(f"  {name:<12} AUC {ft['auc']:.4f} (base {base['auc']:.4f})   "
              f"Cohen's d {ft['cohen_d']:.2f} (base {base['cohen_d']:.2f})   "
              f"accuracy {ft['accuracy']:.3f} (base {base['accuracy']:.3f})   "
              f"AUC without the top component {ft['auc_without_top_component']:.4f}")
    gain = (result.metrics.get("stance_gain") or {}).get("chosen")
    print(f"  stance gain: {gain:g} (chosen on validation)" if gain else "  stance gain: none")
    cal = result.metrics.get("calibration")
    if cal:
        print(f"  calibration: P(compatible) = sigmoid({cal['scale']:.2f} * (cos - {cal['threshold']:.4f}))")


RESERVED = {"status", "steps", "train_loss", "calibration", "validation_source", "stance_gain", "validation", "test"}


def add_soup_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="finished runs of one recipe and data set (typically seeds), at least two")
    p.add_argument("--out", required=True, metavar="DIR", help="the averaged model's folder")
    p.add_argument("--no-stance-gain", action="store_true", help="ship the averaged embeddings without a stance gain")
    p.add_argument("--force", action="store_true", help="replace a model already in --out")


def run_soup(args: argparse.Namespace) -> int:
    """`python -m compat soup`: compat.training.soup.make_soup, then the same summary lines as a run."""
    from compat.training.data import DataError
    from compat.training.run import RunResult
    from compat.training.soup import SoupError, make_soup

    try:
        record = make_soup(args.runs, args.out, force=args.force, stance_gain=not args.no_stance_gain)
    except (SoupError, DataError) as exc:
        raise CommandFailed(str(exc)) from exc
    print(f"averaged {len(args.runs)} runs (seeds {', '.join(str(i['seed']) for i in record['soup'])})")
    print_summary(RunResult("finished", Path(args.out).resolve(), record, steps=record["steps"]))
    return 0
