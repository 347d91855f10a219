"""The app in a real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Screenshots of every page go to `screenshots/` (git-ignored). The app uses the shipped
model when `model/model.keras` exists and the tiny test model otherwise, mounted read-only
where the machine allows it, and the corpus when it is beside the checkout.
"""

from __future__ import annotations

import os
import re
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
from tests.conftest import REPO_ROOT, SHARED_CORPUS, directory_digest, has_shared_corpus
from tests.github_stub import ISSUE, MARKUP, running_fake_github

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = REPO_ROOT / "screenshots"
RUNNING = "[data-testid='stStatusWidgetRunningIcon']"
BROWSER_TEST_ROWS = 300
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
    """The app on the shipped model, mounted read-only, with the corpus when it is beside the checkout.

    A bare clone has no corpus: then the pages that need data must say how to provide it.
    """
    shipped = REPO_ROOT / "model"
    if (shipped / "model.keras").is_file():
        model = shipped
    else:
        # Trained only when needed: the shipped model makes the screenshots meaningful.
        model = request.getfixturevalue("trained_tiny_model")
    data = None
    if has_shared_corpus():
        # Real issues of the model's test split, but few enough that evaluating them on the
        # Holdout page takes seconds rather than minutes.
        from issue_summarizer.evaluation.holdout import rows_of_test_split

        rows = rows_of_test_split(SHARED_CORPUS, model, limit=BROWSER_TEST_ROWS)
        data = tmp_path_factory.mktemp("browser_data") / "test_split.jsonl.gz"
        rows[["repo", "title", "body"]].to_json(data, orient="records", lines=True, compression="gzip")
    before = directory_digest(model)
    log = tmp_path_factory.mktemp("browser_log") / "streamlit.log"
    cache = tmp_path_factory.mktemp("browser_cache")
    with (
        running_fake_github() as github,
        AppServer(
            model,
            data,
            log,
            cache_directory=cache,
            read_only_model=True,
            environment={"GITHUB_API_URL": github.api_url},
        ) as server,
    ):
        server.wait_until_healthy()
        yield server
    # Visitors evaluated, embedded and titled; the model directory is byte-for-byte as it was.
    assert directory_digest(model) == before


def check_page(page, name: str, data_path: str) -> None:
    """What each page must show, with data and without it."""
    from playwright.sync_api import expect

    if name == "summarize":
        enter_body(page, BODY)
        title, _ = generate_title(page, generation=1)
        assert title and re.search(r"\w", title), title
        attention = page.get_by_text("Show where the model looked")
        if attention.count():  # Attention models draw a heatmap on request.
            attention.click()
            expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=60_000)
        page.get_by_text("What the model saw").click()
    if name in ("holdout_browser", "similar_issues") and not data_path:
        # A bare clone: the page explains how to provide held-out data instead of waiting for it.
        expect(page.get_by_text("No held-out data yet.")).to_be_visible(timeout=60_000)
        return
    if name == "holdout_browser":
        # A fresh checkout has no saved predictions: the page then offers to evaluate the test split.
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


def test_every_page_renders_and_generate_writes_a_title(served_app):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            for name, path in PAGES.items():
                page.goto(f"{served_app.url}/{path}")
                wait_for_model(page)
                check_page(page, name, served_app.data_path)
                page.wait_for_function(f'() => !document.querySelector("{RUNNING}")', timeout=120_000)
                page.wait_for_timeout(800)  # Let charts finish their enter transitions.
                assert page.locator("[data-testid='stException']").count() == 0, f"{name} shows a traceback"
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        finally:
            browser.close()


# Text that a browser would turn into elements or requests if it were rendered as markdown or HTML.
HOSTILE_TEXTS = [
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "![t](http://127.0.0.1:9/t.png)",
    "A" * 10_000,
]


