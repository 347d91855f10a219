"""Every page of the Streamlit app, run headless with `AppTest` against the tiny test model."""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT, directory_digest, make_rows, write_jsonl_gz

pytestmark = pytest.mark.slow
APP = str(REPO_ROOT / "app.py")
PAGES = [
    "app_pages/overview.py",
    "app_pages/summarize.py",
    "app_pages/title_check.py",
    "app_pages/holdout_browser.py",
    "app_pages/lengths.py",
    "app_pages/similar_issues.py",
]
TIMEOUT = 180  # Seconds; the first map in a process compiles UMAP's numba code.


@pytest.fixture(scope="module")
def bare_model(trained_tiny_model, tmp_path_factory) -> Path:
    """The tiny model without its predictions and metrics: a directory with no held-out data."""
    directory = tmp_path_factory.mktemp("bare") / "model"
    shutil.copytree(
        trained_tiny_model, directory, ignore=shutil.ignore_patterns("checkpoints", "predictions_*", "metrics.json")
    )
    return directory


@pytest.fixture(scope="module")
def evaluated_model(trained_tiny_model, tmp_path_factory) -> Path:
    """A copy of the tiny model with the predictions its training run saved."""
    directory = tmp_path_factory.mktemp("evaluated") / "model"
    shutil.copytree(trained_tiny_model, directory, ignore=shutil.ignore_patterns("checkpoints"))
    return directory


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """The rows the tiny model was trained on, so its repository split applies to them."""
    return write_jsonl_gz(tmp_path_factory.mktemp("data") / "issues.jsonl.gz", make_rows(count=400, repositories=16))


@contextmanager
def read_only(directory: Path):
    """Make `directory` and its files read-only for the block (root ignores this; the digests still check)."""
    paths = [directory, *directory.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield directory
    finally:
        for path in reversed(paths):
            path.chmod(modes[path])


def start_app(monkeypatch, model: Path, data: Path | str) -> AppTest:
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(model))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", str(data))
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def assert_clean(app: AppTest, page: str) -> None:
    assert not app.exception, f"{page}: {[item.value for item in app.exception]}"


