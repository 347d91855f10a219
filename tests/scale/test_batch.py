import json

import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from tests.conftest import REPO_ROOT, make_rows

pytestmark = pytest.mark.slow


def test_summarize_keeps_every_row_and_column(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=8))[["body"]].assign(ticket=range(8))
    rows.loc[3, "body"] = "   "
    rows.to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "summarize",
                "--model",
                str(trained_tiny_model),
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["ticket"].tolist() == list(range(8))
    assert list(out.columns) == ["body", "ticket", "predicted_title", "title_score", "confidence", "problem"]
    assert out.loc[3, "predicted_title"] == "" and "empty" in out.loc[3, "problem"]
    assert all(out.loc[row, "predicted_title"] for row in range(8) if row != 3)
    assert "1 without a title" in capsys.readouterr().out


def test_summarize_jsonl_with_the_shipped_model(tmp_path):
    pd.DataFrame(make_rows(count=5)).to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    assert (
        main(
            [
                "summarize",
                "--input",
                str(tmp_path / "in.jsonl"),
                "--output",
                str(tmp_path / "out.jsonl"),
                "--model",
                str(REPO_ROOT / "model"),
                "--beam-width",
                "3",
            ]
        )
        == 0
    )
    out = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert len(out) == 5 and out["predicted_title"].str.len().gt(0).all() and "repo" in out.columns


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nowhere"], "no such model directory"),
        (["--output", "out.txt"], "unknown output type"),
    ],
)
def test_summarize_errors_are_one_line(tmp_path, capsys, args, message):
    pd.DataFrame(make_rows(count=2)).to_csv(tmp_path / "in.csv", index=False)
    base = {
        "--model": str(REPO_ROOT / "model"),
        "--input": str(tmp_path / "in.csv"),
        "--output": str(tmp_path / "o.csv"),
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["summarize"] + [item for pair in base.items() for item in pair]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_summarize_wrong_csv_schema(tmp_path, capsys):
    pd.DataFrame({"name": ["x"]}).to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            [
                "summarize",
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "o.csv"),
                "--model",
                str(REPO_ROOT / "model"),
            ]
        )
        == 2
    )
    assert "missing body" in capsys.readouterr().err


def summarize_args(model, source, output, *extra) -> list[str]:
    return ["summarize", "--model", str(model), "--input", str(source), "--output", str(output), *extra]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl.gz"])
def test_streaming_in_chunks_gives_the_same_output_as_one_chunk(trained_tiny_model, tmp_path, suffix):
    rows = pd.DataFrame(make_rows(count=50)).assign(ticket=range(50))
    rows.loc[7, "body"] = ""
    source = tmp_path / "in.jsonl"
    rows.to_json(source, orient="records", lines=True)
    whole, chunked = tmp_path / f"whole{suffix}", tmp_path / f"chunked{suffix}"
    assert main(summarize_args(trained_tiny_model, source, whole, "--chunk-rows", "1000")) == 0
    assert main(summarize_args(trained_tiny_model, source, chunked, "--chunk-rows", "7")) == 0
    read = pd.read_csv if suffix == ".csv" else lambda path: pd.read_json(path, lines=True)
    pd.testing.assert_frame_equal(read(whole), read(chunked))
    out = read(chunked)
    assert out["ticket"].tolist() == list(range(50)) and "empty body" in str(out.loc[7, "problem"])
    assert not (tmp_path / f"chunked{suffix}.progress.json").exists()


def test_a_run_killed_after_some_chunks_resumes_to_the_same_output(trained_tiny_model, tmp_path, monkeypatch):
    from issue_summarizer.scale import batch

    rows = pd.DataFrame(make_rows(count=60)).assign(ticket=range(60))
    source = tmp_path / "in.csv"
    rows.to_csv(source, index=False)
    uninterrupted, interrupted = tmp_path / "uninterrupted.csv", tmp_path / "interrupted.csv"
    assert main(summarize_args(trained_tiny_model, source, uninterrupted, "--chunk-rows", "16")) == 0

    real = batch.summarize_frame
    calls = []

    def dies_in_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            # A chunk half written when the process dies: resume must cut it off.
            with interrupted.open("a") as handle:
                handle.write("half a row,")
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "summarize_frame", dies_in_the_third_chunk)
    assert main(summarize_args(trained_tiny_model, source, interrupted, "--chunk-rows", "16")) == 130
    progress = batch.progress_path(interrupted)
    assert '"rows": 32' in progress.read_text()
    # A progress file as an older version wrote it, without the model and decoding: still resumed.
    state = json.loads(progress.read_text())
    progress.write_text(json.dumps({key: state[key] for key in ("input", "chunk_rows", "rows", "output_bytes")}))
    monkeypatch.setattr(batch, "summarize_frame", real)
    assert main(summarize_args(trained_tiny_model, source, interrupted, "--chunk-rows", "16", "--resume")) == 0
    assert interrupted.read_bytes() == uninterrupted.read_bytes()
    assert not progress.exists()


