"""compat's web app: `python app.py` (or `make run`, or `python -m compat serve`)."""

from compat.ui.app import launch

if __name__ == "__main__":
    launch()
