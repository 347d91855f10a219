import itertools
import json
import math

import numpy as np
import pytest

from issue_summarizer.data.input_checks import nothing_to_title
from issue_summarizer.inference.confidence import (
    CONFIDENCE_FILE,
    FEATURES,
    Calibration,
    LogisticLink,
    TitleFeatures,
    calibration_problem,
    confidence_level,
    describe_confidence,
    load_calibration,
    title_features,
)
from issue_summarizer.inference.summarizer import GeneratedTitle, model_digest

# Coefficients of both signs, as a real fit has them; the score's is positive.
COEFFICIENTS = (0.6, -0.1, -0.2, 0.05, 0.1, 0.2, 0.5)
MEANS = (-1.1, 0.09, 7.7, 4.5, 0.9, 0.13, 0.59)
SCALES = (0.4, 0.11, 2.0, 0.9, 0.08, 0.11, 0.36)


def link(coefficients=COEFFICIENTS, intercept=-0.6) -> LogisticLink:
    return LogisticLink(FEATURES, MEANS, SCALES, tuple(coefficients), intercept)


def calibration(nothing: float = 0.03) -> Calibration:
    return Calibration(link(), nothing, LogisticLink(("title_score",), (-1.1,), (0.45,), (0.6,), -0.7), {"rows": 10})


def features(title_score: float = -1.0, problem: str | None = None, **changes) -> TitleFeatures:
    values = dict(
        title_score=title_score,
        margin=0.1,
        title_words=7,
        log_body_tokens=4.0,
        known_share=0.9,
        copy_share=0.1,
        opening_share=0.5,
        problem=problem,
    )
    return TitleFeatures(**{**values, **changes})


def test_confidence_lies_in_zero_to_one_even_for_extreme_features():
    fitted = calibration()
    extremes = [-1e6, -50.0, -1.0, 0.0, 1.0, 50.0, 1e6]
    for score, words, share in itertools.product(extremes, [0, 1, 12, 10_000], [0.0, 0.5, 1.0]):
        value = fitted.confidence(features(score, title_words=words, opening_share=share, copy_share=share))
        assert 0.0 <= value <= 1.0 and math.isfinite(value)


def test_confidence_never_falls_as_the_score_rises_with_the_other_features_fixed():
    fitted = calibration()
    scores = np.linspace(-6.0, 0.0, 61)
    rng = np.random.default_rng(0)
    for _ in range(50):
        # Any fixed values of the other features, including a missing margin (greedy decoding).
        fixed = dict(
            margin=None if rng.random() < 0.2 else float(rng.uniform(0, 1)),
            title_words=int(rng.integers(0, 12)),
            log_body_tokens=float(rng.uniform(0, 6)),
            known_share=float(rng.uniform(0, 1)),
            copy_share=float(rng.uniform(0, 1)),
            opening_share=float(rng.uniform(0, 1)),
        )
        values = [fitted.confidence(features(float(score), **fixed)) for score in scores]
        assert all(later >= earlier for earlier, later in itertools.pairwise(values)), fixed
        assert values[-1] > values[0]


def test_a_negative_score_coefficient_is_refused():
    with pytest.raises(ValueError, match="title_score must not be negative"):
        link(coefficients=(-0.1, *COEFFICIENTS[1:]))
    with pytest.raises(ValueError, match="scale"):
        LogisticLink(("title_score",), (0.0,), (0.0,), (1.0,), 0.0)
    with pytest.raises(ValueError, match="one mean"):
        LogisticLink(("title_score", "margin"), (0.0,), (1.0,), (1.0,), 0.0)


def test_a_missing_feature_takes_its_mean():
    fitted = link()
    at_mean = fitted.probability(dict(zip(FEATURES, MEANS, strict=True)))
    assert fitted.probability({}) == pytest.approx(at_mean) == pytest.approx(1 / (1 + math.exp(0.6)))
    assert fitted.probability({"margin": None, "title_score": float("nan")}) == pytest.approx(at_mean)


def test_a_body_with_nothing_to_title_gets_the_low_confidence_of_such_bodies():
    fitted = calibration(nothing=0.03)
    assert fitted.confidence(features(-0.1, problem="the body says nothing: 'N/A'")) == 0.03
    assert fitted.confidence(features(-0.1)) > 0.5


def test_title_features_are_read_from_the_title_and_body():
    body = ["the", "parser", "crashes", "on", "windows", "zzz"] + ["filler"] * 40
    best = GeneratedTitle("Parser crashes on xyz", ["parser", "crashes", "on", "xyz"], -0.5, True, 1, body)
    second = GeneratedTitle("Parser crash", ["parser", "crash"], -0.8, True, 0, body)
    vocabulary = {"the": 4, "parser": 5, "crashes": 6, "on": 7, "windows": 8}
    result = title_features(best, second, vocabulary, None)
    assert result.title_score == -0.5 and result.margin == pytest.approx(0.3)
    assert result.title_words == 4 and result.copy_share == 0.25
    assert result.log_body_tokens == pytest.approx(math.log(47))
    assert result.known_share == pytest.approx(5 / 46)
    # "xyz" is nowhere in the body; the other three words are in its first 30 tokens.
    assert result.opening_share == 0.75
    alone = title_features(GeneratedTitle("", [], -2.0, False), None, vocabulary, "the body is only code")
    assert alone.margin is None and alone.title_words == 0 and alone.copy_share == 0.0 and alone.known_share == 0.0
    assert alone.problem == "the body is only code"