def test_resume_refuses_another_input_or_chunk_size(trained_tiny_model, tmp_path, capsys):
    from issue_summarizer.scale import batch

    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=5)).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    output.write_text("x")
    batch.progress_path(output).write_text('{"input": "elsewhere", "chunk_rows": 8, "rows": 16, "output_bytes": 1}')
    assert main(summarize_args(trained_tiny_model, source, output, "--chunk-rows", "16", "--resume")) == 2
    error = capsys.readouterr().err
    assert "another input file" in error and "another --chunk-rows (the run used 8, now 16)" in error
    assert output.read_text() == "x"


def interrupt_in_the_second_chunk(monkeypatch, model, source, output) -> None:
    """Run `summarize` in chunks of 16 rows and stop it while it titles the second chunk."""
    from issue_summarizer.scale import batch

    real = batch.summarize_frame
    calls = []

    def dies_in_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "summarize_frame", dies_in_the_second_chunk)
    assert main(summarize_args(model, source, output, "--chunk-rows", "16")) == 130
    monkeypatch.setattr(batch, "summarize_frame", real)
    assert '"rows": 16' in batch.progress_path(output).read_text()


def test_resume_refuses_another_model_or_beam_width(trained_tiny_model, tmp_path, monkeypatch, capsys):
    import shutil
    from dataclasses import replace

    from issue_summarizer.config import SummarizerConfig
    from issue_summarizer.scale import batch

    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=40)).to_csv(source, index=False)
    uninterrupted, interrupted = tmp_path / "uninterrupted.csv", tmp_path / "interrupted.csv"
    assert main(summarize_args(trained_tiny_model, source, uninterrupted, "--chunk-rows", "16")) == 0
    interrupt_in_the_second_chunk(monkeypatch, trained_tiny_model, source, interrupted)
    written = interrupted.read_bytes()
    own_width = SummarizerConfig.load(trained_tiny_model).beam_width
    resume = ("--chunk-rows", "16", "--resume")

    # Another beam width would append titles of another decoding to the first chunk's.
    assert main(summarize_args(trained_tiny_model, source, interrupted, *resume, "--beam-width", "2")) == 2
    error = capsys.readouterr().err
    assert f"another --beam-width (the run used {own_width}, now 2)" in error and "--model" not in error
    # Another model: a copy whose tuned decoding settings differ.
    retuned = tmp_path / "retuned"
    shutil.copytree(trained_tiny_model, retuned, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
    config = SummarizerConfig.load(retuned)
    replace(config, length_penalty=config.length_penalty + 0.5).save(retuned)
    assert main(summarize_args(retuned, source, interrupted, *resume)) == 2
    error = capsys.readouterr().err
    assert f"another --model ({retuned.resolve()}; the run's model was {trained_tiny_model.resolve()})" in error
    assert interrupted.read_bytes() == written and batch.progress_path(interrupted).is_file()

    # The same model copied elsewhere, with its own width named, decodes the same titles: resumed.
    copy = tmp_path / "copy"
    shutil.copytree(trained_tiny_model, copy, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
    assert main(summarize_args(copy, source, interrupted, *resume, "--beam-width", str(own_width))) == 0
    assert interrupted.read_bytes() == uninterrupted.read_bytes()


def test_summarize_refuses_to_write_over_its_input_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    original = source.read_bytes()
    (tmp_path / "link.csv").symlink_to(source)
    # The same file by another spelling, through a link, and with --resume; the missing model
    # shows that the refusal comes first.
    for output in (source, tmp_path / "." / "in.csv", tmp_path / "link.csv"):
        for extra in ([], ["--resume"]):
            argv = summarize_args(tmp_path / "no-model", source, output, *extra)
            assert main(argv) == 2
            error = capsys.readouterr().err
            assert "this is the input file" in error and "choose another --output" in error
            assert len(error.strip().splitlines()) == 1
    assert source.read_bytes() == original


def test_a_beam_width_below_one_is_refused_before_anything_is_written(tmp_path):
    from argparse import Namespace

    from issue_summarizer.scale.batch import summarize_file

    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    args = Namespace(
        model=tmp_path / "no-model",
        input=str(source),
        output=tmp_path / "out.csv",
        beam_width=0,
        batch_size=256,
        chunk_rows=16,
        resume=False,
        preset=None,
        columns=None,
        limit=None,
    )
    with pytest.raises(ValueError, match="at least 1 .*got 0"):
        summarize_file(args)
    assert not (tmp_path / "out.csv").exists()


def test_parquet_output_is_written_in_chunks_but_not_resumed(trained_tiny_model, tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=20)).to_csv(source, index=False)
    output = tmp_path / "out.parquet"
    # `--resume` with nothing to resume starts the run, whatever the output type.
    assert main(summarize_args(trained_tiny_model, source, output, "--chunk-rows", "6", "--resume")) == 0
    assert len(pd.read_parquet(output)) == 20
    from issue_summarizer.scale import batch

    batch.progress_path(output).write_text(
        f'{{"input": "{source.resolve()}:{source.stat().st_size}", "chunk_rows": 6, "rows": 6, "output_bytes": 1}}'
    )
    assert main(summarize_args(trained_tiny_model, source, output, "--chunk-rows", "6", "--resume")) == 2
    assert "cannot be resumed" in capsys.readouterr().err
    # Refused before the output is cut back to the recorded size.
    assert len(pd.read_parquet(output)) == 20


def test_summarize_titles_the_rows_whose_title_is_empty(trained_tiny_model, tmp_path, capsys):
    body = "The app crashes with a segfault when I click save on a large file"
    source = tmp_path / "in.csv"
    source.write_text(f"title,body\n,{body}\nKept title,{body}\n")
    assert main(summarize_args(trained_tiny_model, source, tmp_path / "out.csv")) == 0
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["problem"].tolist() == ["", ""] and all(out["predicted_title"])
    assert out["title"].tolist() == ["", "Kept title"] and "without a title" not in capsys.readouterr().out
    # A JSON array (here a `.json` file) with a null title: titled, and the null written back as it was.
    source = tmp_path / "in.json"
    source.write_text(json.dumps([{"title": None, "body": body, "ticket": 1}, {"body": body, "ticket": 2}]))
    assert main(summarize_args(trained_tiny_model, source, tmp_path / "out.jsonl")) == 0
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["problem"] for line in lines] == ["", ""] and all(line["predicted_title"] for line in lines)
    assert lines[0]["title"] is None and [line["ticket"] for line in lines] == [1, 2]


