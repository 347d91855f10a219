import json
import re
import shutil

import numpy as np
import pytest

from issue_summarizer.data.input_checks import InputError
from issue_summarizer.inference.summarizer import ModelDirectoryError, Summarizer
from issue_summarizer.text.cleaning import clean_text
from tests.conftest import REPO_ROOT, make_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(trained_tiny_model):
    return Summarizer.load(trained_tiny_model)


def test_reproduces_a_memorised_title(tiny):
    rows = make_rows(count=400, repositories=16)[:20]
    titles = [title for title, _ in tiny.summarize([row["body"] for row in rows])]
    pairs = list(zip(titles, [clean_text(row["title"]) for row in rows], strict=True))
    # Titles are "<component> <symptom> on <platform>". The component opens the body, so the
    # tiny seed model (one 64-unit state vector) always gets it; how many of the later words
    # it also carries through the body varies with the CPU's floating-point path (this test
    # saw 15 or more exact titles on one machine and 9 on another). Guessing the symptom and
    # platform would get one title in twelve exactly right.
    assert all(title.split()[0] == reference.split()[0] for title, reference in pairs), pairs
    assert all(len(title.split()) == 4 and title.split()[2] == "on" for title, _ in pairs), pairs
    assert sum(title == reference for title, reference in pairs) >= 6, pairs


@pytest.mark.parametrize("width", [0, -1, True, 2.5])
def test_only_none_means_the_models_own_beam_width(tiny, width):
    assert tiny.decoding_options(None, None).beam_width == tiny.config.beam_width
    assert tiny.decoding_options(3, None).beam_width == 3
    with pytest.raises(ValueError, match=f"at least 1 .*got {width!r}"):
        tiny.summarize(["The parser crashes on an empty file."], beam_width=width)
    with pytest.raises(ValueError, match="max_length"):
        tiny.decoding_options(None, 0)


def test_beam_width_one_equals_greedy_on_a_real_model(tiny):
    bodies = [row["body"] for row in make_rows(count=30, seed=5)]
    assert tiny.summarize(bodies, beam_width=1) == tiny.summarize(bodies)
    wide = tiny.generate(bodies[:3], beam_width=4, num_alternatives=3)
    assert all(1 <= len(alternatives) <= 3 for alternatives in wide)


def test_save_and_reload_gives_identical_outputs(tiny, trained_tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained_tiny_model, copy, ignore=shutil.ignore_patterns("checkpoints"))
    reloaded = Summarizer.load(copy)
    bodies = [row["body"] for row in make_rows(count=10, seed=9)]
    assert reloaded.summarize(bodies, beam_width=3) == tiny.summarize(bodies, beam_width=3)
    assert np.allclose(reloaded.embed(bodies), tiny.embed(bodies))


def test_embeddings_have_one_row_per_text(tiny):
    vectors = tiny.embed(["the parser crashes", "the cache leaks on linux"])
    assert vectors.shape == (2, tiny.config.hidden_dim) and np.isfinite(vectors).all()


@pytest.mark.parametrize(
    "body", ["zzqx wvvk plorf " * 20, "word " * 250_000, "数据加载失败，请帮忙", "😀" * 50, "!!!! ???? ...."]
)
def test_odd_bodies_get_a_title_without_special_tokens(tiny, body):
    title, score = tiny.summarize([body])[0]
    assert isinstance(title, str) and np.isfinite(score)
    assert not {"<pad>", "<rare>", "<start>", "<end>"} & set(title.split())


@pytest.mark.parametrize("body", ["", "   \n ", "\x00\x01\x02\x03" * 40])
def test_empty_and_binary_bodies_are_refused(tiny, body):
    with pytest.raises(InputError):
        tiny.summarize([body])


def test_inspect_marks_rare_words_and_truncation(tiny):
    seen = tiny.inspect("the parser crashes zzqxword " + "more words here " * 20)
    assert any(token.rare for token in seen) and not seen[-1].kept and seen[0].kept