def test_a_calibration_survives_saving_and_loading(tmp_path):
    # The digest covers the model's files; a directory without them has a digest all the same.
    model = tmp_path / "model"
    model.mkdir()
    assert load_calibration(model) is None
    assert "no confidence.json" in calibration_problem(model) and "calibrate" in calibration_problem(model)
    fitted = Calibration(calibration().link, 0.03, calibration().baseline, {"model_digest": model_digest(model)})
    fitted.save(model)
    loaded = load_calibration(model)
    assert loaded == fitted and calibration_problem(model) is None
    assert loaded.baseline_confidence(-1.1) == pytest.approx(1 / (1 + math.exp(0.7)))
    saved = json.loads((model / CONFIDENCE_FILE).read_text())
    assert saved["features"] == list(FEATURES) and "ROUGE-L >= 0.3" in saved["proxy"]


def test_a_calibration_of_another_model_version_or_a_broken_file_gives_no_confidence(tmp_path):
    model = tmp_path
    (model / "config.json").write_text("{}")
    Calibration(calibration().link, 0.03, None, {"model_digest": "0" * 32}).save(model)
    assert load_calibration(model) is None and "another version of the model" in calibration_problem(model)
    (model / CONFIDENCE_FILE).write_text('{"version": 1, "link": "logistic", "features": ["title_score"]}')
    assert load_calibration(model) is None and "not a readable confidence file" in calibration_problem(model)


@pytest.mark.parametrize(
    ("confidence", "words", "often"),
    [
        (0.82, "High confidence (82%)", "8 times in 10"),
        (0.42, "Medium confidence (42%)", "4 times in 10"),
        (0.03, "Low confidence (3%)", "3 times in 100"),
    ],
)
def test_confidence_in_words_says_what_it_measures(confidence, words, often):
    text = describe_confidence(confidence)
    assert text.startswith(words) and often in text and "real title" in text
    assert confidence_level(confidence) == words.split()[0]
    assert "not been calibrated" in describe_confidence(None)


BAD_BODIES = {
    "Russian": (
        "Приложение падает при запуске, если в пути к файлу есть пробелы. Помогите, пожалуйста.",
        "the body is not in English",
    ),
    "Spanish": (
        "El programa no funciona cuando intento abrir el archivo con la versión nueva y es muy lento.",
        "the body is not in English",
    ),
    "code only": (
        "```python\nimport parser\nresult = parser.parse(open('empty.txt').read())\nprint(result)\n```",
        "the body is only code",
    ),
    "commands only": ("pip install -r requirements.txt\ndocker compose up --build", "the body is only code"),
    "bare traceback": (
        'Traceback (most recent call last):\n  File "run.py", line 3, in <module>\n    main()\n'
        '  File "run.py", line 2, in main\n    parse("")\nValueError: empty input',
        "the body is only a traceback",
    ),
    "N/A": ("N/A", "the body says nothing: 'N/A'"),
    "no description": ("No description provided.", "the body says nothing: 'No description provided.'"),
    "empty template": (
        "**Describe the bug**\n<!-- A clear and concise description of what the bug is. -->\n\n"
        "**To Reproduce**\n<!-- Steps to reproduce the behavior -->\n\n**Expected behavior**\n",
        "the body is only an empty issue template",
    ),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bodies_with_nothing_to_title_are_named_in_words(name):
    body, problem = BAD_BODIES[name]
    assert nothing_to_title(body) == problem


@pytest.mark.parametrize(
    "body",
    [
        "The parser crashes on an empty file.",
        "Fix typo",
        "When I run the tests the parser fails:\n```\nValueError: empty input\n```",
        "Calling parse() on an empty string raises ValueError (see the trace below).\n"
        'Traceback (most recent call last):\n  File "run.py", line 3, in <module>\nValueError: empty input',
        "Hello, I get an error when I load my German data:\nDie Datei ist nicht da und es ist leer",
        "The installer fails on Windows 10 (64-bit), see the log (attached)",
        # Prose that starts like a command, or ends with a call, is still prose.
        "pip install fails on Windows while building the wheel for numpy: the compiler reports that "
        "vcvarsall.bat is missing. Python 3.12, pip 24.",
        "I am trying to delete a model on the portal but the delete() method is not working for me either.",
    ],
)
def test_bodies_with_prose_to_read_are_not_flagged(body):
    assert nothing_to_title(body) is None
