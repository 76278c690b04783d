"""`python -m compat export-model --model MODEL --out DIR [--format torch|onnx|onnx-int8] [--force]`."""

from __future__ import annotations

import argparse

from compat.cli import CommandFailed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default", help="base, default, a run id or a model directory (default: default)")
    p.add_argument("--out", required=True, help="folder to write; must not exist or be empty, unless --force")
    p.add_argument("--format", default="torch", choices=("torch", "onnx", "onnx-int8"),
                   help="torch: the sentence-transformers folder only; onnx adds onnx/model.onnx; onnx-int8 "
                        "also onnx/model_qint8.onnx (8-bit weights), which compat then serves the folder from")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")


def run(args: argparse.Namespace) -> int:
    from compat.export import ExportError, export_model
    from compat.models import ModelNotFound

    try:
        out = export_model(args.model, args.out, force=args.force, fmt=args.format)
    except (ModelNotFound, ExportError) as exc:
        raise CommandFailed(str(exc)) from exc
    print(f"exported {args.model} to {out} ({args.format})")
    print(f"load it anywhere: SentenceTransformer({str(out)!r})")
    return 0