def texts(elements) -> str:
    """The elements' text as a visitor reads it: markdown escapes (`\\.` for `.`) removed."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(element.value) for element in elements))


def test_every_page_runs_without_data(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
        assert not app.error, f"{page}: {texts(app.error)}"
    app.switch_page("app_pages/holdout_browser.py").run()
    assert "No held-out data yet" in texts(app.info)
    app.switch_page("app_pages/similar_issues.py").run()
    assert "No held-out data yet" in texts(app.info)


def test_every_page_runs_with_data(monkeypatch, evaluated_model, data_file):
    app = start_app(monkeypatch, evaluated_model, data_file)
    assert "ROUGE-L" in texts(app.metric) or any(metric.label == "Test ROUGE-L" for metric in app.metric)
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
        assert not app.error, f"{page}: {texts(app.error)}"
    # The Similar issues page drew its map and finds neighbours of pasted text.
    app.text_area(key="similar_query").set_value(make_rows(count=1, seed=3)[0]["body"]).run()
    assert_clean(app, "similar issues query")
    neighbours = app.dataframe[-1].value
    assert len(neighbours) == 10 and neighbours["similarity"].is_monotonic_decreasing
    app.segmented_control(key="similar_colour").set_value("Topic cluster").run()
    assert_clean(app, "similar issues clusters")
    # The holdout browser filters and shows one row in detail.
    app.switch_page("app_pages/holdout_browser.py").run()
    app.text_input(key="holdout_search").set_value("crash").run()
    app.button(key="holdout_random").click().run()
    assert_clean(app, "holdout browser")
    assert any(metric.label == "Model ROUGE-L" for metric in app.metric)
    # The Lengths page measures the data file too.
    app.switch_page("app_pages/lengths.py").run()
    app.segmented_control(key="length_source").set_value("Data file").run()
    app.toggle(key="count_Data file").set_value(True).run()
    assert_clean(app, "lengths from the data file")
    assert any(metric.label == "Suggested pad length" for metric in app.metric)
    app.segmented_control(key="length_source").set_value("Uploaded file").run()
    upload = pd.DataFrame(make_rows(count=30)).to_csv(index=False).encode()
    app.file_uploader(key="length_upload").set_value(("sample.csv", upload, "text/csv")).run()
    app.toggle(key="count_Uploaded file").set_value(True).run()
    assert_clean(app, "lengths from an upload")
    assert "30 bodies" in texts(app.caption)


def test_summarize_round_trip(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    app.switch_page("app_pages/summarize.py").run()
    app.selectbox(key="example_issue").set_value("Install fails").run()
    assert "pip install fails" in app.text_area(key="issue_body").value
    app.button(key="generate").click().run()
    assert_clean(app, "summarize")
    assert app.subheader and app.subheader[0].value.strip()
    assert "The model read" in texts(app.markdown)
    # Beam search shows the alternatives with their scores.
    app.segmented_control(key="decoding").set_value("Beam search").run()
    app.button(key="generate").click().run()
    assert_clean(app, "beam search")
    alternatives = app.dataframe[0].value
    assert 1 <= len(alternatives) <= 3 and list(alternatives.columns[:3]) == ["rank", "title", "score"]
    # The seed model has no attention: a caption says so instead of offering a heatmap.
    assert "no attention" in texts(app.caption) and not app.toggle
    # Empty text is refused with a message, not a traceback.
    app.text_area(key="issue_body").set_value("   ").run()
    app.button(key="generate").click().run()
    assert_clean(app, "empty body")
    assert "empty" in texts(app.error)


def test_summarize_offers_tuned_settings_beyond_the_usual_slider_ranges(monkeypatch, bare_model, tmp_path):
    # `tune` may pick a beam of 12 or a length penalty of 2.5; the form must still open with them.
    directory = tmp_path / "model"
    shutil.copytree(bare_model, directory)
    config = json.loads((directory / "config.json").read_text())
    config.update(beam_width=12, length_penalty=2.5)
    (directory / "config.json").write_text(json.dumps(config))
    app = start_app(monkeypatch, directory, "")
    app.switch_page("app_pages/summarize.py").run()
    assert_clean(app, "tuned settings beyond the slider ranges")
    sliders = {slider.label: slider.value for slider in app.slider}
    assert sliders["Beam width"] == 12 and sliders["Length penalty"] == 2.5
    app.text_area(key="issue_body").set_value("The installer fails on Windows with an access error.").run()
    app.button(key="generate").click().run()
    assert_clean(app, "a title with tuned settings beyond the slider ranges")
    assert app.subheader and app.subheader[0].value.strip()
    # Batch mode starts at the same tuned width, as the README promises, not at a greedy default.
    upload = pd.DataFrame(make_rows(count=3))[["body"]].to_csv(index=False).encode()
    app.file_uploader(key="batch_upload").set_value(("few.csv", upload, "text/csv")).run()
    batch_beam = app.slider(key="batch_beam")
    assert batch_beam.value == 12 and batch_beam.min == 1 and batch_beam.max >= 12


def test_summarize_keeps_the_form_when_the_visitor_leaves_the_page(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    app.switch_page("app_pages/summarize.py").run()
    url = "https://github.com/octo/demo/issues/1"
    body = "The installer fails on Windows with an access error."
    app.text_input(key="issue_url").set_value(url)
    app.text_area(key="issue_body").set_value(body)
    app.segmented_control(key="decoding").set_value("Beam search").run()
    settings = {"beam_width": 7, "alternatives": 4, "max_words": 6, "min_words": 2, "length_penalty": 0.5}
    for key, value in settings.items():
        app.slider(key=key).set_value(value)
    repeats = app.selectbox(key="no_repeat")
    assert repeats.label == "Repeated words"
    assert repeats.options == [
        "Allowed",
        "No repeated words",
        "No repeated 2-word phrases",
        "No repeated 3-word phrases",
    ]
    repeats.set_value(2)
    app.button(key="generate").click().run()
    assert_clean(app, "summarize before leaving")
    title = app.subheader[0].value
    app.switch_page("app_pages/overview.py").run()
    app.switch_page("app_pages/summarize.py").run()
    assert_clean(app, "summarize after coming back")
    assert app.text_input(key="issue_url").value == url
    assert app.text_area(key="issue_body").value == body
    assert app.segmented_control(key="decoding").value == "Beam search"
    assert {key: app.slider(key=key).value for key in settings} == settings
    assert app.selectbox(key="no_repeat").value == 2
    # The title still shown belongs to the text shown.
    assert app.subheader[0].value == title and "the text has changed since" not in texts(app.caption)


def test_summarize_decoding_controls_keep_the_visitors_choices(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    app.switch_page("app_pages/summarize.py").run()
    # A click on the selected search cannot clear it and fall back to greedy decoding unasked.
    assert app.segmented_control(key="decoding").proto.required
    app.segmented_control(key="decoding").set_value("Beam search").run()
    app.slider(key="min_words").set_value(4).run()
    app.slider(key="max_words").set_value(6).run()
    assert app.slider(key="min_words").value == 4
    app.slider(key="max_words").set_value(3).run()  # Below the minimum: the minimum follows it down.
    assert (app.slider(key="min_words").value, app.slider(key="min_words").max) == (3, 3)
    app.slider(key="alternatives").set_value(4).run()
    app.slider(key="beam_width").set_value(8).run()
    assert app.slider(key="alternatives").value == 4
    app.slider(key="beam_width").set_value(3).run()
    assert (app.slider(key="alternatives").value, app.slider(key="alternatives").max) == (3, 3)
    assert_clean(app, "decoding controls")


def test_summarize_forgets_a_failed_fetch_when_the_visitor_moves_on(monkeypatch, bare_model):
    from tests.github_stub import running_fake_github

    missing = "https://github.com/octo/demo/issues/99"
    with running_fake_github() as github:
        monkeypatch.setenv("GITHUB_API_URL", github.api_url)
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        app = start_app(monkeypatch, bare_model, "")
        app.switch_page("app_pages/summarize.py").run()

        def fail_to_fetch() -> None:
            app.text_input(key="issue_url").set_value(missing).run()
            app.button(key="fetch_issue").click().run()
            assert "could not find issue octo/demo#99" in texts(app.error)

        fail_to_fetch()
        app.text_input(key="issue_url").set_value("https://github.com/octo/demo/issues/1").run()
        assert not app.error, "a new URL"
        fail_to_fetch()
        app.selectbox(key="example_issue").set_value("Install fails").run()
        assert not app.error, "an example"
        fail_to_fetch()
        app.button(key="generate").click().run()
        assert not app.error, "a title from the text"
        assert_clean(app, "fetch errors")
        assert app.subheader and app.subheader[0].value.strip()


def test_summarize_draws_the_attention_heatmap_for_an_attention_model(monkeypatch, trained_copy_model):
    app = start_app(monkeypatch, trained_copy_model, "")
    app.switch_page("app_pages/summarize.py").run()
    body = "Calling func12345 in the parser raises an error. It worked yesterday."
    app.text_area(key="issue_body").set_value(body).run()
    app.button(key="generate").click().run()
    assert_clean(app, "attention summarize")
    assert app.subheader and "func12345" in app.subheader[0].value
    assert not app.get("vega_lite_chart")  # The heatmap is drawn on request only.
    app.toggle(key="show_attention").set_value(True).run()
    assert_clean(app, "attention heatmap")
    charts = app.get("vega_lite_chart")
    assert charts, "no attention heatmap"
    spec = json.loads(charts[0].proto.spec)
    assert spec["mark"]["type"] == "rect" and spec["encoding"]["x"]["field"] == "body token"
    rows = spec["encoding"]["y"]["sort"]  # The title words, the copied one starred.
    assert any("func12345" in row and row.endswith("★") for row in rows)
    assert "Copied from the body" in texts(app.caption) and "func12345" in texts(app.caption)


def test_overview_shows_old_metrics_then_the_quality_comparison(monkeypatch, bare_model, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(bare_model, directory)
    # An older metrics.json: a top-level beam width, no copy rate.
    old_metrics = {
        "model": {"rouge1": 0.3, "rouge2": 0.1, "rougeL": 0.28, "bleu": 5.5, "rows": 10},
        "lead_12": {"rouge1": 0.2, "rouge2": 0.08, "rougeL": 0.18, "bleu": 7.0, "rows": 10},
        "beam_width": 3,
        "split": "test",
    }
    (directory / "metrics.json").write_text(json.dumps(old_metrics))
    app = start_app(monkeypatch, directory, "")
    assert_clean(app, "overview with old metrics")
    tables = [frame.value for frame in app.dataframe]
    assert any("system" in table.columns and "copy rate" not in table.columns for table in tables)
    assert "beam width 3" in texts(app.caption)
    # A value that does not apply reads as a dash, not "None".
    assert all(frame.proto.placeholder == "–" for frame in app.dataframe if "system" in frame.value.columns)

    quality = {
        "command": "python bench/quality.py --model model",
        "test_rows": 10,
        "test_repositories": 2,
        "rows": [{"titles": "lead-12", "rougeL": 0.18}, {"titles": "tiny", "rougeL": 0.3, "copy_rate": 0.5}],
    }
    (directory / "quality.json").write_text(json.dumps(quality))
    app.run()
    assert_clean(app, "overview with quality")
    assert not any("system" in frame.value.columns for frame in app.dataframe)  # The comparison replaces it.
    assert "python bench/quality.py --model model" in texts(app.caption)
    # Scores in one table, every cell a readable value: the lead baseline has no copy rate.
    scores = app.table[0].value
    assert scores.index.tolist() == ["lead-12", "tiny"] and list(scores.columns) == ["ROUGE-L", "copy rate"]
    assert scores["copy rate"].tolist() == ["–", "50.0%"]
    # This comparison has no surface measures, so there is no second table of how titles read.
    assert "How the titles read" not in texts(app.markdown)
    quality["rows"][1] |= {"placeholder_share": 0.1, "rougeL_raw": 0.25}
    quality["rows"].insert(0, {"titles": "real titles", "placeholder_share": 0.0, "rougeL_raw": 1.0})
    (directory / "quality.json").write_text(json.dumps(quality))
    app.run()
    assert_clean(app, "overview with two quality tables")
    scores, reading = app.table[0].value, app.table[1].value
    assert scores.index.tolist() == ["lead-12", "tiny"] and reading.index.tolist() == ["real titles", "tiny"]
    assert reading.loc["tiny"].tolist() == ["10.0%", "0.250"]
    for table in (scores, reading):
        assert not table.isin(["None", "nan"]).any().any() and len(table.columns) <= 8


def test_overview_writes_layer_shapes_for_a_person(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    assert_clean(app, "overview architecture")
    layers = next(table.value for table in app.table if "output shape" in table.value.columns)
    shapes = layers["output shape"].astype(str)
    assert not shapes.str.contains("None").any() and shapes.str.contains("words × ").any()
    assert layers.index.name == "layer" and "body_embedding" in layers.index


def test_visitors_see_no_deploy_button_or_developer_menu():
    import tomllib

    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["toolbarMode"] == "viewer"


def test_lengths_name_the_training_data_as_the_sidebar_does_and_separate_thousands(monkeypatch, bare_model, tmp_path):
    from issue_summarizer.data.length_stats import LengthHistogram, save_length_stats

    directory = tmp_path / "model"
    shutil.copytree(bare_model, directory)
    # `train` records the corpus as it was given, relative to the repository root.
    histograms = {
        "body": LengthHistogram.from_lengths([1500] * 60 + [2400] * 40),
        "title": LengthHistogram.from_lengths([8] * 10),
    }
    meta = {"body_sample_size": 20000, "source": "../elsewhere/issues.jsonl.gz"}
    save_length_stats(directory / "length_stats.json", histograms, meta)
    app = start_app(monkeypatch, directory, "")
    app.switch_page("app_pages/lengths.py").run()
    assert_clean(app, "lengths with long bodies")
    captions = texts(app.caption)
    assert str(REPO_ROOT.parent / "elsewhere" / "issues.jsonl.gz") in captions and "../" not in captions
    assert "20,000-issue sample" in captions and "median 1,500 tokens" in captions
    assert next(metric.value for metric in app.metric if metric.label == "Suggested pad length") == "2,400 tokens"
    assert app.slider(key="pad_body").proto.format == "%,d"


def test_batch_upload_round_trip_and_a_bad_upload(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    app.switch_page("app_pages/summarize.py").run()
    good = pd.DataFrame(make_rows(count=6))[["body"]].assign(ticket=range(6)).to_csv(index=False).encode()
    app.file_uploader(key="batch_upload").set_value(("tickets.csv", good, "text/csv")).run()
    app.button(key="summarize_file").click().run()
    assert_clean(app, "batch")
    assert "Wrote titles for 6 of 6 rows" in texts(app.success)
    assert app.get("download_button")

    bad = pd.DataFrame({"text": ["no body column here"]}).to_csv(index=False).encode()
    app.file_uploader(key="batch_upload").set_value(("wrong.csv", bad, "text/csv")).run()
    assert_clean(app, "bad upload")
    message = texts(app.error)
    assert "wrong.csv: missing body" in message and "/tmp" not in message


def test_holdout_evaluates_the_test_split_and_an_upload(
    monkeypatch, bare_model, data_file, tmp_path, app_cache_directory
):
    model = tmp_path / "model"
    shutil.copytree(bare_model, model)
    (model / "metrics.json").write_text(json.dumps({"model": {"rougeL": 0.2428, "rows": 6622}}))
    before = directory_digest(model)
    with read_only(model):
        app = start_app(monkeypatch, model, data_file)
        app.switch_page("app_pages/holdout_browser.py").run()
        assert "no saved predictions" in texts(app.info)
        app.button(key="evaluate_test_split").click().run()
        assert_clean(app, "evaluation")
        assert any(metric.label == "Model ROUGE-L" for metric in app.metric)
    # The owner's model card is untouched: the evaluation went to the app's cache.
    assert directory_digest(model) == before
    cached = list((app_cache_directory / "predictions").glob("*.jsonl.gz"))
    assert len(cached) == 1 and cached[0].with_name(cached[0].name[:-9] + ".metrics.json").is_file()
    # A new session finds the cached evaluation instead of offering to evaluate again.
    again = start_app(monkeypatch, model, data_file)
    again.switch_page("app_pages/holdout_browser.py").run()
    assert "no saved predictions" not in texts(again.info)
    assert any(metric.label == "Model ROUGE-L" for metric in again.metric)

    app.segmented_control(key="holdout_source").set_value("Uploaded file").run()
    upload = pd.DataFrame(make_rows(count=12, seed=4)).to_csv(index=False).encode()
    app.file_uploader(key="holdout_upload").set_value(("mine.csv", upload, "text/csv")).run()
    assert_clean(app, "upload evaluation")
    assert any(metric.label == "Issues" and metric.value == "12" for metric in app.metric)


def detail_texts(app: AppTest) -> list[str]:
    """The plain texts of the holdout detail panel (repository, titles, first words, body)."""
    return [element.value for element in app.text]


def highlighted(app: AppTest) -> pd.Series:
    """The table row the holdout browser highlighted in this run."""
    table = app.dataframe[0]
    rows = json.loads(table.proto.selection_state)["selection"]["rows"]
    assert len(rows) == 1, rows
    return table.value.iloc[rows[0]]


def test_holdout_highlights_the_row_it_shows_and_explains_an_empty_filter(monkeypatch, evaluated_model, data_file):
    from issue_summarizer.evaluation.holdout import SHUFFLED

    app = start_app(monkeypatch, evaluated_model, data_file)
    app.switch_page("app_pages/holdout_browser.py").run()
    assert_clean(app, "holdout browser")
    # A visitor first sees a fair sample, not the worst titles; worst-first stays one choice away.
    order = app.selectbox(key="holdout_order")
    assert order.value == SHUFFLED and "Worst ROUGE-L first" in order.options
    # The first words are the body's own: no placeholders, no tokenizer spacing, no template heading.
    openings = app.dataframe[0].value["opening"]
    assert openings.str.startswith("The ").all() and not openings.str.contains("xxnum|Describe").any()
    assert not app.get("multiselect")[0].proto.select_all  # No bulk "Select all" that reads as one chip.
    for _ in range(3):
        app.button(key="holdout_random").click().run()
        assert_clean(app, "random example")
        row = highlighted(app)
        assert row["title"] in detail_texts(app) and row["opening"] in detail_texts(app)
    # A click in the table (its selection) moves the detail panel to that row.
    app.session_state["holdout_table"] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    app.run()
    assert app.dataframe[0].value.iloc[3]["title"] in detail_texts(app)
    chosen = app.dataframe[0].value.iloc[3]["title"]
    # Nothing matches: one message, and neither a table nor a stale detail panel.
    app.text_input(key="holdout_search").set_value("no issue says this").run()
    assert_clean(app, "empty filter")
    assert "None of the" in texts(app.info) and "issues match these filters" in texts(app.info)
    assert not app.dataframe and not detail_texts(app) and not app.get("button")
    # The chosen row comes back, highlighted, once the filter lets it through again.
    app.text_input(key="holdout_search").set_value("").run()
    assert highlighted(app)["title"] == chosen and chosen in detail_texts(app)


def test_holdout_upload_without_repositories_says_so_once(monkeypatch, bare_model):
    app = start_app(monkeypatch, bare_model, "")
    app.switch_page("app_pages/holdout_browser.py").run()
    app.segmented_control(key="holdout_source").set_value("Uploaded file").run()
    upload = pd.DataFrame(make_rows(count=12, seed=4))[["title", "body"]].to_csv(index=False).encode()
    app.file_uploader(key="holdout_upload").set_value(("no_repo.csv", upload, "text/csv")).run()
    assert_clean(app, "upload without repositories")
    assert texts(app.caption).count("no repository column") == 1
    assert "repo" not in app.dataframe[0].value.columns and not app.get("multiselect")
    assert "unknown" not in page_text(app)
    assert next(metric.value for metric in app.metric if metric.label == "Repositories") == "–"


def test_data_from_other_repositories_is_explained(monkeypatch, bare_model, tmp_path):
    other = write_jsonl_gz(tmp_path / "other.jsonl.gz", make_rows(count=30, repositories=3, seed=1))
    frame = pd.read_json(other, lines=True).assign(repo=lambda rows: "someone/" + rows["repo"])
    frame.to_json(other, orient="records", lines=True, compression="gzip")
    app = start_app(monkeypatch, bare_model, other)
    for page in ("app_pages/holdout_browser.py", "app_pages/similar_issues.py"):
        app.switch_page(page).run()
        assert_clean(app, page)
        assert "not in the model's split" in texts(app.error)
        assert len(app.error) == 1, texts(app.error)


def test_a_missing_model_is_explained_on_every_page(monkeypatch, tmp_path):
    app = start_app(monkeypatch, tmp_path / "no_model", "")
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
    app.switch_page("app_pages/overview.py").run()
    assert "no such model directory" in texts(app.error)
    assert "python -m issue_summarizer train" in texts(app.markdown)


def page_text(app: AppTest) -> str:
    """Everything a visitor can read on the page and in the sidebar, as one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error", "success"):
        parts.append(texts(app.get(kind)))
    parts += [f"{metric.label} {metric.value}" for metric in app.metric]
    parts += [f"{box.label} {box.options} {box.value}" for box in app.selectbox]
    parts += [f"{box.label} {box.value}" for box in app.text_input]
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(parts)


