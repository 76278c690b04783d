"""The Gradio web app. Only this package (and app.py) imports gradio."""

from compat.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
