"""`python -m compat evaluate --model M --data FILE [--validation FILE] [--json] [--report out.html]`.

Prints the statistics of one model on one pair file (with --json: one JSON object on stdout, nothing
else there). --report writes a self-contained HTML report; it shows the model beside `--baseline`
(default: base, when the model is not base itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from compat.cli import CommandFailed

SUMMARY = ("n", "auc", "cohen_d", "margin", "mean_compatible", "mean_incompatible", "t_stat", "p_value",
           "accuracy", "f1", "threshold", "recall_at_1", "recall_at_5", "recall_at_10", "auc_without_top_component")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="base", help="base, default, a run id or a model directory (default: base)")
    p.add_argument("--data", required=True, help="pair file (JSONL) to evaluate on")
    p.add_argument("--validation", help="pair file to choose the decision threshold on (else: chosen on --data)")
    p.add_argument("--json", action="store_true", help="print one JSON object with every metric")
    p.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report here")
    p.add_argument("--baseline", default=None,
                   help="model shown beside --model in the report and under 'baseline' in the JSON "
                        "(default with --report: base; 'none' for no baseline)")
    p.add_argument("--no-umap", action="store_true", help="leave the UMAP plots out of the report (faster)")
    p.add_argument("--colour-by", default="category", choices=("category", "subcategory", "trait", "stance", "label"),
                   help="what colours the UMAP points in the report")


def _read(path: str, what: str) -> list[dict]:
    from compat.pairs import PairFileError, load_pairs

    try:
        return load_pairs(path)
    except FileNotFoundError as exc:
        raise CommandFailed(f"{what} file {path}: no such file") from exc
    except IsADirectoryError as exc:
        raise CommandFailed(f"{what} file {path} is a directory") from exc
    except PairFileError as exc:
        raise CommandFailed(f"{what} file {path}: {exc}") from exc


def _evaluate(model: str, pairs: list[dict], validation: list[dict] | None, data: str):
    from compat.evaluation.evaluate import run_evaluation
    from compat.models import ModelNotFound

    try:
        return run_evaluation(model, pairs, validation)
    except ModelNotFound as exc:
        raise CommandFailed(str(exc)) from exc
    except ValueError as exc:  # one-class data and the like: name the file
        raise CommandFailed(f"{data}: {exc}") from exc


def _baseline_name(args: argparse.Namespace) -> str | None:
    if args.baseline is not None:
        return None if args.baseline.lower() == "none" else args.baseline
    return "base" if args.report and args.model != "base" else None


def _print_summary(metrics: dict, baseline: dict | None) -> None:
    from compat.evaluation.evaluate import short_model_name

    columns = ([baseline] if baseline else []) + [metrics]
    width = max(map(len, SUMMARY)) + 1
    print(f"{'metric':<{width}}" + "".join(f"{short_model_name(m['model'])[-18:]:>20}" for m in columns))
    for key in SUMMARY:
        row = [m.get(key) for m in columns]
        cells = "".join(f"{v:>20,}" if isinstance(v, int) else f"{v:>20.4f}" if isinstance(v, float) else f"{'–':>20}"
                        for v in row)
        print(f"{key:<{width}}{cells}")
    print(f"threshold chosen on {metrics['threshold_source']}")


def run(args: argparse.Namespace) -> int:
    from compat.evaluation.metrics import finite_or_none

    pairs = _read(args.data, "data")
    validation = _read(args.validation, "validation") if args.validation else None
    baseline_name = _baseline_name(args)
    if baseline_name == args.model:
        baseline_name = None  # the same model twice says nothing
    started = time.perf_counter()
    evaluation = _evaluate(args.model, pairs, validation, args.data)
    evaluations = [evaluation]
    if baseline_name:
        evaluations.insert(0, _evaluate(baseline_name, pairs, validation, args.data))
    metrics = dict(evaluation.metrics)
    if baseline_name:
        metrics["baseline"] = evaluations[0].metrics
    if args.report:
        from compat.evaluation.report import write_report

        if not args.json:
            print(f"writing report {args.report} ...", file=sys.stderr)
        try:
            write_report(args.report, evaluations, args.data, umap=not args.no_umap, colour_by=args.colour_by)
        except OSError as exc:
            raise CommandFailed(f"cannot write report {args.report}: {exc.strerror or exc}") from exc
        metrics["report"] = args.report
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    if args.json:
        print(json.dumps(finite_or_none(metrics), ensure_ascii=False))
    else:
        _print_summary(evaluation.metrics, evaluations[0].metrics if baseline_name else None)
        if args.report:
            print(f"report: {args.report}")
    return 0
