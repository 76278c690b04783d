"""`python -m compat ...`: one subcommand per module; each module has add_arguments(parser) and run(args).

Modules are imported only when their command runs, so `--help` and light commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("compat.generator.cli", "write a synthetic data set (train/validation/test)"),
    "train": ("compat.training.cli", "one training run"),
    "evaluate": ("compat.evaluation_cli", "metrics of one model on one pair file"),
    "score": ("compat.score_cli", "one compatibility score"),
    "import": ("compat.store_cli", "add a pair file to the label store"),
    "export": ("compat.store_cli", "write the store's current labels"),
    "serve": ("compat.serve_cli", "the web app (the same as python app.py)"),
    "export-model": ("compat.export_cli", "a standalone sentence-transformers folder with a model card"),
    "match": ("compat.match_cli", "the statements of a pool most compatible with one statement"),
}


class CommandFailed(Exception):
    """An expected failure of a command: printed as one clear message, exit status 2, no traceback."""


def _module(command: str):
    name = COMMANDS[command][0]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if a in COMMANDS), None)
    for command, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(command, help=help_text, description=help_text)
        if command == wanted:  # only the command being run needs its module imported
            module = _module(command)
            if module is not None:
                add = getattr(module, f"add_{command}_arguments", None) or module.add_arguments
                add(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, _ = parser.parse_known_args(argv)
    module = _module(args.command)
    if module is None:
        print(f"compat {args.command}: not implemented yet", file=sys.stderr)
        return 3
    args = parser.parse_args(argv)  # now strict: unknown options are an error
    runner = getattr(module, f"run_{args.command}", None) or module.run
    try:
        return int(runner(args) or 0)
    except CommandFailed as exc:
        print(f"compat {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
