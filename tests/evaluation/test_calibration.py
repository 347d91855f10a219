import json
import random
import shutil

import numpy as np
import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from issue_summarizer.config import CleaningOptions
from issue_summarizer.evaluation.calibration import (
    expected_calibration_error,
    fit_calibration,
    fit_link,
    reliability_table,
    rouge_l_of_titles,
    rouge_of_most_confident,
)
from issue_summarizer.inference.confidence import CONFIDENCE_FILE, FEATURES, TitleFeatures, load_calibration
from tests.conftest import make_rows, write_jsonl_gz
from tests.inference.test_confidence import BAD_BODIES


def test_reliability_table_and_expected_calibration_error_by_hand():
    confidences = [0.05, 0.05, 0.15, 0.95, 0.95, 0.95, 0.95, 1.0]
    outcomes = [0, 0, 1, 1, 1, 1, 0, 1]
    table = reliability_table(confidences, outcomes)
    assert table["bin"].tolist() == ["0.0–0.1", "0.1–0.2", "0.9–1.0"]
    assert table["rows"].tolist() == [2, 1, 5]
    assert table["predicted"].tolist() == pytest.approx([0.05, 0.15, 0.96])
    assert table["observed"].tolist() == pytest.approx([0.0, 1.0, 0.8])
    assert expected_calibration_error(table) == pytest.approx((2 * 0.05 + 1 * 0.85 + 5 * 0.16) / 8)
    # Rows without a confidence (no title) are left out, and no rows give no error to report.
    assert reliability_table([np.nan, 0.5], [1, 1])["rows"].tolist() == [1]
    assert np.isnan(expected_calibration_error(reliability_table([], [])))


def test_rouge_of_the_most_confident_titles():
    shares = rouge_of_most_confident([0.9, 0.1, 0.5, 0.7], [1.0, 0.0, 0.2, 0.6])
    assert shares == pytest.approx({0.25: 1.0, 0.5: 0.8, 0.75: 0.6, 1.0: 0.45})


def test_rouge_of_titles_is_scored_as_evaluate_scores_it():
    scores = rouge_l_of_titles(
        ["Parser crashes on Windows", "nothing alike"], ["parser crashes on windows"] * 2, CleaningOptions()
    )
    assert scores.tolist() == pytest.approx([1.0, 0.0])


def synthetic_features(count: int, seed: int = 0) -> tuple[list[TitleFeatures], np.ndarray]:
    """Titles whose chance of being acceptable rises with the score, as a model's does."""
    rng = np.random.default_rng(seed)
    features, outcomes = [], []
    for _ in range(count):
        score = float(rng.normal(-1.1, 0.4))
        opening = float(rng.uniform(0, 1))
        chance = 1 / (1 + np.exp(-(2.0 * (score + 1.1) + 1.5 * (opening - 0.5) - 0.6)))
        problem = "the body is only code" if rng.random() < 0.03 else None
        chance = 0.02 if problem else chance
        features.append(
            TitleFeatures(score, float(rng.uniform(0, 0.5)), int(rng.integers(2, 11)), 4.0, 0.9, 0.1, opening, problem)
        )
        outcomes.append(rng.random() < chance)
    return features, np.array(outcomes)


def test_a_fit_on_validation_titles_is_calibrated_and_holds_bodies_with_nothing_to_title_low():
    features, outcomes = synthetic_features(4000)
    calibration = fit_calibration(features, outcomes, {"split": "validation"})
    assert calibration.link.features == FEATURES
    assert calibration.link.coefficients[0] > 0 and calibration.baseline.coefficients[0] > 0
    assert calibration.fit["rows"] == 4000 and calibration.fit["split"] == "validation"
    flagged = [item for item in features if item.problem]
    assert calibration.fit["nothing_to_title_rows"] == len(flagged)
    assert calibration.nothing_to_title < 0.1
    # Measured on titles it was not fitted on.
    held_out, held_outcomes = synthetic_features(4000, seed=1)
    confidences = [calibration.confidence(item) for item in held_out]
    assert expected_calibration_error(reliability_table(confidences, held_outcomes)) < 0.05
    assert all(0 <= value <= 1 for value in confidences)


def test_a_fit_where_the_score_works_against_the_outcome_leaves_the_score_out():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(500, 2))
    outcomes = matrix[:, 0] < rng.normal(size=500)  # A higher score, less often acceptable.
    link = fit_link(matrix, outcomes, ["title_score", "opening_share"])
    assert link.coefficients[0] == 0.0
    with pytest.raises(ValueError, match="all acceptable or all not"):
        fit_link(matrix, np.ones(500, dtype=bool), ["title_score", "opening_share"])


def test_bodies_with_nothing_to_title_get_their_smoothed_share_even_when_validation_has_none():
    features, outcomes = synthetic_features(300)
    clean = [(item, outcome) for item, outcome in zip(features, outcomes, strict=True) if not item.problem]
    calibration = fit_calibration([item for item, _ in clean], [outcome for _, outcome in clean])
    assert calibration.nothing_to_title == pytest.approx(0.1) and calibration.fit["nothing_to_title_rows"] == 0


