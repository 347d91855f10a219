"""The app in a real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Screenshots of every page go to `screenshots/` (git-ignored). The app uses the shipped
model when `model/model.keras` exists and the tiny test model otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.browser_support import (
    CHROMIUM,
    PAGES,
    AppServer,
    enter_body,
    generate_title,
    launch_chromium,
    wait_for_model,
)
from tests.conftest import REPO_ROOT, SHARED_CORPUS, make_rows, write_jsonl_gz

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = REPO_ROOT / "screenshots"
RUNNING = "[data-testid='stStatusWidgetRunningIcon']"
BODY = (
    "When I run the installer on Windows 11 it crashes with a segmentation fault right after the "
    "license screen. Version 3.2 worked fine. The log says: access violation in setup.dll."
)


@pytest.fixture(scope="module")
def chromium_available() -> None:
    if not Path(CHROMIUM).is_file():
        message = f"{CHROMIUM} is missing; install Debian's chromium package to run the browser tests"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def served_app(chromium_available, request, tmp_path_factory):
    shipped = REPO_ROOT / "model"
    if (shipped / "model.keras").is_file():
        # A copy, because evaluating on the Holdout page writes metrics and predictions into the
        # model directory, and the shipped one must stay as committed.
        model = tmp_path_factory.mktemp("browser_model") / "model"
        shutil.copytree(shipped, model, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
        data = SHARED_CORPUS if SHARED_CORPUS.is_file() else None
    else:
        # Trained only when needed: the shipped model makes the screenshots meaningful.
        model = request.getfixturevalue("trained_tiny_model")
        data = write_jsonl_gz(tmp_path_factory.mktemp("browser") / "issues.jsonl.gz", make_rows(400, 16))
    log = tmp_path_factory.mktemp("browser_log") / "streamlit.log"
    with AppServer(model, data, log) as server:
        server.wait_until_healthy()
        yield server


def test_every_page_renders_and_generate_writes_a_title(served_app):
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            for name, path in PAGES.items():
                page.goto(f"{served_app.url}/{path}")
                wait_for_model(page)
                if name == "summarize":
                    enter_body(page, BODY)
                    title, _ = generate_title(page, generation=1)
                    assert title and re.search(r"\w", title), title
                    attention = page.get_by_text("Show where the model looked")
                    if attention.count():  # Attention models draw a heatmap on request.
                        attention.click()
                        expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=60_000)
                    page.get_by_text("What the model saw").click()
                if name == "holdout_browser":
                    # A fresh clone has no saved predictions: the page then offers to evaluate the test split.
                    random_example = page.get_by_role("button", name="Random example")
                    evaluate = page.get_by_role("button", name=re.compile(r"^Evaluate the model on"))
                    random_example.or_(evaluate).first.wait_for(timeout=60_000)
                    if evaluate.count():
                        evaluate.click()
                    random_example.click(timeout=600_000)
                    page.locator(".st-key-holdout_detail").wait_for(timeout=60_000)
                if name == "similar_issues":
                    # The map (embedding and UMAP) takes a while in a fresh server.
                    expect(page.get_by_text(re.compile(r"^Map of [\d,]+ issues"))).to_be_visible(timeout=240_000)
                    query = page.get_by_label("Find issues like this one")
                    query.fill(BODY)
                    query.press("Control+Enter")
                    expect(page.get_by_text(re.compile(r"^The \d+ most similar issues"))).to_be_visible(timeout=60_000)
                page.wait_for_function(f'() => !document.querySelector("{RUNNING}")', timeout=120_000)
                page.wait_for_timeout(800)  # Let charts finish their enter transitions.
                assert page.locator("[data-testid='stException']").count() == 0, f"{name} shows a traceback"
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        finally:
            browser.close()
