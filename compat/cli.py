"""`compat ...` (or `python -m compat ...`): one subcommand per module; each module has add_arguments(parser)
and run(args).

Modules are imported only when their command runs, so `--help` and light commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# command -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("compat.generator.cli", "write a synthetic data set (train/validation/test)"),
    "train": ("compat.training.cli", "one training run"),
    "soup": ("compat.training.cli", "one model from the averaged weights of several finished runs"),
    "runs": ("compat.training.runs_cli", "the app's training runs: list, use, stop, delete, compare"),
    "evaluate": ("compat.evaluation.cli", "metrics of one model on one pair file"),
    "score": ("compat.score_cli", "one compatibility score"),
    "import": ("compat.store.cli", "add a pair file to the label store"),
    "export": ("compat.store.cli", "write the store's current labels"),
    "serve": ("compat.ui.cli", "the web app (the same as python app.py)"),
    "export-model": ("compat.export.cli", "a standalone sentence-transformers folder with a model card"),
    "match": ("compat.evaluation.match_cli", "the statements of a pool most compatible with one statement"),
}


class CommandFailed(Exception):
    """An expected failure of a command: printed as one clear message, exit status 2, no traceback."""


def _module(command: str):
    return importlib.import_module(COMMANDS[command][0])


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    prog = "python -m compat" if Path(sys.argv[0]).name == "__main__.py" else "compat"
    parser = argparse.ArgumentParser(prog=prog, description="compat: embeddings that learn relationship "
                                     "compatibility; one command per step, data to model to evaluation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if a in COMMANDS), None)
    for command, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(command, help=help_text, description=help_text)
        if command == wanted:  # only the command being run needs its module imported
            module = _module(command)
            add = getattr(module, f"add_{command}_arguments", None) or module.add_arguments
            add(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    module = _module(args.command)
    runner = getattr(module, f"run_{args.command}", None) or module.run
    try:
        return int(runner(args) or 0)
    except CommandFailed as exc:
        print(f"compat {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