@pytest.fixture
def shared_server(monkeypatch, tmp_path, data_file):
    """Shared-mode settings: a data directory with one data file and a link that leads out of it."""
    directory = tmp_path / "served"
    directory.mkdir()
    shutil.copy(data_file, directory / "issues.jsonl.gz")
    secret = tmp_path / "private.jsonl.gz"
    write_jsonl_gz(secret, [{"repo": "owner0/project0", "title": "SECRET title", "body": "SECRET body"}] * 5)
    (directory / "escape.jsonl.gz").symlink_to(secret)
    monkeypatch.setenv("ISSUE_SUMMARIZER_SHARED", "1")
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA_DIR", str(directory))
    monkeypatch.delenv("ISSUE_SUMMARIZER_DATA", raising=False)
    return directory


def test_shared_mode_offers_only_the_data_directory_and_shows_no_server_path(
    monkeypatch, shared_server, evaluated_model, tmp_path
):
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(evaluated_model))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    choice = app.sidebar.selectbox(key="data_path")
    assert choice.options == ["issues.jsonl.gz"] and choice.value is None
    choice.set_value("issues.jsonl.gz").run()
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
        text = page_text(app)
        for server_path in (str(tmp_path), str(REPO_ROOT), "/tmp", "/root", "/home"):
            assert server_path not in text, f"{page} shows {server_path}"
        assert "SECRET" not in text
    app.switch_page("app_pages/lengths.py").run()
    app.segmented_control(key="length_source").set_value("Data file").run()
    app.toggle(key="count_Data file").set_value(True).run()
    assert_clean(app, "lengths from the data file")
    assert any(metric.label == "Suggested pad length" for metric in app.metric)