# The command on a tiny model trained on the fixture.


def validation_repository(model) -> str:
    return json.loads((model / "split.json").read_text())["validation"][0]


def calibration_rows(model) -> list[dict]:
    """Fixture issues of the model's validation repository: most titled as the fixture titles them,
    some with titles unrelated to their bodies (which no model can write), and the bodies with
    nothing to title."""
    rng = random.Random(5)
    repository = validation_repository(model)
    rows = [dict(row, repo=repository) for row in make_rows(count=60, seed=7)]
    for row in rows[::3]:
        row["title"] = rng.choice(["update the changelog", "documentation typo in readme", "add a logo"])
    rows += [{"repo": repository, "title": "parser crashes on linux", "body": body} for body, _ in BAD_BODIES.values()]
    return rows


@pytest.fixture(scope="module")
def calibrated_model(trained_tiny_model, tmp_path_factory):
    """A copy of the tiny model with a confidence.json fitted by `calibrate`."""
    model = tmp_path_factory.mktemp("calibrated") / "model"
    shutil.copytree(trained_tiny_model, model)
    data = write_jsonl_gz(model.parent / "validation.jsonl.gz", calibration_rows(model))
    assert main(["calibrate", "--model", str(model), "--data", str(data)]) == 0
    return model


@pytest.mark.slow
def test_calibrate_writes_confidence_json_into_the_model_directory(calibrated_model, capsys):
    saved = json.loads((calibrated_model / CONFIDENCE_FILE).read_text())
    assert saved["features"] == list(FEATURES) and len(saved["coefficients"]) == len(FEATURES)
    fit = saved["fit"]
    assert fit["split"] == "validation" and fit["rows"] == 60 + len(BAD_BODIES) and "ROUGE-L >= 0.3" in fit["proxy"]
    assert fit["nothing_to_title_rows"] == len(BAD_BODIES) and fit["date"] and fit["model_digest"]
    assert load_calibration(calibrated_model) is not None


