"""`warm-cache` stores what the Holdout browser and Similar issues pages compute on a first visit,
where those pages look: run on the shipped model and a handful of made-up issues."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from issue_summarizer.app import cache_warming
from issue_summarizer.app.deployment import Deployment
from issue_summarizer.cli.main import main
from issue_summarizer.inference.summarizer import Summarizer
from issue_summarizer.scale import similarity
from tests.conftest import REPO_ROOT, directory_digest, write_jsonl_gz

SHIPPED_MODEL = REPO_ROOT / "model"
APP = str(REPO_ROOT / "app.py")
TIMEOUT = 180
# Made-up issues; each body is sent to the model, so they read like real reports.
BODIES = [
    ("Crash when loading a checkpoint", "Loading a checkpoint saved on GPU crashes on a CPU-only machine."),
    ("Docs link is broken", "The installation page links to a tutorial that returns 404."),
    ("Memory leak in data loader", "Memory grows by 200 MB every epoch when the data loader uses workers."),
    ("Add support for Python 3.12", "Installing on Python 3.12 fails because a dependency pins an old version."),
    ("Slow import time", "Importing the package takes 9 seconds because every plugin is loaded eagerly."),
    ("Wrong shape after transpose", "Calling transpose on a 3-D tensor returns the shape of the input unchanged."),
    ("Build fails on Windows", "The build stops with a linker error about a missing symbol on Windows 11."),
    ("Typo in error message", "The error says 'recieved' instead of 'received' when the config is invalid."),
    ("Progress bar never finishes", "The progress bar stays at 99% after training ends and the process hangs."),
    ("Unicode file names are rejected", "Saving to a path with accented letters raises an encoding error."),
    ("Segfault with empty input", "Passing an empty list to the tokenizer ends the process with a segfault."),
    ("Request: export to ONNX", "It would help to export trained models to ONNX for serving in C++."),
]
TEST_ISSUES = len(BODIES)


def made_up_issues() -> list[dict]:
    """The issues above spread over three test-split repositories, and one from a training repository,
    which the test split leaves out, as the app does."""
    split = json.loads((SHIPPED_MODEL / "split.json").read_text())
    test_repositories = [name for name in split["test"] if re.fullmatch(r"[\w.-]+/[\w.-]+", name)][:3]
    rows = [
        {"repo": test_repositories[index % 3], "title": title, "body": body}
        for index, (title, body) in enumerate(BODIES)
    ]
    rows.append({"repo": split["train"][0], "title": "A training issue", "body": "This repository trained the model."})
    return rows


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A copy of the shipped model without saved predictions (a checkout may hold some; the app
    would then show those and evaluate nothing)."""
    if not (SHIPPED_MODEL / "model.keras").is_file():
        pytest.skip("the shipped model is not in this checkout")
    directory = tmp_path_factory.mktemp("shipped") / "model"
    shutil.copytree(SHIPPED_MODEL, directory, ignore=shutil.ignore_patterns("predictions_*", "checkpoints"))
    return directory


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_jsonl_gz(tmp_path_factory.mktemp("data") / "issues.jsonl.gz", made_up_issues())


@pytest.fixture(scope="module")
def warmed(model, data, tmp_path_factory) -> dict:
    """One `warm-cache` run into its own cache directory, and a second run over the same cache."""
    cache = tmp_path_factory.mktemp("warmed_cache")
    model_before = directory_digest(model)
    runs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ISSUE_SUMMARIZER_CACHE", str(cache))
        patch.setenv("ISSUE_SUMMARIZER_MODEL", str(model))
        for _ in range(2):
            capture = _Capture()
            with capture:
                status = main(["warm-cache", "--model", str(model), "--data", str(data)])
            runs.append((status, capture.text, directory_digest(cache)))
    return {"cache": cache, "runs": runs, "model_before": model_before}


class _Capture:
    """stdout and stderr of a block, captured without pytest's function-scoped `capsys`."""

    def __enter__(self) -> _Capture:
        self.buffer = io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self.buffer))
        self._stack.enter_context(contextlib.redirect_stderr(self.buffer))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self.text = self.buffer.getvalue()


def test_estimates_scale_the_measured_first_visits():
    # The measured figures themselves: 6,622 test issues in 133 s; a map of 2,000 issues in 26 s.
    assert "about 2 minutes" in cache_warming.evaluation_caption(6622)
    assert "about 30 seconds" in cache_warming.map_caption(2000)
    assert "warm-cache" in cache_warming.evaluation_caption(6622)
    assert "a few seconds" in cache_warming.evaluation_caption(100)
    assert [cache_warming.duration_text(seconds) for seconds in (3, 25, 70, 133, 1800, 8000)] == [
        "a few seconds",
        "about 30 seconds",
        "about a minute",
        "about 2 minutes",
        "about 30 minutes",
        "about 2 hours",
    ]