@pytest.mark.parametrize(
    ("requested", "refusal"),
    [
        ("../private.jsonl.gz", "'..' is not allowed"),
        ("{tmp}/private.jsonl.gz", "only files in the demo's data directory"),
        ("escape.jsonl.gz", "escape.jsonl.gz: links to a file outside the data directory"),
    ],
)
def test_shared_mode_refuses_a_data_path_outside_the_data_directory(
    monkeypatch, shared_server, bare_model, tmp_path, requested, refusal
):
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", requested.format(tmp=tmp_path))
    app = start_app(monkeypatch, bare_model, requested.format(tmp=tmp_path))
    assert refusal in texts(app.sidebar.warning)
    for page in ("app_pages/holdout_browser.py", "app_pages/similar_issues.py"):
        app.switch_page(page).run()
        assert_clean(app, page)
        assert "No held-out data yet" in texts(app.info) and "SECRET" not in page_text(app)
        assert str(tmp_path) not in page_text(app)


def test_shared_mode_fetches_without_a_token_and_does_not_advise_one(monkeypatch, shared_server, bare_model):
    from tests.github_stub import running_fake_github

    with running_fake_github() as github:
        monkeypatch.setenv("GITHUB_API_URL", github.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", "ghp_operators_own_token")
        app = start_app(monkeypatch, bare_model, "")
        app.switch_page("app_pages/summarize.py").run()
        url = app.text_input(key="issue_url")
        assert "GITHUB_TOKEN" not in url.proto.help and "without a token" in url.proto.help
        url.set_value("https://github.com/octo/demo/issues/99").run()
        app.button(key="fetch_issue").click().run()
        assert_clean(app, "a failed fetch on a shared server")
    message = texts(app.error)
    assert "could not find issue octo/demo#99" in message and "this demo server fetches public issues only" in message
    assert "GITHUB_TOKEN" not in message
    assert github.requests and all("authorization" not in request.headers for request in github.requests)


def test_a_missing_model_on_a_shared_server_names_no_server_path(monkeypatch, shared_server, tmp_path):
    app = start_app(monkeypatch, tmp_path / "no_model", "")
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
        assert str(tmp_path) not in page_text(app), page
    assert "no_model: no such model directory" in texts(app.sidebar.caption)


def test_a_corrupt_model_on_a_shared_server_names_no_server_path(monkeypatch, shared_server, bare_model, tmp_path):
    # The configuration reads, so the Overview gets as far as the architecture, which needs the weights.
    broken = tmp_path / "models" / "broken"
    shutil.copytree(bare_model, broken)
    (broken / "model.keras").write_bytes(b"not a zip file")
    app = start_app(monkeypatch, broken, "")
    for page in PAGES:
        app.switch_page(page).run()
        assert_clean(app, page)
        assert str(tmp_path) not in page_text(app), page
    app.switch_page("app_pages/overview.py").run()
    assert "The configuration is readable but the model is not: broken/model.keras: cannot load the model" in texts(
        app.warning
    )


def test_batch_mode_fetches_a_column_of_issue_urls(monkeypatch, bare_model):
    from tests.github_stub import ISSUE, running_fake_github

    with running_fake_github() as github:
        monkeypatch.setenv("GITHUB_API_URL", github.api_url)
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)
        app = start_app(monkeypatch, bare_model, "")
        app.switch_page("app_pages/summarize.py").run()
        urls = ["https://github.com/octo/demo/issues/1", "https://github.com/octo/demo/pull/2", "not a url"]
        upload = pd.DataFrame({"url": urls, "ticket": [1, 2, 3]}).to_csv(index=False).encode()
        app.file_uploader(key="batch_upload").set_value(("links.csv", upload, "text/csv")).run()
        assert_clean(app, "url upload")
        app.button(key="summarize_file").click().run()
        assert_clean(app, "url batch")
    assert "Wrote titles for 2 of 3 rows" in texts(app.success)
    table = app.dataframe[0].value
    assert table["github_title"].tolist()[0] == ISSUE["title"] and table["ticket"].tolist() == ["1", "2", "3"]
    assert table["predicted_title"].tolist()[2] == "" and "not a GitHub issue URL" in table["problem"].tolist()[2]
    assert len(github.requests) == 2  # The bad URL was never sent.


