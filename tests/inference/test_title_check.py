"""The title check: each rule on titles written for the tests, then the whole check with the shipped model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from issue_summarizer.inference.title_check import (
    CheckSettings,
    body_overlap,
    body_reasons,
    check_titles,
    content_words,
    is_template_title,
    tags_only,
    title_reasons,
)

MODEL = Path(__file__).resolve().parents[2] / "model"
BODY = (
    "When I run the training script on a GPU, memory keeps growing every epoch until the process is "
    "killed with CUDA out of memory. The data loader seems to leak memory after the first epoch."
)
OTHER_BODY = (
    "Installing the package with pip fails on Windows while it builds the wheel for numpy. The "
    "compiler reports that a build tool is missing, and the install stops before anything is copied."
)


@pytest.mark.parametrize(
    "title",
    [
        "Bug report",
        "bug report",
        "[Bug]: ",
        "[Feature Request]:",
        "Feature request",
        "🐛 Bug Report",
        "  ",
        "[Bug]: Bug title",
        "[UI]:",
        "[Bug] [UI] Bug report",
    ],
)
def test_template_defaults_are_vague(title):
    assert is_template_title(title)
    assert title_reasons(title, CheckSettings()) == ["the title is an issue template's default, left unchanged"]


@pytest.mark.parametrize(
    ("title", "short", "generic"),
    [
        ("help", True, True),
        ("Error", True, True),
        ("It doesn't work", False, True),
        ("bug in code please help", False, False),
        ("Installation", True, False),
    ],
)
def test_short_and_generic_titles(title, short, generic):
    reasons = " ".join(title_reasons(title, CheckSettings()))
    assert ("too short" in reasons) == short
    assert ("only generic words" in reasons) == generic


@pytest.mark.parametrize(
    "title",
    [
        "Memory leak in the data loader on GPU",
        "[Bug] Sidebar flickers on resize",
        "fix(parser): crash on empty input",
        "[Bug]: crash when saving a file",
        "Docs: fix the typo in the install guide",
    ],
)
def test_titles_that_say_what_is_wrong_pass_the_title_rules(title):
    assert not is_template_title(title) and title_reasons(title, CheckSettings()) == []


def test_content_words_drop_tags_function_words_and_fragments():
    assert content_words("[Bug]: The parser doesn't handle a b in Python 3") == [
        "parser",
        "doesnt",
        "handle",
        "python",
        "3",
    ]
    assert tags_only("[Bug]: ") and tags_only("Feature request:") and not tags_only("[Windows] crash")


def test_overlap_with_the_body():
    assert body_overlap(["memory", "loader", "gpu"], BODY) == 1.0
    # A plural matches its singular, and a long word matches inside an identifier.
    assert body_overlap(["epochs", "vcvarsall"], BODY + " vcvarsall.bat") == 1.0
    assert body_reasons("Add dark mode to the settings page", BODY, CheckSettings()) == [
        "no words in common with the body"
    ]
    assert body_reasons("Memory leak in the data loader", BODY, CheckSettings()) == []


@pytest.mark.parametrize(
    "settings",
    [
        {"min_body_overlap": 1.5},
        {"min_confidence": -0.1},
        {"max_likelihood_gap": 0},
        {"min_content_words": -1},
    ],
)
def test_bad_thresholds_are_refused(settings):
    with pytest.raises(ValueError):
        CheckSettings(**settings)


@pytest.fixture(scope="module")
def shipped():
    if not (MODEL / "model.keras").is_file():
        pytest.skip("needs the shipped model")
    from issue_summarizer.inference.confidence import load_calibration
    from issue_summarizer.inference.summarizer import Summarizer

    return Summarizer.load(MODEL), load_calibration(MODEL)


def test_check_gives_a_verdict_for_every_row_in_order(shipped):
    summarizer, calibration = shipped
    titles = ["Bug report", "Memory leak in the data loader when training on GPU", "Add dark mode to settings", "help"]
    bodies = [BODY, BODY, OTHER_BODY, ""]
    verdicts = check_titles(summarizer, titles, bodies, calibration, CheckSettings(min_confidence=0.0))
    assert [verdict.verdict for verdict in verdicts] == ["vague", "fine", "off_topic", "vague"]
    assert verdicts[0].suggested_title and verdicts[0].suggested_title == verdicts[0].model_title
    assert 0.0 <= verdicts[0].confidence <= 1.0
    # A fine title gets no suggestion; an unreadable body is judged on the title alone, and says why.
    assert verdicts[1].suggested_title == "" and verdicts[1].reasons == []
    assert verdicts[3].problem and verdicts[3].suggested_title == "" and verdicts[3].confidence is None


def test_no_suggestion_below_the_confidence_threshold(shipped):
    summarizer, calibration = shipped
    [verdict] = check_titles(summarizer, ["Bug report"], [BODY], calibration, CheckSettings(min_confidence=1.0))
    assert verdict.verdict == "vague" and verdict.suggested_title == "" and verdict.model_title
    [verdict] = check_titles(summarizer, ["Bug report"], [BODY], None, CheckSettings(min_confidence=0.0))
    assert verdict.suggested_title == "" and verdict.confidence is None


def test_a_title_the_model_finds_far_less_likely_is_off_topic(shipped):
    summarizer, calibration = shipped
    title = "Memory grows in the loader of the script"
    [fine] = check_titles(summarizer, [title], [BODY], calibration)
    assert fine.verdict == "fine"
    [strict] = check_titles(summarizer, [title], [BODY], calibration, CheckSettings(max_likelihood_gap=0.01))
    assert strict.verdict == "off_topic" and "far less likely" in strict.reasons_text


def test_title_likelihoods_prefer_the_body_s_own_words(shipped):
    summarizer, _ = shipped
    own, unrelated = summarizer.title_log_likelihoods([BODY, BODY], ["memory leak in data loader", "add dark mode"])
    assert own > unrelated and own < 0
    with pytest.raises(ValueError, match="pair up"):
        summarizer.title_log_likelihoods([BODY], [])


def test_check_command_writes_every_row_with_the_columns(tmp_path, capsys):
    if not (MODEL / "model.keras").is_file():
        pytest.skip("needs the shipped model")
    from issue_summarizer.cli.main import main

    source = tmp_path / "issues.csv"
    frame = pd.DataFrame(
        {
            "title": ["Bug report", "Memory leak in the data loader when training on GPU", "error"],
            "body": [BODY, BODY, ""],
            "id": [10, 11, 12],
        }
    )
    frame.to_csv(source, index=False)
    output = tmp_path / "checked.jsonl"
    assert main(["check", "--model", str(MODEL), "--input", str(source), "--output", str(output)]) == 0
    written = pd.read_json(output, lines=True)
    assert list(written["id"]) == [10, 11, 12]
    assert {"verdict", "reasons", "suggested_title", "confidence", "problem"} <= set(written.columns)
    assert list(written["verdict"]) == ["vague", "fine", "vague"]
    assert "empty body" in written["problem"][2]
    assert "checked 3 titles (1 fine, 2 vague, 0 off topic" in capsys.readouterr().out

    # An input with a column the check writes is refused before the model loads, naming it.
    frame.assign(verdict="mine").to_csv(source, index=False)
    assert main(["check", "--model", str(MODEL), "--input", str(source), "--output", str(output)]) == 2
    assert "verdict" in capsys.readouterr().err
    # So is one without a title to check.
    frame.drop(columns="title").to_csv(source, index=False)
    assert main(["check", "--model", str(MODEL), "--input", str(source), "--output", str(output)]) == 2
    assert "title" in capsys.readouterr().err
