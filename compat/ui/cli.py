"""`python -m compat serve [--host H] [--port P]`: the web app, the same as `python app.py`."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="default COMPAT_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default COMPAT_PORT or 7860")


def run(args: argparse.Namespace) -> int:
    from compat.ui.app import launch

    launch(args.host, args.port)
    return 0