def test_a_long_body_window_round_trips_into_the_app(monkeypatch, tmp_path):
    """A model that reads 100 tokens trains, saves, reloads, and the app draws and lists its whole window."""
    from issue_summarizer.cli.main import main
    from tests.conftest import make_copy_rows

    filler = " ".join(f"word{index % 40}" for index in range(120))
    rows = [row | {"body": row["body"] + " " + filler} for row in make_copy_rows(count=200, repositories=16)]
    data = write_jsonl_gz(tmp_path / "long.jsonl.gz", rows)
    model = tmp_path / "model"
    argv = ["train", "--data", str(data), "--out", str(model), "--config", "tiny-attention", "--body-length", "100"]
    assert main([*argv, "--epochs", "2", "--workers", "1"]) == 0
    assert json.loads((model / "config.json").read_text())["body_length"] == 100
    app = start_app(monkeypatch, model, "")
    app.switch_page("app_pages/summarize.py").run()
    app.text_area(key="issue_body").set_value(rows[0]["body"]).run()
    app.button(key="generate").click().run()
    app.toggle(key="show_attention").set_value(True).run()
    assert_clean(app, "long window")
    assert app.slider(key="attention_start").max == 100 - 70
    assert "of the 100 the model read are drawn" in texts(app.caption)
    assert "The model read 100 tokens" in texts(app.markdown)