def test_a_missing_model_or_data_file_is_one_error_line(tmp_path, data, model, capsys):
    assert main(["warm-cache", "--model", str(tmp_path / "nowhere"), "--data", str(data)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "nowhere: no such model directory" in error
    assert main(["warm-cache", "--model", str(model), "--data", str(tmp_path / "missing.jsonl.gz")]) == 2
    assert "missing.jsonl.gz: no such data file" in capsys.readouterr().err
    assert main(["warm-cache", "--model", str(model), "--data", str(tmp_path)]) == 2
    assert "not a file" in capsys.readouterr().err
    # Nothing was written on the way to those errors.
    assert not any((tmp_path / "app_cache").glob("**/*"))


def test_shared_mode_warns_about_a_file_visitors_cannot_choose(tmp_path, model, data):
    served = tmp_path / "served"
    served.mkdir()
    settings = Deployment(shared=True, data_directory=served.resolve(), cache_directory=tmp_path / "cache")
    assert any(
        "visitors cannot choose it" in warning for warning in cache_warming.visitor_warnings(settings, model, data)
    )
    inside = shutil.copy(data, served / "issues.jsonl.gz")
    assert not any("visitors" in warning for warning in cache_warming.visitor_warnings(settings, model, Path(inside)))


@pytest.mark.slow
def test_warm_cache_stores_what_the_pages_look_up(warmed, model, data):
    cache = warmed["cache"]
    (status, output, _), (again_status, again_output, again_digest) = warmed["runs"]
    assert status == 0, output
    assert f"titled and scored {TEST_ISSUES} issues in" in output
    assert f"embedded {TEST_ISSUES} issues in" in output and "loaded the model in" in output
    # The Holdout browser's lookup finds the test split's evaluation: the test rows, not the training one.
    evaluation = cache_warming.read_cached_evaluation(cache, model, data)
    assert evaluation is not None
    assert sorted(evaluation.frame["title"]) == sorted(title for title, _ in BODIES)
    assert evaluation.metrics["split"] == "test" and evaluation.metrics["model"]["rows"] == TEST_ISSUES
    # The Similar issues page's key, made from the issues it would now map, names the stored vectors.
    frame, source = cache_warming.held_out_frame(model, cache, data)
    sample = cache_warming.map_sample(frame)
    path = cache_warming.embeddings_cache_path(cache, cache_warming.map_identity(model, source, len(sample)))
    vectors = cache_warming.read_cached_embeddings(path, len(sample))
    assert vectors is not None and vectors.shape[0] == TEST_ISSUES and np.isfinite(vectors).all()
    # A second run finds both, computes nothing (it does not even load the model) and changes nothing.
    assert again_status == 0
    assert "already cached" in again_output and "loaded the model" not in again_output
    assert again_digest == warmed["runs"][0][2]
    # The model directory is never written.
    assert directory_digest(model) == warmed["model_before"]


@pytest.mark.slow
def test_the_app_opens_both_pages_from_the_warmed_cache(warmed, model, data, monkeypatch):
    cache = warmed["cache"]
    before = directory_digest(cache)
    monkeypatch.setenv("ISSUE_SUMMARIZER_CACHE", str(cache))
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(model))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", str(data))
    embedded: list[int] = []
    original_embed = Summarizer.embed

    def counting_embed(self, texts, *args, **kwargs):
        embedded.append(len(texts))
        return original_embed(self, texts, *args, **kwargs)

    monkeypatch.setattr(Summarizer, "embed", counting_embed)
    # UMAP's first fit in a process compiles for half a minute; the map's placement is not what is tested.
    monkeypatch.setattr(similarity, "fit_map", lambda vectors, **_: (None, np.zeros((len(vectors), 2), np.float32)))

    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page("app_pages/holdout_browser.py").run()
    assert not app.exception, [item.value for item in app.exception]
    assert not any(button.key == "evaluate_test_split" for button in app.button)
    assert any(metric.label == "Issues" and metric.value == str(TEST_ISSUES) for metric in app.metric)

    app.switch_page("app_pages/similar_issues.py").run()
    assert not app.exception, [item.value for item in app.exception]
    assert not app.error, [item.value for item in app.error]
    assert not any("The first map takes" in caption.value for caption in app.caption)
    assert embedded == []  # The vectors came from the cache.
    assert directory_digest(cache) == before


@pytest.mark.slow
def test_the_page_and_the_command_store_the_same_evaluation(warmed, model, data, monkeypatch, app_cache_directory):
    """The Holdout browser's button, in a cache of its own, stores what `warm-cache` stored."""
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(model))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", str(data))
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page("app_pages/holdout_browser.py").run()
    assert any("warm-cache" in caption.value for caption in app.caption)  # Said before the click.
    app.button(key="evaluate_test_split").click().run()
    assert not app.exception, [item.value for item in app.exception]
    page = cache_warming.read_cached_evaluation(app_cache_directory, model, data)
    command = cache_warming.read_cached_evaluation(warmed["cache"], model, data)
    assert page is not None and command is not None
    assert page.frame.equals(command.frame)
    assert page.metrics == command.metrics


@pytest.mark.slow
def test_saved_predictions_are_mapped_and_not_evaluated_again(
    warmed, model, data, tmp_path, app_cache_directory, capsys
):
    """With the owner's `predictions_test.jsonl.gz` the Holdout browser shows those, and the map is drawn from them."""
    owned = tmp_path / "model"
    shutil.copytree(model, owned)
    command = cache_warming.read_cached_evaluation(warmed["cache"], model, data)
    assert command is not None
    saved = owned / "predictions_test.jsonl.gz"
    command.frame.to_json(saved, orient="records", lines=True, compression="gzip")
    assert main(["warm-cache", "--model", str(owned), "--data", str(data)]) == 0
    output = capsys.readouterr().out
    assert "shows the model's own predictions_test.jsonl.gz; nothing to evaluate" in output
    assert not (app_cache_directory / "predictions").exists()
    _, source = cache_warming.held_out_frame(owned, app_cache_directory, data)
    assert source.startswith(str(saved.resolve()))
    identity = cache_warming.map_identity(owned, source, TEST_ISSUES)
    assert (
        cache_warming.read_cached_embeddings(
            cache_warming.embeddings_cache_path(app_cache_directory, identity), TEST_ISSUES
        )
        is not None
    )