@pytest.mark.slow
def test_calibrate_refuses_a_model_without_a_split_in_one_line(trained_tiny_model, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny_model, model)
    (model / "split.json").unlink()
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", make_rows(count=20))
    assert main(["calibrate", "--model", str(model), "--data", str(data)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "no split.json" in error and len(error.splitlines()) == 1
    assert not (model / CONFIDENCE_FILE).exists()


@pytest.mark.slow
def test_calibrate_refuses_data_without_validation_rows_in_one_line(trained_tiny_model, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny_model, model)
    train = json.loads((model / "split.json").read_text())["train"][0]
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", [dict(row, repo=train) for row in make_rows(count=20)])
    assert main(["calibrate", "--model", str(model), "--data", str(data)]) == 2
    error = capsys.readouterr().err.strip()
    assert "none of its 20 usable rows is in the model's validation split" in error and len(error.splitlines()) == 1
    assert not (model / CONFIDENCE_FILE).exists()


def summarize(model, rows: list[dict], tmp_path, *flags: str) -> pd.DataFrame:
    pd.DataFrame(rows).to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    argv = ["summarize", "--model", str(model), "--input", str(tmp_path / "in.jsonl")]
    assert main([*argv, "--output", str(tmp_path / "out.jsonl"), *flags]) == 0
    return pd.read_json(tmp_path / "out.jsonl", lines=True, dtype=False)


@pytest.mark.slow
def test_summarize_writes_a_confidence_and_flags_bodies_with_nothing_to_title(calibrated_model, tmp_path):
    good = [{"body": row["body"]} for row in make_rows(count=12, seed=11)]
    bad = [{"body": body} for body, _ in BAD_BODIES.values()]
    out = summarize(calibrated_model, good + bad, tmp_path)
    assert list(out.columns) == ["body", "predicted_title", "title_score", "confidence", "problem"]
    assert out["confidence"].between(0, 1).all()
    good_rows, bad_rows = out.iloc[: len(good)], out.iloc[len(good) :]
    assert (good_rows["problem"] == "").all()
    assert bad_rows["problem"].tolist() == [problem for _, problem in BAD_BODIES.values()]
    # Every bad body gets a low confidence, below that of any body the fixture's model can title.
    assert (bad_rows["confidence"] < 0.2).all() and bad_rows["confidence"].max() < good_rows["confidence"].min()
    # Flagged, not withheld: the title is written with its reason beside it.
    assert bad_rows["predicted_title"].astype(bool).all()


@pytest.mark.slow
def test_min_confidence_empties_exactly_the_titles_below_it_and_keeps_every_row(calibrated_model, tmp_path):
    rows = [{"body": row["body"], "ticket": number} for number, row in enumerate(make_rows(count=12, seed=11))]
    rows += [{"body": body, "ticket": 12 + number} for number, (body, _) in enumerate(BAD_BODIES.values())]
    every = summarize(calibrated_model, rows, tmp_path)
    threshold = float(np.median(every["confidence"]))
    out = summarize(calibrated_model, rows, tmp_path, "--min-confidence", str(threshold))
    assert out["ticket"].tolist() == list(range(len(rows)))
    assert out["confidence"].tolist() == every["confidence"].tolist()
    below = out["confidence"] < threshold
    assert below.any() and (~below).any()
    assert (out.loc[below, "predicted_title"] == "").all()
    assert out.loc[~below, "predicted_title"].tolist() == every.loc[~below, "predicted_title"].tolist()
    for confidence, problem in zip(out.loc[below, "confidence"], out.loc[below, "problem"], strict=True):
        assert f"low confidence ({int(confidence * 100) / 100:.2f} < {threshold:g})" in problem
    assert not out.loc[~below, "problem"].str.contains("low confidence").any()


@pytest.mark.slow
def test_min_confidence_without_a_calibration_is_refused_in_one_line(trained_tiny_model, tmp_path, capsys):
    pd.DataFrame(make_rows(count=3)).to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    argv = ["summarize", "--model", str(trained_tiny_model), "--input", str(tmp_path / "in.jsonl")]
    assert main([*argv, "--output", str(tmp_path / "out.jsonl"), "--min-confidence", "0.4"]) == 2
    error = capsys.readouterr().err.strip()
    assert "no confidence.json" in error and "calibrate" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out.jsonl").exists()
    assert main([*argv, "--output", str(tmp_path / "out.jsonl"), "--min-confidence", "1.5"]) == 2
    assert "expected a number from 0 to 1, got '1.5'" in capsys.readouterr().err
    # Without the flag the run works, and the confidence column is empty.
    out = summarize(trained_tiny_model, make_rows(count=3), tmp_path)
    assert out["confidence"].isna().all() and out["predicted_title"].astype(bool).all()


@pytest.mark.slow
def test_evaluate_writes_a_confidence_column(calibrated_model, tmp_path):
    data = write_jsonl_gz(tmp_path / "issues.jsonl.gz", calibration_rows(calibrated_model))
    argv = ["evaluate", "--model", str(calibrated_model), "--data", str(data), "--split", "validation"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    predictions = pd.read_json(tmp_path / "out" / "predictions_validation.jsonl.gz", lines=True)
    assert predictions["confidence"].between(0, 1).all() and len(predictions) == 60 + len(BAD_BODIES)


@pytest.mark.slow
def test_the_app_says_the_confidence_in_words_beside_every_title(calibrated_model, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.test_pages import APP, TIMEOUT, texts

    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(calibrated_model))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", "")
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page("app_pages/summarize.py").run()
    # One issue: the confidence in words under the title; a body with nothing to title says why.
    app.text_area(key="issue_body").set_value(make_rows(count=1, seed=3)[0]["body"]).run()
    app.button(key="generate").click().run()
    assert not app.exception and "confidence (" in texts(app.markdown) and "times in 1" in texts(app.markdown)
    app.text_area(key="issue_body").set_value("N/A").run()
    app.button(key="generate").click().run()
    assert "The body says nothing: 'N/A', so the title is mostly a guess." in texts(app.warning)
    assert "Low confidence" in texts(app.markdown)
    # A file of issues: every titled row has its confidence, in words and as a number.
    rows = [{"body": row["body"]} for row in make_rows(count=4, seed=3)] + [{"body": "N/A"}]
    upload = pd.DataFrame(rows).to_csv(index=False).encode()
    app.file_uploader(key="batch_upload").set_value(("issues.csv", upload, "text/csv")).run()
    app.button(key="summarize_file").click().run()
    assert not app.exception and "1 flagged, as their body gives nothing to title" in texts(app.success)
    table = app.dataframe[0].value
    assert table["confidence"].between(0, 1).all() and table["confidence in words"].str.match(r"\w+ \(\d+%\)").all()
    # The Holdout browser: a confidence column, and the chosen issue's confidence in words.
    app.switch_page("app_pages/holdout_browser.py").run()
    app.segmented_control(key="holdout_source").set_value("Uploaded file").run()
    upload = pd.DataFrame(make_rows(count=12, seed=4)).to_csv(index=False).encode()
    app.file_uploader(key="holdout_upload").set_value(("mine.csv", upload, "text/csv")).run()
    app.button(key="holdout_random").click().run()
    assert not app.exception and app.dataframe[0].value["confidence"].between(0, 1).all()
    assert next(metric for metric in app.metric if metric.label == "Confidence").value.endswith("%)")
    assert "times in 1" in texts(app.caption)


@pytest.mark.slow
def test_the_ray_engine_writes_the_same_confidence_and_withholds_the_same_titles(calibrated_model, tmp_path):
    import ray

    rows = [{"body": row["body"]} for row in make_rows(count=12, seed=11)] + [{"body": "N/A"}]
    local = summarize(calibrated_model, rows, tmp_path, "--min-confidence", "0.5")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        on_ray = summarize(calibrated_model, rows, tmp_path, "--min-confidence", "0.5", "--engine", "ray")
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(on_ray, local)