def test_summarize_refuses_an_input_with_its_own_output_columns_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "input.csv"
    rows = pd.DataFrame(make_rows(count=3))
    rows.assign(problem=["a", "b", "c"], predicted_title=["x", "y", "z"]).to_csv(source, index=False)
    original = source.read_bytes()
    output = tmp_path / "out.csv"
    # The missing model shows that the refusal comes before the model is loaded.
    for extra in ([], ["--resume"]):
        assert main(summarize_args(tmp_path / "no-model", source, output, *extra)) == 2
        assert capsys.readouterr().err == (
            f"error: {source}: already has columns problem, predicted_title, which summarize writes; "
            "rename them in the file (or drop them) and run again\n"
        )
    assert not output.exists() and source.read_bytes() == original


def test_a_column_that_first_appears_in_a_later_chunk_is_refused_too(trained_tiny_model, tmp_path, capsys):
    records = make_rows(count=6)
    records[4]["title_score"] = 0.5  # JSON lines: a key of the fifth record only, in the third chunk of two rows.
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert main(summarize_args(trained_tiny_model, source, tmp_path / "out.csv", "--chunk-rows", "2")) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {source}: already has a column title_score, which summarize writes; "
        "rename it in the file (or drop it) and run again"
    )


def test_summarize_says_an_output_directory_is_a_directory_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    for name in ("results", "results.csv"):
        output = tmp_path / name
        output.mkdir()
        assert main(summarize_args(tmp_path / "no-model", source, output)) == 2
        assert capsys.readouterr().err == (
            f"error: {output}: is a directory; --output names the file to write, such as {output / 'titles.csv'}\n"
        )