# The untrained model embeds the fixture's 120 templated bodies almost alike, so UMAP's spectral
# start has no eigengap and falls back to a random start, as it says; a real map is not affected.
@pytest.mark.filterwarnings("ignore:Spectral initialisation failed:UserWarning")
def test_an_embeddings_file_round_trips_into_the_similar_issues_page(monkeypatch, bare_model, tmp_path):
    """`embed` writes vectors; the page maps a sample of them and searches all of them."""
    from issue_summarizer.cli.main import main

    rows = pd.DataFrame(make_rows(count=120, seed=5))
    source = tmp_path / "issues.jsonl"
    rows.to_json(source, orient="records", lines=True)
    vectors = tmp_path / "vectors.parquet"
    argv = ["embed", "--model", str(bare_model), "--input", str(source), "--output", str(vectors)]
    assert main([*argv, "--chunk-rows", "50"]) == 0
    app = start_app(monkeypatch, bare_model, vectors)
    app.switch_page("app_pages/similar_issues.py").run()
    app.segmented_control(key="similar_source").set_value("Embeddings file").run()
    assert_clean(app, "embeddings file")
    assert not app.error, texts(app.error)
    app.text_area(key="similar_query").set_value(rows.loc[3, "body"]).run()
    assert_clean(app, "embeddings file query")
    neighbours = app.dataframe[-1].value
    assert len(neighbours) == 10 and neighbours["similarity"].is_monotonic_decreasing
    assert neighbours["title"].iloc[0] == rows.loc[3, "title"]  # The issue itself is its nearest neighbour.
    # Another data file is explained, not mistaken for vectors.
    app.sidebar.text_input(key="data_path").set_value(str(source)).run()
    assert "Choose a vectors file" in texts(app.info)


