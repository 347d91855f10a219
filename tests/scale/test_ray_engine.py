"""The Ray engine against the local one, on a Ray started here on this machine."""

import gzip
import json

import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from tests.conftest import make_rows, write_jsonl_gz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A JSONL and a CSV fixture with a few empty bodies, which must come out with their reason."""
    directory = tmp_path_factory.mktemp("ray_inputs")
    rows = make_rows(count=150, repositories=5, seed=3)
    for index in range(0, len(rows), 29):
        rows[index]["body"] = ""
    # Issues still to be titled: no title, which both engines must title and write back as it was.
    for index in range(3, len(rows), 17):
        rows[index]["title"] = None
    for index, row in enumerate(rows):
        row["number"] = index
    csv_path = directory / "issues.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    json_path = directory / "issues.json"
    json_path.write_text(json.dumps(rows[:40]))
    return {"jsonl": write_jsonl_gz(directory / "issues.jsonl.gz", rows), "csv": csv_path, "json": json_path}


@pytest.mark.parametrize("kind", ["jsonl", "csv", "json"])
def test_ray_and_local_engines_write_the_same_titles(local_ray, inputs, trained_tiny_model, tmp_path, kind):
    suffix = ".csv" if kind == "csv" else ".jsonl.gz"
    outputs = {}
    for engine in ("local", "ray"):
        output = tmp_path / f"{engine}{suffix}"
        argv = ["summarize", "--model", str(trained_tiny_model), "--input", str(inputs[kind]), "--output", str(output)]
        assert main([*argv, "--engine", engine, "--beam-width", "1"]) == 0
        outputs[engine] = output.read_bytes() if kind == "csv" else gzip.decompress(output.read_bytes())
    assert outputs["ray"] == outputs["local"]
    frame = pd.read_csv(tmp_path / "ray.csv") if kind == "csv" else pd.read_json(tmp_path / "ray.jsonl.gz", lines=True)
    rows = 40 if kind == "json" else 150
    assert list(frame["number"]) == list(range(rows))
    assert (frame["problem"].fillna("") == "empty body").sum() == len(range(0, rows, 29))
    untitled = frame["title"].isna()
    assert untitled.sum() == len(range(3, rows, 17)) and frame.loc[untitled, "predicted_title"].str.len().gt(0).all()


def test_ray_and_local_engines_write_the_same_embeddings(local_ray, inputs, trained_tiny_model, tmp_path):
    from issue_summarizer.scale.embedding_file import read_vectors

    results = {}
    for engine in ("local", "ray"):
        output = tmp_path / f"{engine}.parquet"
        argv = ["embed", "--model", str(trained_tiny_model), "--input", str(inputs["jsonl"]), "--output", str(output)]
        assert main([*argv, "--engine", engine]) == 0
        results[engine] = read_vectors(output)
    pd.testing.assert_frame_equal(results["ray"][0], results["local"][0])
    assert results["ray"][1].shape == (144, results["ray"][1].shape[1])
    assert abs(results["ray"][1] - results["local"][1]).max() < 1e-5


def test_ray_engine_refuses_resume_and_a_wrong_file_with_one_line(
    local_ray, inputs, trained_tiny_model, tmp_path, capsys
):
    argv = ["summarize", "--model", str(trained_tiny_model), "--output", str(tmp_path / "out.csv"), "--engine", "ray"]
    assert main([*argv, "--input", str(inputs["csv"]), "--resume"]) == 2
    assert "--resume works with the local engine" in capsys.readouterr().err
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"text": ["a"], "other": ["b"]}).to_csv(wrong, index=False)
    assert main([*argv, "--input", str(wrong)]) == 2
    assert "missing body" in capsys.readouterr().err


def test_an_object_storage_input_reaches_ray_intact_and_the_local_engine_refuses_it(capsys):
    from issue_summarizer.cli.main import build_parser

    # Path() would turn "s3://bucket/x" into "s3:/bucket/x", which Ray cannot read.
    argv = ["embed", "--input", "s3://bucket/issues.parquet", "--output", "vectors.parquet"]
    assert build_parser().parse_args([*argv, "--engine", "ray"]).input == "s3://bucket/issues.parquet"
    assert main(argv) == 2
    assert "use --engine ray for a URL" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["summarize", "embed"])
def test_ray_engine_refuses_to_write_over_a_local_input_before_starting(tmp_path, capsys, command):
    source = tmp_path / ("in.parquet" if command == "embed" else "in.csv")
    frame = pd.DataFrame(make_rows(count=3))
    if command == "embed":
        frame.to_parquet(source)
    else:
        frame.to_csv(source, index=False)
    original = source.read_bytes()
    # A missing model shows that the refusal comes before the model is loaded or Ray started.
    argv = [command, "--model", str(tmp_path / "no-model"), "--input", str(source), "--engine", "ray"]
    for output in (source, tmp_path / "." / source.name):
        assert main([*argv, "--output", str(output)]) == 2
        error = capsys.readouterr().err
        assert "this is the input file" in error and len(error.strip().splitlines()) == 1
    assert source.read_bytes() == original


def test_ray_engine_refuses_a_beam_width_below_one_on_the_driver(tmp_path):
    from argparse import Namespace

    from issue_summarizer.scale.ray_engine import summarize_with_ray

    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    args = Namespace(
        model=tmp_path / "no-model", input=str(source), output=tmp_path / "out.csv", beam_width=0, resume=False
    )
    with pytest.raises(ValueError, match="at least 1 .*got 0"):
        summarize_with_ray(args)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("command", ["summarize", "embed"])
def test_ray_engine_refuses_an_input_with_columns_it_writes_before_starting(tmp_path, capsys, command):
    source = tmp_path / "in.csv"
    column = "problem" if command == "summarize" else "vector"
    pd.DataFrame(make_rows(count=3)).assign(**{column: ["a", "b", "c"]}).to_csv(source, index=False)
    output = tmp_path / ("out.csv" if command == "summarize" else "out.parquet")
    # A missing model shows that the refusal comes before the model is loaded or Ray started.
    argv = [command, "--model", str(tmp_path / "no-model"), "--input", str(source), "--output", str(output)]
    assert main([*argv, "--engine", "ray"]) == 2
    assert capsys.readouterr().err == (
        f"error: {source}: already has a column {column}, which {command} writes; "
        "rename it in the file (or drop it) and run again\n"
    )
    assert not output.exists()


def test_ray_and_local_engines_read_a_tab_separated_csv_alike(local_ray, trained_tiny_model, tmp_path):
    source = tmp_path / "issues.csv"  # Tab-separated, under a .csv name, with commas in the bodies.
    rows = pd.DataFrame(make_rows(count=20, seed=5))
    rows["body"] = rows["body"] + " It fails, then, it stops."
    rows.to_csv(source, sep="\t", index=False)
    outputs = {}
    for engine in ("local", "ray"):
        output = tmp_path / f"{engine}.csv"
        argv = ["summarize", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(output)]
        assert main([*argv, "--engine", engine, "--beam-width", "1"]) == 0
        outputs[engine] = output.read_bytes()
    assert outputs["ray"] == outputs["local"]
    frame = pd.read_csv(tmp_path / "ray.csv", keep_default_na=False)
    assert frame["body"].tolist() == pd.read_csv(source, sep="\t")["body"].tolist()
    assert frame["body"].str.contains(",").all() and (frame["problem"] == "").all()