def test_rows_whose_url_could_not_be_fetched_keep_that_reason_and_get_no_title(trained_tiny_model):
    from issue_summarizer.inference.summarizer import Summarizer
    from issue_summarizer.scale.batch import summarize_frame

    bodies = [row["body"] for row in make_rows(count=3)]
    # As `fetch_bodies` leaves a table: our own `problem` column, set where a URL failed.
    fetched = pd.DataFrame({"url": ["u1", "u2", "u3"], "body": [bodies[0], "", bodies[2]]})
    fetched["problem"] = ["", "https://github.com/o/r/issues/2: not found", ""]
    result = summarize_frame(Summarizer.load(trained_tiny_model), fetched, beam_width=1)
    assert result["problem"].tolist() == ["", "https://github.com/o/r/issues/2: not found", ""]
    assert result["predicted_title"].tolist()[1] == "" and all(result["predicted_title"].tolist()[::2])
    assert list(result.columns) == ["url", "body", "predicted_title", "title_score", "confidence", "problem"]


def test_resume_of_a_finished_output_says_so_and_titles_nothing_again(trained_tiny_model, tmp_path, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=9)).to_csv(source, index=False)
    output = tmp_path / "output.csv"
    assert main(summarize_args(trained_tiny_model, source, output, "--chunk-rows", "4")) == 0
    capsys.readouterr()
    written, modified = output.read_bytes(), output.stat().st_mtime_ns
    assert main(summarize_args(trained_tiny_model, source, output, "--chunk-rows", "4", "--resume")) == 0
    assert capsys.readouterr().out == f"{output}: already complete (9 rows); nothing to resume\n"
    assert output.read_bytes() == written and output.stat().st_mtime_ns == modified
    # A file that no summarize run wrote is neither counted as done nor replaced.
    other = tmp_path / "notes.csv"
    other.write_text("a,b\n1,2\n")
    assert main(summarize_args(trained_tiny_model, source, other, "--resume")) == 2
    assert "no run of summarize to resume" in capsys.readouterr().err and other.read_text() == "a,b\n1,2\n"


def test_problem_messages_start_their_own_line_not_the_progress_bars(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=6))
    rows.loc[3, "body"] = ""
    source = tmp_path / "in.csv"
    rows.to_csv(source, index=False)
    assert main(summarize_args(trained_tiny_model, source, tmp_path / "out.csv", "--chunk-rows", "2")) == 0
    message = f"{source}: row 4: empty body; no title written"
    # tqdm redraws its bar after a carriage return; the message must be a whole segment of its own,
    # not the tail of a bar's line.
    segments = [segment.strip() for line in capsys.readouterr().err.split("\n") for segment in line.split("\r")]
    assert message in segments


def test_batch_mode_refuses_an_upload_with_columns_it_writes(trained_tiny_model, tmp_path, monkeypatch):
    import re
    import shutil

    from streamlit.testing.v1 import AppTest

    model = tmp_path / "model"
    shutil.copytree(trained_tiny_model, model, ignore=shutil.ignore_patterns("checkpoints", "predictions_*"))
    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(model))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", "")
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=180).run()
    app.switch_page("app_pages/summarize.py").run()
    bodies = pd.DataFrame(make_rows(count=3))[["body"]].assign(problem=["mine", "", ""])
    links = pd.DataFrame({"url": ["https://github.com/o/r/issues/1"], "github_title": ["kept"]})
    for name, upload, column in [("bodies.csv", bodies, "problem"), ("links.csv", links, "github_title")]:
        app.file_uploader(key="batch_upload").set_value((name, upload.to_csv(index=False).encode(), "text/csv")).run()
        assert not app.exception, [item.value for item in app.exception]
        # The page escapes markdown (`\_`); a visitor reads the text without the escapes.
        shown = re.sub(r"\\(.)", r"\1", "\n".join(str(error.value) for error in app.error))
        assert (
            f"{name}: already has a column {column}, which batch mode writes; "
            "rename it in the file (or drop it) and upload it again"
        ) in shown
        assert not any(button.key == "summarize_file" for button in app.button)