def chart_colour_domains(app: AppTest) -> list[list[str]]:
    """The colour groups each Vega-Lite chart on the page names in its legend."""
    domains = []
    for chart in app.get("vega_lite_chart"):
        proto = chart.proto
        spec = json.loads(proto.spec if hasattr(proto, "spec") else proto.vega_lite_chart.spec)
        for layer in [spec, *spec.get("layer", [])]:
            domain = layer.get("encoding", {}).get("color", {}).get("scale", {}).get("domain")
            if domain:
                domains.append(domain)
    return domains


def test_the_similar_page_searches_by_meaning_and_words_and_names_clusters_plainly(
    monkeypatch, evaluated_model, data_file
):
    """The hybrid search shows each neighbour's fused match and ranks; cluster names hold no fragments."""
    app = start_app(monkeypatch, evaluated_model, data_file)
    app.switch_page("app_pages/similar_issues.py").run()
    app.text_area(key="similar_query").set_value(make_rows(count=1, seed=3)[0]["body"]).run()
    assert_clean(app, "similar issues query")
    neighbours = app.dataframe[-1].value
    assert {"similarity", "meaning_rank", "words_rank"} <= set(neighbours.columns)
    assert len(neighbours) == 10 and neighbours["similarity"].is_monotonic_decreasing
    # The match is the fused score in standard deviations: the nearest stand well above the typical issue.
    assert neighbours["similarity"].iloc[0] > 1.0 and "standard deviations" in texts(app.caption)
    assert (neighbours["meaning_rank"].dropna() >= 1).all()
    app.segmented_control(key="similar_colour").set_value("Topic cluster").run()
    assert_clean(app, "similar issues clusters")
    (names,) = chart_colour_domains(app)
    labels = [name.split(": ", 1)[1].split() for name in names if ": " in name]
    assert labels, names
    words = [word for label in labels for word in label]
    assert all(len(word) >= 3 for word in words), names
    shared = set.intersection(*(set(label) for label in labels)) if len(labels) > 1 else set()
    assert not shared, names
