"""`embed`: encoder vectors of every row of a file, streamed to parquet."""

import random

import numpy as np
import pandas as pd
import pytest

from issue_summarizer.cli.main import main
from issue_summarizer.inference.summarizer import Summarizer
from issue_summarizer.scale.embedding_file import read_vectors
from issue_summarizer.scale.similarity import SparseIndex
from tests.conftest import make_rows

pytestmark = pytest.mark.slow


def test_embed_streams_every_row_with_a_body_and_the_vectors_match(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=30))
    rows.loc[4, "body"] = "  "
    # Random bytes read as text: refused by the input check, so left out and counted like an empty body.
    rows.loc[9, "body"] = random.Random(0).randbytes(600).decode("latin-1")
    source = tmp_path / "in.jsonl"
    rows.to_json(source, orient="records", lines=True)
    output = tmp_path / "vectors.parquet"
    argv = ["embed", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(output)]
    assert main([*argv, "--chunk-rows", "7"]) == 0
    captured = capsys.readouterr()
    assert "wrote 28 vectors" in captured.out and "2 rows without a usable body skipped" in captured.out
    frame, vectors = read_vectors(output)
    # Rows are numbered from 1, as the problem messages number them: the empty body is row 5.
    assert frame["row"].tolist() == [row + 1 for row in range(30) if row not in (4, 9)]
    assert f"{source}: row 5: empty body; no vector written" in captured.err.splitlines()
    assert frame["title"].tolist() == rows.drop(index=[4, 9])["title"].tolist()
    expected = Summarizer.load(trained_tiny_model).embed(rows.drop(index=[4, 9])["body"].tolist())
    assert vectors.dtype == np.float32 and np.allclose(vectors, expected, atol=1e-5)
    # The word index of the same rows lies beside the vectors, so the Similar issues page's search
    # of this file is hybrid; it is refused for another file's rows.
    index_path = SparseIndex.beside(output)
    assert "wrote the word index" in captured.out and index_path.is_file()
    index = SparseIndex.load(index_path, rows=frame["row"].to_numpy())
    assert len(index) == 28
    with pytest.raises(ValueError, match="other rows"):
        SparseIndex.load(index_path, rows=frame["row"].to_numpy()[:-1])


def test_embed_refuses_other_outputs_and_files_without_vectors(trained_tiny_model, tmp_path, capsys):
    from issue_summarizer.data.loading import DataLoadError

    source = tmp_path / "in.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    argv = ["embed", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(tmp_path / "v.csv")]
    assert main(argv) == 2 and "written as parquet" in capsys.readouterr().err
    pd.DataFrame({"title": ["t"]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataLoadError, match="not an embeddings file"):
        read_vectors(tmp_path / "plain.parquet")


def test_embed_includes_rows_whose_title_is_empty(trained_tiny_model, tmp_path, capsys):
    rows = pd.DataFrame(make_rows(count=4))
    rows.loc[[1, 2], "title"] = ["", None]
    source = tmp_path / "in.jsonl"
    rows.to_json(source, orient="records", lines=True)
    output = tmp_path / "vectors.parquet"
    assert main(["embed", "--model", str(trained_tiny_model), "--input", str(source), "--output", str(output)]) == 0
    assert "wrote 4 vectors" in capsys.readouterr().out
    frame, vectors = read_vectors(output)
    assert frame["row"].tolist() == [1, 2, 3, 4] and frame["title"].tolist()[1:3] == ["", ""]
    assert vectors.shape[0] == 4


def test_embed_refuses_to_write_over_its_input_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "issues.parquet"
    pd.DataFrame(make_rows(count=3)).to_parquet(source)
    original = source.read_bytes()
    (tmp_path / "link.parquet").symlink_to(source)
    for output in (source, tmp_path / "." / "issues.parquet", tmp_path / "link.parquet"):
        argv = ["embed", "--model", str(tmp_path / "no-model"), "--input", str(source), "--output", str(output)]
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert "this is the input file" in error and len(error.strip().splitlines()) == 1
    assert source.read_bytes() == original


def test_embed_refuses_an_input_with_its_own_row_or_vector_column_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "issues.csv"
    pd.DataFrame(make_rows(count=3)).assign(row=[10, 11, 12]).to_csv(source, index=False)
    output = tmp_path / "vectors.parquet"
    argv = ["embed", "--model", str(tmp_path / "no-model"), "--input", str(source), "--output", str(output)]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: {source}: already has a column row, which embed writes; "
        "rename it in the file (or drop it) and run again\n"
    )
    assert not output.exists()


def test_embed_says_an_output_directory_is_a_directory_before_loading_the_model(tmp_path, capsys):
    source = tmp_path / "issues.csv"
    pd.DataFrame(make_rows(count=3)).to_csv(source, index=False)
    output = tmp_path / "vectors.parquet"
    output.mkdir()
    assert main(["embed", "--model", str(tmp_path / "no-model"), "--input", str(source), "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"error: {output}: is a directory; --output names the file to write, such as {output / 'vectors.parquet'}\n"
    )