def test_hostile_text_is_shown_as_text(served_app):
    """Pasted text, the title made from it and what the model saw are literal text: no element, no request."""
    from playwright.sync_api import expect, sync_playwright

    body = "The installer crashes on Windows 11. " + " ".join(HOSTILE_TEXTS) + " Version 3.2 worked."
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{served_app.url}/summarize")
            wait_for_model(page)
            enter_body(page, body)
            generate_title(page, generation=1)
            page.get_by_text("What the model saw").click()
            page.wait_for_function(f'() => !document.querySelector("{RUNNING}")', timeout=120_000)
            page.wait_for_timeout(500)
            assert page.locator("img[src='x'], img[src*='127.0.0.1:9']").count() == 0
            assert page.locator("a[href^='javascript:']").count() == 0
            assert not [url for url in requests if "127.0.0.1:9/" in url], requests
            # The long word wraps instead of widening the page.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "hostile_text.png"))

            # An issue fetched by its URL, whose title and body are markup, is shown as text too.
            page.get_by_label("GitHub issue URL", exact=True).fill("https://github.com/octo/demo/issues/6")
            page.get_by_role("button", name="Fetch and title").click()
            page.locator(".st-key-generation_2 h3").wait_for(timeout=60_000)
            expect(page.locator(".st-key-real_title")).to_contain_text(MARKUP["title"], timeout=30_000)
            assert page.locator("img[src='x'], a[href^='javascript:'], script:text('alert')").count() == 0
        finally:
            browser.close()


def test_a_github_issue_url_is_fetched_and_titled(served_app):
    """The URL of an issue, answered by the local stand-in for GitHub's API, fills the body and yields a title."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1600})
            page.goto(f"{served_app.url}/summarize")
            wait_for_model(page)
            page.get_by_label("GitHub issue URL", exact=True).fill("https://github.com/octo/demo/issues/1")
            page.get_by_role("button", name="Fetch and title").click()
            title = page.locator(".st-key-generation_1 h3")
            title.wait_for(timeout=60_000)
            assert re.search(r"\w", title.inner_text())
            expect(page.get_by_label("Issue body")).to_have_value(ISSUE["body"])
            real = page.locator(".st-key-real_title")
            expect(real).to_contain_text(ISSUE["title"])
            expect(real).to_contain_text(re.compile(r"ROUGE-L of the generated title against it: \d\.\d\d"))
            # A URL GitHub does not know gets one clear message.
            page.get_by_label("GitHub issue URL", exact=True).fill("https://github.com/octo/demo/issues/99")
            page.get_by_role("button", name="Fetch and title").click()
            expect(
                page.get_by_text("GitHub could not find issue octo/demo#99 (HTTP 404)", exact=False).first
            ).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "github_url.png"))
        finally:
            browser.close()


def test_title_check_triages_a_repository_and_lists_its_vague_titles(served_app):
    """The Title check page lists the open issues of a stub repository and shows its vague titles in the table."""
    from playwright.sync_api import expect, sync_playwright

    from tests.github_stub import LISTING_ITEMS, LISTING_PULLS, VAGUE_ISSUES

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1600})
            page.goto(f"{served_app.url}/title_check")
            wait_for_model(page)
            page.get_by_role("tab", name="Triage a repository").click()
            page.get_by_label("Repository", exact=True).fill("octo/triage")
            page.get_by_role("button", name="Triage", exact=True).click()
            result = page.locator(".st-key-triage_result")
            fetched = f"Fetched {LISTING_ITEMS - len(LISTING_PULLS)} open issues of octo/triage"
            expect(result).to_contain_text(fetched, timeout=120_000)
            table = result.get_by_test_id("stDataFrame")
            expect(table).to_be_visible()
            # The grid draws on a canvas; the table inside the canvas holds the visible cells' text.
            cells = table.locator("td[role='gridcell']")
            for title, _ in VAGUE_ISSUES.values():
                exactly = re.compile(rf"^\s*{re.escape(title.strip())}\s*$")
                expect(cells.filter(has_text=exactly).first).to_be_attached()
            expect(cells.filter(has_text=re.compile(r"^Vague$")).first).to_be_attached()
            expect(
                result.get_by_role("button", name=re.compile(r"^Download CSV of all \d+ checked issues"))
            ).to_be_visible()
            assert page.locator("[data-testid='stException']").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "title_check_triage.png"))
        finally:
            browser.close()
