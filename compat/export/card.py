"""The model card (README.md of an exported folder), in the Hugging Face model-card shape.

Everything in it is read from the run's own files (compat_model.json, config.json, metrics.json,
status.json, the data's metadata.json and a label snapshot's snapshot.json) or measured by them; the
limits are rules over those numbers, so a better run gets a card that says less against it.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from compat.export.folder import CALIBRATION_FILE, PROBABILITY_FORMULA
from compat.training.data import file_sha256

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
METRIC_COLUMNS = (("auc", "ROC-AUC"), ("cohen_d", "Cohen's d"), ("accuracy", "accuracy"), ("f1", "F1"),
                  ("recall_at_5", "recall@5"))
GOOD_AUC = 0.90  # the project's quality target (README, "Targets"): below it the card says so


def _read_json(file: Path) -> dict:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"



def find_data_metadata(config: dict) -> tuple[dict, str]:
    """The generator's metadata.json of the data the run trained on, and where it was found.

    Looked for beside the recorded train file, then under the recorded --data path; used only when the
    train.jsonl beside it has the sha256 config.json recorded, so the card never describes other data.
    """
    from compat.paths import REPO_ROOT

    train = (config.get("data") or {}).get("train") or {}
    data_setting = (config.get("settings") or {}).get("data")
    candidates = []
    if train.get("path"):  # recorded relative to the repository when the data lies inside it
        recorded = Path(train["path"]).parent
        candidates.append(recorded if recorded.is_absolute() else REPO_ROOT / recorded)
    if data_setting:
        candidates += [Path(data_setting), REPO_ROOT / data_setting]
    for folder in candidates:
        meta, train_file = folder / "metadata.json", folder / "train.jsonl"
        if meta.is_file() and train_file.is_file() and train.get("sha256") == file_sha256(train_file):
            return _read_json(meta), str(meta)
    return {}, ""


def _front_matter(name: str, base_model: str, kind: str | None, metrics: dict) -> str:
    tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "compat",
            "relationship-compatibility"]
    if kind:
        tags.append("lora" if kind == "lora" else "full-fine-tune")
    results = []
    for set_name, block in metrics.items():
        tuned = (block or {}).get("fine_tuned") or {}
        values = [{"type": key, "name": label, "value": round(float(tuned[key]), 4)}
                  for key, label in METRIC_COLUMNS if isinstance(tuned.get(key), (int, float))]
        if values:
            results.append({"task": {"type": "sentence-similarity", "name": "compatibility of two statements"},
                            "dataset": {"name": f"compat {set_name}", "type": "compat", "split": set_name},
                            "metrics": values})
    meta = {"library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity",
            "base_model": base_model, "language": ["en"], "tags": tags}
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _usage(instruction: str | None, calibration: dict | None) -> list[str]:
    lines = ["## Use it", "", "Needs only `sentence-transformers`:", "", "```python",
             "from sentence_transformers import SentenceTransformer",
             'model = SentenceTransformer("path/to/this/folder")',
             'a, b = model.encode(["I\'d never date a smoker", "I smoke a pack a day"], normalize_embeddings=True)',
             'print("cosine", float(a @ b))', "```", ""]
    if instruction:
        lines += [f"The instruction prompt is the folder's default prompt (`{instruction.strip()}`), so "
                  "`encode` applies it by itself; do not add it again.", ""]
    lines += ["compat removes a leading speaker prefix (`boy: `, `girl: `, any `name: `) before embedding; "
              "do the same to get the same scores.", ""]
    if calibration:
        lines += [f"`{CALIBRATION_FILE}` turns a cosine into a probability of compatibility, fitted on the "
                  f"run's validation pairs: `{PROBABILITY_FORMULA}` with threshold "
                  f"{calibration['threshold']:.4f} and scale {calibration['scale']:.4f}.", ""]
    return lines


def _data_section(config: dict, run_dir: Path | None) -> list[str]:
    data = config.get("data") or {}
    if not data:
        return []
    lines = ["## Training data", "", "| split | pairs | compatible | incompatible | sha256 of the file |",
             "|---|---|---|---|---|"]
    sets = [(name, data.get(name)) for name in ("train", "validation", "test")]
    sets += list((data.get("extra") or {}).items())
    for name, info in sets:
        if not info:
            continue
        pairs, compatible = info.get("pairs"), info.get("compatible")
        incompatible = pairs - compatible if isinstance(pairs, int) and isinstance(compatible, int) else None
        lines.append(f"| {name} | {pairs} | {compatible} | {incompatible} | `{(info.get('sha256') or '')[:16]}` |")
    validation_source = (data.get("validation") or {}).get("source")
    if validation_source and validation_source != "file":
        lines += ["", f"Validation pairs: {validation_source}."]
    meta, where = find_data_metadata(config)
    lines.append("")
    if meta:
        lines.append(f"Generated by compat's generator {meta.get('generator_version')} with seed "
                     f"{meta.get('seed')} (`{meta.get('command')}`); wording: "
                     f"{'composed (frames x topic phrases)' if meta.get('wording') else 'hand-written phrasings'}.")
        held = meta.get("held_out") or {}
        if "test_statements_unseen_in_train" in held:
            unseen = held["test_statements_unseen_in_train"]
            lines.append(f"Share of test statements not seen in training: {unseen:.0%}.")
    else:
        lines.append("No generator metadata.json matching the training file was found (imported or edited data).")
    snapshot = _read_json(run_dir / "data" / "snapshot.json") if run_dir else {}
    if snapshot.get("sha256"):
        hashes = ", ".join(f"{k} `{v[:16]}`" for k, v in snapshot["sha256"].items())
        lines.append(f"Trained on a snapshot of the hand-corrected label store (sha256 per split: {hashes}).")
    return lines + [""]


def _recipe_section(config: dict, info: dict) -> list[str]:
    settings, resolved = config.get("settings") or {}, config.get("resolved") or {}
    training = info.get("training") or {}
    if not settings and not training:
        return []
    kind = training.get("kind") or resolved.get("kind")
    adapter = (f"LoRA r={training.get('lora_r')}, alpha={training.get('lora_alpha')}, dropout "
               f"{settings.get('lora_dropout')}, merged for export into "
               + ("the base's NF4-rounded weights (what it trained on), stored in fp32"
                  if info.get("merged_onto") == "nf4" else "the full-precision weights")
               if kind == "lora" else "every weight fine-tuned")
    rows = [("weights", adapter), ("training precision", f"base in {training.get('quant') or resolved.get('quant')}, "
             f"compute {resolved.get('compute_dtype')}"),
            ("loss", training.get("loss") or settings.get("loss")), ("preset", settings.get("preset")),
            ("learning rate", resolved.get("learning_rate")), ("batch", settings.get("batch")),
            ("steps", f"{training.get('steps')} of {resolved.get('max_steps')} ({training.get('status')})"),
            ("epochs", settings.get("epochs")), ("seed", training.get("seed", settings.get("seed"))),
            ("weights averaged (`compat soup`)", _soup_text(training.get("soup"))),
            ("instruction", info.get("instruction") or "none"),
            ("command", "`python -m compat " + " ".join(str(a) for a in (config.get("command") or [])[1:]) + "`"),
            ("versions", ", ".join(f"{k} {v}" for k, v in (config.get("versions") or {}).items()))]
    lines = ["## Training recipe", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows if v not in (None, "", "None")]
    return lines + [""]


def _soup_text(seeds: list | None) -> str | None:
    if not seeds:
        return None
    return f"the mean of {len(seeds)} runs of this recipe, seeds {', '.join(map(str, seeds))}"


def _quality_section(metrics: dict) -> list[str]:
    if not metrics:
        return []
    lines = ["## Quality", "",
             "Measured by the run on the full-precision merged model (the one in this folder), with the base "
             "model beside it. Similarity is the cosine of the two statements' embeddings.", "",
             "| set | pairs | model | " + " | ".join(label for _, label in METRIC_COLUMNS) +
             " | mean cosine compatible / incompatible |",
             "|---|---|---|" + "---|" * len(METRIC_COLUMNS) + "---|"]
    for set_name, block in metrics.items():
        for who in ("base", "fine_tuned"):
            m = (block or {}).get(who) or {}
            if not m:
                continue
            cells = " | ".join(_fmt(m.get(key)) for key, _ in METRIC_COLUMNS)
            label = "this model" if who == "fine_tuned" else "base"
            lines.append(f"| {set_name} | {m.get('n', '–')} | {label} | {cells} | "
                         f"{_fmt(m.get('mean_compatible'))} / {_fmt(m.get('mean_incompatible'))} |")
    return lines + ["", "accuracy and F1 at the threshold chosen on validation; recall@5: share of compatible "
                        "pairs whose partner is among the 5 nearest statements of the set.", ""]


def limits_from_metrics(metrics: dict, status: str | None) -> list[str]:
    """The limits the measurements show, one sentence per kind of shortfall (rules over metrics.json)."""
    low_auc, not_better, lost_topic, crowded = [], [], [], []
    for set_name, block in metrics.items():
        tuned, base = (block or {}).get("fine_tuned") or {}, (block or {}).get("base") or {}
        auc, base_auc = tuned.get("auc"), base.get("auc")
        if _number(auc) and auc < GOOD_AUC:
            low_auc.append(f"{set_name} {auc:.3f}")
        if _number(auc) and _number(base_auc) and auc <= base_auc:
            not_better.append(f"{set_name} {auc:.3f} vs {base_auc:.3f}")
        r5, base_r5 = tuned.get("recall_at_5"), base.get("recall_at_5")
        if _number(r5) and _number(base_r5) and r5 < base_r5:
            lost_topic.append(f"{set_name} {r5:.3f} vs {base_r5:.3f}")
        mc, mi = tuned.get("mean_compatible"), tuned.get("mean_incompatible")
        if _number(mc) and _number(mi) and min(mc, mi) > 0.7 and abs(mc - mi) < 0.1:
            crowded.append(f"{set_name} {mc:.3f} / {mi:.3f}")
    found = []
    if low_auc:
        found.append(f"ROC-AUC is below {GOOD_AUC:.2f} ({'; '.join(low_auc)}): many pairs are ranked wrongly, "
                     "so never act on one score alone.")
    if not_better:
        found.append(f"It is no better than the base model on some sets (ROC-AUC {'; '.join(not_better)}).")
    if lost_topic:
        found.append("Finding a statement's partner among all statements is worse than with the base model "
                     f"(recall@5 {'; '.join(lost_topic)}): fine-tuning lost some topic, so it is a poor "
                     "topic search engine.")
    if crowded:
        found.append("The cosines of compatible and incompatible pairs sit close together "
                     f"(mean {'; '.join(crowded)}): "
                     "no fixed cut such as 0.5 means compatible; use the calibration, or rank.")
    if status and status != "finished":
        found.append(f"Training ended {status}, before its planned last step.")
    return found


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def card_text(name: str, model, run_dir: Path | None) -> str:
    """The whole README.md for an exported model; `run_dir` is the compat model folder (None: base)."""
    info = _read_json(run_dir / "compat_model.json") if run_dir else {}
    config = _read_json(run_dir / "config.json") if run_dir else {}
    record = _read_json(run_dir / "metrics.json") if run_dir else {}
    metrics = {k: v for k, v in record.items() if isinstance(v, dict) and "fine_tuned" in v}
    kind = (info.get("training") or {}).get("kind")
    base_model = info.get("base_model") or BASE_MODEL_NAME
    calibration = info.get("calibration") or record.get("calibration")
    if run_dir is None:
        intro = f"`{BASE_MODEL_NAME}` as compat ships it (not fine-tuned), exported by compat for comparison."
    elif info:
        intro = (f"A sentence embedding model for relationship compatibility, fine-tuned from `{base_model}` by "
                 "compat: two statements someone would put in a dating profile land close when the people are "
                 "likely compatible and apart when not, whatever words they share.")
    else:
        intro = f"A sentence-transformers folder ({run_dir}) exported by compat; it has no compat training record."
    lines = [_front_matter(name, base_model, kind, metrics), f"# {name}", "", intro, ""]
    lines += _usage(model.instruction, calibration)
    lines += ["## Base model", "", f"`{base_model}` (mean pooling, 384 dimensions), "
              + ("with compat's LoRA adapter merged in." if kind == "lora" else
                 "every weight fine-tuned." if kind == "full" else "unchanged.")
              + (f" Then a stance gain of {info['stance_gain']['gain']:g}: a Dense layer (no activation) that centres "
                 "each embedding on the training statements' mean and weighs their first principal direction, "
                 "the one stance mostly lies on, that many times, and a Normalize layer (chosen on validation; "
                 "compat's `stance_gain`)." if info.get("stance_gain") else ""), ""]
    lines += _data_section(config, run_dir)
    lines += _recipe_section(config, info)
    lines += _quality_section(metrics)
    lines += ["## Intended use", "",
              "Scoring and ranking pairs of short, English, first-person statements about dating "
              "preferences and lifestyle for compatibility: research, prototypes, and a first ranking that a "
              "person reviews. Not for decisions about people without review, not for other languages, and "
              "not a measure of anything but what the training pairs label.", ""]
    limits = limits_from_metrics(metrics, (info.get("training") or {}).get("status"))
    if info:
        limits.append("The training pairs are synthetic (compat's generator, or labels corrected by hand); "
                      "real profiles are longer and messier than anything measured above except the natural "
                      "pairs, if listed.")
    if limits:
        lines += ["## Limits (what the measurements show)", ""] + [f"- {item}" for item in limits] + [""]
    lines += ["## Provenance", "", "Written by `python -m compat export-model` from "
              + (", ".join(f"`{f}`" for f in ("compat_model.json", "config.json", "metrics.json")
                           if run_dir and (run_dir / f).exists()) or "the base model as shipped") + ".", ""]
    return "\n".join(lines)


def write_card(folder: Path, model, run_dir: Path | None, manifest: dict) -> Path:
    """Write README.md into the export folder; the title is the source model's name."""
    name = Path(manifest.get("source_model") or "model").name or "model"
    card = folder / "README.md"
    card.write_text(card_text(f"compat-{name}" if not name.startswith("compat") else name, model, run_dir))
    return card
