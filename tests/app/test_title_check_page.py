"""The Title check page, run headless with `AppTest` against the tiny test model and the local
stand-in for GitHub's API; and the logic it lays out (`issue_summarizer/app/title_triage.py`)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from issue_summarizer.app import title_triage
from issue_summarizer.github.listing import OpenIssues
from issue_summarizer.inference.title_check import TitleVerdict
from tests.app.test_pages import APP, TIMEOUT, assert_clean, start_app, texts
from tests.conftest import make_rows, write_jsonl_gz
from tests.github_stub import ISSUE, LISTING_ITEMS, LISTING_PULLS, OFF_TOPIC_ISSUES, VAGUE_ISSUES, running_fake_github

PAGE = "app_pages/title_check.py"
OPEN_ISSUES = LISTING_ITEMS - len(LISTING_PULLS)


@pytest.fixture(autouse=True)
def fresh_triages():
    """Each test triages afresh: the page keeps triages for every session of the process."""
    title_triage.TRIAGE_CACHE.clear()
    yield
    title_triage.TRIAGE_CACHE.clear()


@pytest.fixture(scope="module")
def calibrated_model(trained_tiny_model, tmp_path_factory) -> Path:
    """A copy of the tiny model with a confidence.json fitted by `calibrate`."""
    from issue_summarizer.cli.main import main
    from tests.evaluation.test_calibration import calibration_rows

    model = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(trained_tiny_model, model, ignore=shutil.ignore_patterns("checkpoints"))
    data = write_jsonl_gz(model.parent / "validation.jsonl.gz", calibration_rows(model))
    assert main(["calibrate", "--model", str(model), "--data", str(data)]) == 0
    return model


@pytest.fixture
def github(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with running_fake_github() as server:
        monkeypatch.setenv("GITHUB_API_URL", server.api_url)
        yield server


def check(app, title: str, body: str):
    app.text_input(key="check_title").set_value(title)
    app.text_area(key="check_body").set_value(body)
    return app.button(key="check_run").click().run()


@pytest.mark.slow
def test_the_page_checks_a_pasted_title_and_body(monkeypatch, trained_tiny_model):
    app = start_app(monkeypatch, trained_tiny_model, "")
    app.switch_page(PAGE).run()
    assert_clean(app, "title check")
    assert not app.error
    row = make_rows(count=1, seed=3)[0]
    # A template's default title: vague, with its reason; this model has no confidence.json, so no suggestion.
    check(app, "Bug report", row["body"])
    assert_clean(app, "a vague title")
    assert "Vague: the title says too little about the issue." in texts(app.warning)
    assert "the title is an issue template's default, left unchanged" in texts(app.markdown)
    assert "No suggested title: the model's titles have no confidence" in texts(app.info)
    assert "confidence.json" in texts(app.info)
    # The issue's own title, which its body bears out, is fine.
    check(app, row["title"], row["body"])
    assert "Fine: the title says what the issue is about." in texts(app.success)
    assert not app.warning and not app.info
    # No title, no check.
    check(app, "  ", row["body"])
    assert "Type the issue's title to check it." in texts(app.error)
    # The user's text is never rendered: a title of markup is judged, and shown only in its field.
    check(app, "<img src=x onerror=alert(1)> **help**", row["body"])
    assert_clean(app, "a title of markup")
    assert "<img" not in texts(app.markdown) + texts(app.warning)


@pytest.mark.slow
def test_a_confident_suggestion_is_shown_with_its_confidence_in_words(monkeypatch, calibrated_model):
    app = start_app(monkeypatch, calibrated_model, "")
    app.switch_page(PAGE).run()
    row = make_rows(count=1, seed=3)[0]
    check(app, "help", row["body"])
    assert_clean(app, "a suggestion")
    assert "Vague" in texts(app.warning)
    # The suggestion is the model's title, with its confidence in words.
    assert app.subheader and app.subheader[0].value.strip()
    assert "confidence (" in texts(app.markdown) and "times in 10" in texts(app.markdown)
    assert "Suggested title" in texts(app.caption) and not app.info
    # A body with nothing to title: the title is judged alone, and the page says why there is no suggestion.
    check(app, "error", "N/A")
    assert "Vague" in texts(app.warning) and not app.subheader
    assert "No suggested title: the body says nothing" in texts(app.info)


@pytest.mark.slow
def test_the_page_fetches_an_issue_by_its_url_and_checks_it(monkeypatch, trained_tiny_model, github):
    app = start_app(monkeypatch, trained_tiny_model, "")
    app.switch_page(PAGE).run()
    app.text_input(key="check_url").set_value("https://github.com/octo/demo/issues/1").run()
    app.button(key="check_fetch").click().run()
    assert_clean(app, "a fetched issue")
    assert app.text_input(key="check_title").value == ISSUE["title"]
    assert app.text_area(key="check_body").value == ISSUE["body"]
    assert "Fine" in texts(app.success) or "Off topic" in texts(app.warning)
    # An issue without a body: its title is still judged, on its own.
    app.text_input(key="check_url").set_value("https://github.com/octo/demo/issues/3").run()
    app.button(key="check_fetch").click().run()
    assert app.text_area(key="check_body").value == ""
    assert not app.error and (app.success or app.warning)
    # A failed fetch says why, once.
    app.text_input(key="check_url").set_value("https://github.com/octo/demo/issues/99").run()
    app.button(key="check_fetch").click().run()
    assert "could not find issue octo/demo#99 (HTTP 404)" in texts(app.error)


@pytest.mark.slow
def test_triage_lists_the_vague_and_off_topic_titles_of_a_repository(monkeypatch, trained_tiny_model, github):
    app = start_app(monkeypatch, trained_tiny_model, "")
    app.switch_page(PAGE).run()
    app.text_input(key="triage_repository").set_value("octo/triage").run()
    app.button(key="triage_run").click().run()
    assert_clean(app, "triage")
    summary = texts(app.markdown)
    assert f"Fetched {OPEN_ISSUES} open issues of octo/triage (and skipped 8 pull requests)" in summary
    table = app.dataframe[0].value
    assert list(table.columns) == ["issue", "title", "verdict", "reasons", "suggested title", "confidence", "link"]
    titles = set(table["title"])
    assert {title for title, _ in VAGUE_ISSUES.values()} <= titles
    assert {title for title, _ in OFF_TOPIC_ISSUES.values()} <= titles
    vague = table[table["title"].isin([title for title, _ in VAGUE_ISSUES.values()])]
    assert (vague["verdict"] == "Vague").all() and vague["reasons"].astype(bool).all()
    assert set(table.loc[table["title"] == "Scheduler leaks memory on Windows", "verdict"]) == {"Off topic"}
    assert table["link"].str.startswith("https://github.com/octo/triage/issues/").all()
    assert f"{len(table)} of their titles flagged" in summary
    # The download has every checked issue, flagged or not.
    download = app.get("download_button")[0]
    assert download.proto.label == f"Download CSV of all {OPEN_ISSUES} checked issues"
    # Triaging again within minutes asks GitHub nothing.
    requests = len(github.requests)
    app.button(key="triage_run").click().run()
    assert len(github.requests) == requests and app.dataframe[0].value.equals(table)


@pytest.mark.slow
def test_triage_says_why_it_stopped_or_failed(monkeypatch, trained_tiny_model, github):
    app = start_app(monkeypatch, trained_tiny_model, "")
    app.switch_page(PAGE).run()
    app.text_input(key="triage_repository").set_value("octo/triage-limited").run()
    app.button(key="triage_run").click().run()
    assert_clean(app, "a triage stopped by the rate limit")
    stop = texts(app.warning)
    assert "Stopped after" in stop and "rate limit is used up" in stop and "resets at" in stop
    assert app.dataframe  # What was fetched is still checked.
    for repository, message in [
        ("octo/missing", "could not find the repository octo/missing (HTTP 404)"),
        ("not a repository", "is not a repository; type it as owner/repo"),
    ]:
        app.text_input(key="triage_repository").set_value(repository).run()
        app.button(key="triage_run").click().run()
        assert_clean(app, repository)
        assert message in texts(app.error) and not app.dataframe


@pytest.mark.slow
def test_a_shared_server_triages_without_its_token(monkeypatch, trained_tiny_model, github, tmp_path):
    monkeypatch.setenv("ISSUE_SUMMARIZER_SHARED", "1")
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_operators_own_token")
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(trained_tiny_model))
    monkeypatch.delenv("ISSUE_SUMMARIZER_DATA", raising=False)
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page(PAGE).run()
    repository = app.text_input(key="triage_repository")
    assert "GITHUB_TOKEN" not in repository.proto.help and "without a token" in repository.proto.help
    repository.set_value("octo/missing").run()
    app.button(key="triage_run").click().run()
    message = texts(app.error)
    assert "this demo server fetches public issues only" in message and "GITHUB_TOKEN" not in message
    app.text_input(key="triage_repository").set_value("octo/triage").run()
    app.button(key="triage_run").click().run()
    assert_clean(app, "a shared triage")
    assert app.dataframe
    assert github.requests and all("authorization" not in request.headers for request in github.requests)


# The logic the page lays out.


def verdict(kind: str, suggestion: str = "", confidence: float | None = None, problem: str | None = None):
    return TitleVerdict(kind, ["a reason"] if kind != "fine" else [], suggestion, confidence, "model title", problem)


def test_no_suggestion_reason_says_why_in_words():
    reason = title_triage.no_suggestion_reason
    assert reason(verdict("fine"), None) is None
    assert reason(verdict("vague", "Parser crashes", 0.8), None) is None
    assert "no confidence" in reason(verdict("vague"), "model: no confidence.json")
    assert "model: no confidence.json" in reason(verdict("vague"), "model: no confidence.json")
    assert "has 32% confidence, below the 50%" in reason(verdict("off_topic", confidence=0.32), None)
    assert "the same as this one" in reason(verdict("vague", confidence=0.9), None)
    empty = verdict("vague", problem="The issue body is empty. Paste the text of an issue.")
    assert reason(empty, None) == "No suggested title: the issue body is empty, so the title was judged on its own."


def test_a_triage_tables_its_flagged_titles_and_writes_every_issue_to_csv():
    from issue_summarizer.github.listing import ListedIssue

    issues = [
        ListedIssue(3, "Bug report", "body", "https://github.com/o/r/issues/3", "ann"),
        ListedIssue(2, "Parser crashes on empty input", "body", "https://github.com/o/r/issues/2", "bob"),
        ListedIssue(1, "Scheduler leaks", "body", "https://github.com/o/r/issues/1", "cy"),
    ]
    verdicts = [verdict("vague", "Parser hangs", 0.71234), verdict("fine", confidence=0.9), verdict("off_topic")]
    triage = title_triage.Triage(OpenIssues("o/r", issues, pull_requests_skipped=1, pages=1), verdicts, 500)
    table = triage.flagged_table()
    assert table["issue"].tolist() == [3, 1] and table["verdict"].tolist() == ["Vague", "Off topic"]
    assert table["suggested title"].tolist() == ["Parser hangs", ""]
    assert table["confidence"].iloc[0] == pytest.approx(0.7123) and pd.isna(table["confidence"].iloc[1])
    assert triage.summary() == (
        "Fetched 3 open issues of o/r (and skipped 1 pull request). 2 of their titles flagged: 1 vague, "
        "1 off topic; 1 with a suggested title."
    )
    written = pd.read_csv(io.BytesIO(triage.csv_bytes()), keep_default_na=False)
    assert list(written.columns) == title_triage.CSV_COLUMNS and written["number"].tolist() == [3, 2, 1]
    assert triage.file_name() == "o_r_title_check.csv"


def test_the_result_cache_forgets_old_and_surplus_entries():
    now = [0.0]
    cache = title_triage.ResultCache(seconds=60, entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # "b" was used least recently.
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    now[0] = 61.0
    assert cache.get("a") is None and cache.get("c") is None