def test_missing_and_corrupt_model_directories(tmp_path, trained_tiny_model):
    with pytest.raises(ModelDirectoryError, match="no such model directory"):
        Summarizer.load(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(trained_tiny_model, broken, ignore=shutil.ignore_patterns("checkpoints"))
    (broken / "model.keras").write_bytes(b"not a zip file")
    with pytest.raises(ModelDirectoryError, match="cannot load the model"):
        Summarizer.load(broken)
    # Weights that load but do not fit the configuration fail on loading, naming the directory.
    mismatched = tmp_path / "mismatched"
    shutil.copytree(trained_tiny_model, mismatched, ignore=shutil.ignore_patterns("checkpoints"))
    config = json.loads((mismatched / "config.json").read_text())
    (mismatched / "config.json").write_text(json.dumps({**config, "hidden_dim": config["hidden_dim"] * 2}))
    with pytest.raises(ModelDirectoryError, match=re.escape(f"{mismatched}: the model does not fit its configuration")):
        Summarizer.load(mismatched)
    (broken / "config.json").write_text("{")
    with pytest.raises(ModelDirectoryError, match="config.json"):
        Summarizer.load(broken)
    (broken / "title_vocabulary.json").unlink()
    with pytest.raises(ModelDirectoryError, match="missing title_vocabulary.json"):
        Summarizer.load(broken)


@pytest.mark.parametrize("directory", ["model", "models/seed"])
def test_shipped_models_load_and_summarize(directory):
    summarizer = Summarizer.load(REPO_ROOT / directory)
    body = "When I run pip install on Windows the build fails with a compiler error in setup_helpers.py."
    for beam_width in (1, 5):
        title, _ = summarizer.summarize([body], beam_width=beam_width)[0]
        assert title.strip()


def test_small_length_buckets_share_a_decoding_batch_and_keep_their_titles():
    """Rows of buckets too small to fill a batch decode together (one pass for a server's few
    requests), each read at its own bucket's length; full buckets keep batches of their own."""
    from issue_summarizer.inference.summarizer import MIXED_BATCH_BELOW

    summarizer = Summarizer.load(REPO_ROOT / "model")
    assert summarizer.config.length_buckets == 5 and summarizer.config.body_length == 250
    short, long = ["word"] * 20, ["word"] * 220  # Buckets 50 and 250.
    tokens = [short] * (MIXED_BATCH_BELOW + 3) + [long] * 5 + [short] * 2
    batches = summarizer._batches(tokens, 256, mix_buckets=True)
    short_rows = [*range(MIXED_BATCH_BELOW + 3), MIXED_BATCH_BELOW + 8, MIXED_BATCH_BELOW + 9]
    assert batches == [short_rows, list(range(MIXED_BATCH_BELOW + 3, MIXED_BATCH_BELOW + 8))]
    assert summarizer._batches(tokens[-7:], 256, mix_buckets=True) == [[5, 6, 0, 1, 2, 3, 4]]
    assert summarizer._batches(tokens[-7:], 256) == [[5, 6], [0, 1, 2, 3, 4]]
    bodies = [
        "Calling frobnicate_widget_v2() raises KeyError when the config file is empty.",
        "The docs page for the install guide links to a 404. " * 30,
        "Crash on startup after upgrading to 2.3.1 on macOS: segmentation fault in the renderer.",
        "Add a dark mode toggle to the settings page so that the editor is easier on the eyes at night. " * 8,
    ]
    lengths = {len(tokens) for tokens in summarizer.tokenize(bodies)}
    assert len({min(250, -(-length // 50) * 50) for length in lengths}) >= 3
    together = summarizer.summarize(bodies)
    alone = [summarizer.summarize([body])[0] for body in bodies]
    assert [title for title, _ in together] == [title for title, _ in alone]
    np.testing.assert_allclose([score for _, score in together], [score for _, score in alone], atol=1e-4)


@pytest.mark.parametrize(
    ("name", "padding", "compiled"),
    [
        ("tiny-attention", "pre", False),
        ("tiny-attention", "pre", True),
        ("tiny-attention", "post", False),
        ("tiny-attention", "post", True),
        ("tiny-transformer", "post", False),
    ],
)
def test_bodies_of_other_length_buckets_do_not_change_a_title(name, padding, compiled):
    """Seeded untrained models, so that both padding sides and the Transformer are covered: a
    batch mixing length buckets gives each body the title, and the likelihood of a given title,
    that it gets alone, whether the buckets are encoded one by one or, compiled as a server
    compiles them, packed into one pass."""
    import keras

    from issue_summarizer.config import CONFIGURATIONS
    from issue_summarizer.models.building import build_training_model
    from issue_summarizer.text.vocabulary import Vocabulary

    keras.utils.set_random_seed(0)
    config = CONFIGURATIONS[name].updated(body_padding=padding, length_buckets=3)
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar".split()
    summarizer = Summarizer(
        build_training_model(config, compile=False),
        config,
        Vocabulary.fit([words], with_markers=False),
        Vocabulary.fit([words[:10]], with_markers=True),
    )
    if compiled:
        summarizer.compile_mixed_batches()
    plain_calls = []
    plain_graph = summarizer._encode_graph
    summarizer._encode_graph = lambda ids: plain_calls.append(ids.shape) or plain_graph(ids)
    # 4, 14, 28 and 6 words: buckets 10, 20, 30 and 10 of the 30-token window.
    bodies = [" ".join((words * 2)[:count]) for count in (4, 14, 28, 6)]
    tokens = summarizer.tokenize(bodies)
    assert {-(-len(row) // 10) * 10 for row in tokens} == {10, 20, 30}
    options = summarizer.decoding_options(beam_width=2, max_length=None)
    together = summarizer.decode_batch(summarizer.prepare_batch(tokens), options)
    # Compiled, the mixed batch is one packed pass; otherwise one plain call per bucket.
    assert len(plain_calls) == (0 if compiled else 3 if name == "tiny-attention" else 1)
    alone = [summarizer.decode_batch(summarizer.prepare_batch([row]), options)[0] for row in tokens]
    assert [[h.ids for h in hypotheses] for hypotheses in together] == [[h.ids for h in row] for row in alone]
    assert [title for title, _ in summarizer.summarize(bodies, beam_width=2)] == [
        summarizer.summarize([body], beam_width=2)[0][0] for body in bodies
    ]
    if config.architecture == "attention":
        titles = ["alpha bravo", "charlie", "delta echo golf", "bravo"]
        scores = summarizer.title_log_likelihoods(bodies, titles)
        one_by_one = [
            summarizer.title_log_likelihoods([body], [title])[0] for body, title in zip(bodies, titles, strict=True)
        ]
        np.testing.assert_allclose(scores, one_by_one, atol=1e-5)


def test_shipped_default_model_copies_identifiers():
    summarizer = Summarizer.load(REPO_ROOT / "model")
    assert summarizer.config.architecture == "attention"
    body = "Calling frobnicate_widget_v2() raises KeyError: 'zzq_missing' when the config file is empty."
    explanation = summarizer.explain(body)
    assert explanation.attention is not None and explanation.attention.shape[1] == len(explanation.body_tokens)


def test_attention_model_learns_to_copy_identifiers_missing_from_the_vocabulary(trained_copy_model):
    from tests.conftest import assert_copies_unseen_identifiers

    summarizer = Summarizer.load(trained_copy_model)
    rows = assert_copies_unseen_identifiers(summarizer)
    explanation = summarizer.explain(rows[0]["body"])
    assert explanation.attention.shape == (len(explanation.title_words) + 1, len(explanation.body_tokens))
    assert any(explanation.copied)


def test_attention_beam_one_equals_greedy(trained_copy_model):
    from tests.conftest import make_copy_rows

    summarizer = Summarizer.load(trained_copy_model)
    bodies = [row["body"] for row in make_copy_rows(count=12, seed=5)]
    assert summarizer.summarize(bodies, beam_width=1) == summarizer.summarize(bodies)
    assert len(summarizer.summarize(bodies, beam_width=4)) == 12


def test_attention_model_loads_in_a_fresh_process(trained_copy_model):
    """The custom attention layers must be registered before Keras deserializes them."""
    import subprocess
    import sys

    script = (
        "from issue_summarizer.inference.summarizer import Summarizer; "
        f"print(Summarizer.load({str(trained_copy_model)!r}).config.architecture)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("attention")


def test_decoding_attention_equals_a_teacher_forced_pass(trained_copy_model):
    """Decoding keeps each step's attention instead of running the model again over the finished
    titles; it must give the same weights, so restored titles do not change. Greedy rows keep
    their place; beams change rows every step and every alternative follows its own."""
    from tests.conftest import make_copy_rows

    summarizer = Summarizer.load(trained_copy_model)
    bodies = [row["body"] for row in make_copy_rows(count=10, seed=8)]
    tokens = summarizer.tokenize(bodies)
    batch = summarizer.prepare_batch(tokens)
    for beam_width, alternatives, max_length in ((1, 1, None), (3, 3, None), (3, 2, 3)):
        # The last case forbids <end> before the length limit, so every title is cut there.
        settings = {"min_length": max_length} if max_length else {}
        options = summarizer.decoding_options(beam_width, max_length, num_alternatives=alternatives, **settings)
        decoded, step_attention = summarizer._decode(batch, options)
        assert step_attention is not None and len(step_attention) == len(bodies)
        pairs = [(row, hypothesis) for row, hypotheses in enumerate(decoded) for hypothesis in hypotheses]
        assert len(pairs) == len(bodies) * alternatives
        teacher_forced = summarizer._attention(batch, [row for row, _ in pairs], [h.ids for _, h in pairs])
        kept = [attention for row in step_attention for attention in row]
        for (_, hypothesis), attention, expected in zip(pairs, kept, teacher_forced, strict=True):
            # The title's words, and its <end> when it finished.
            steps = len(hypothesis.ids) + int(hypothesis.finished)
            assert attention.shape == (steps, batch.body_ids.shape[1])
            np.testing.assert_allclose(attention, expected[:steps], atol=1e-5)
        if max_length is not None:
            assert not any(hypothesis.finished for _, hypothesis in pairs)


def test_explain_shows_the_same_attention_whether_or_not_the_title_finished(trained_copy_model):
    """`explain` reuses decoding's step attention (greedy or beam), and a title cut at the length
    limit (which never ran its <end> step) falls back to a teacher-forced pass: both give one row
    per title word plus <end>, equal to that pass."""
    from tests.conftest import make_copy_rows

    summarizer = Summarizer.load(trained_copy_model)
    body = make_copy_rows(count=1, seed=9)[0]["body"]
    tokens = summarizer.tokenize([body])
    batch = summarizer.prepare_batch(tokens)
    for beam_width, max_length, finished in ((1, None, True), (1, 2, False), (3, None, True)):
        explanation = summarizer.explain(body, beam_width=beam_width, max_length=max_length)
        decoded = summarizer.decode_batch(batch, summarizer.decoding_options(beam_width, max_length))[0][0]
        assert decoded.finished is finished
        steps = len(decoded.ids) + 1
        teacher_forced = summarizer._over_body(summarizer._attention(batch, [0], [decoded.ids])[0], len(tokens[0]))
        assert explanation.attention.shape == (steps, len(tokens[0]))
        np.testing.assert_allclose(explanation.attention, teacher_forced[:steps], atol=1e-5)
