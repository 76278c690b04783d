"""`make screenshots`: drive the real app in Debian's headless Chromium and save one PNG per tab into
assets/screenshots/ (score.png, data.png, train.png, explore.png), so the README's pictures show the app and
the model as they ship. The app runs on a free port with a throwaway COMPAT_HOME (tests/apputil.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from apputil import browser_page, running_app  # noqa: E402

OUT = REPO / "assets" / "screenshots"
SIZE = {"width": 1280, "height": 900}


def score_tab(page) -> None:
    """The Score tab with the app's first example scored: the verdict and the base cosine."""
    page.get_by_label("Person A").fill("boy: I'd never date a smoker")
    page.get_by_label("Person B").fill("girl: I smoke a pack a day")
    page.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_selector("#compat-verdict", timeout=180_000)


def data_tab(page) -> None:
    """The Data tab's first page of the label store."""
    page.get_by_role("tab", name="Data").click()
    page.wait_for_function("() => (document.querySelector('#data-page-info')?.innerText || '').includes('pairs')")


def train_tab(page) -> None:
    """The Train tab as it opens: data, preset and the same run's command line."""
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("() => (document.querySelector('#train-command')?.innerText || '').includes('compat')")


def explore_tab(page) -> None:
    """The Explore tab as it opens."""
    page.get_by_role("tab", name="Explore").click()
    page.wait_for_timeout(1500)


def main() -> int:
    """Start the app, visit each tab, write the PNGs; prints each file written."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compat-shots-") as home, running_app(Path(home)) as app, \
            browser_page() as page:
        page.set_viewport_size(SIZE)
        page.goto(app.url)
        for name, show in (("score", score_tab), ("data", data_tab), ("train", train_tab),
                           ("explore", explore_tab)):
            show(page)
            page.wait_for_timeout(500)  # let the last update paint
            target = OUT / f"{name}.png"
            page.screenshot(path=str(target))
            print(target.relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
