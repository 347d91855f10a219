import random

import pytest

from issue_summarizer.config import CleaningOptions
from issue_summarizer.text.tokenization import clean_and_tokenize, clean_and_tokenize_one, tokenize
from tests.conftest import SHARED_CORPUS, has_shared_corpus, make_rows


def test_tokenizes_identifiers_as_whole_tokens():
    tokens = tokenize("foo_bar foobar.baz ( ) v1.2.3 x86_64 can't")
    assert tokens[:5] == ["foo_bar", "foobar.baz", "(", ")", "v1.2.3"]
    assert "x86_64" in tokens


def test_prefix_window_gives_the_same_tokens_as_the_whole_text():
    rng = random.Random(1)
    words = ["alpha", "beta,", "`code`", "https://example.com/x", "12", "**bold**", "\n", "```\nblock\n```\n"]
    options = CleaningOptions()
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 400)))
        for max_tokens in (5, 30, 70):
            assert (
                clean_and_tokenize_one(text, options, max_tokens) == clean_and_tokenize_one(text, options)[:max_tokens]
            )


@pytest.mark.skipif(not has_shared_corpus(), reason="needs the corpus ../shared/data/github_issues.jsonl.gz")
def test_prefix_window_matches_whole_text_on_real_bodies():
    import gzip
    import itertools
    import json

    with gzip.open(SHARED_CORPUS, "rt") as handle:
        bodies = [json.loads(line)["body"] for line in itertools.islice(handle, 1500)]
    options = CleaningOptions()
    for body in bodies:
        assert clean_and_tokenize_one(body, options, 70) == clean_and_tokenize_one(body, options)[:70]


def test_parallel_matches_serial_and_keeps_order():
    texts = [row["body"] for row in make_rows(count=2100)]
    serial = clean_and_tokenize(texts, max_tokens=20, workers=1)
    parallel = clean_and_tokenize(texts, max_tokens=20, workers=2)
    assert parallel == serial
    assert len(parallel) == len(texts)


def test_progress_counts_every_text():
    seen = []
    clean_and_tokenize(["a b", "c d", "e"], progress=seen.append)
    assert sum(seen) == 3


def test_empty_and_huge_texts():
    assert clean_and_tokenize(["", "   "]) == [[], []]
    assert len(clean_and_tokenize_one("word " * 250_000, CleaningOptions(), 70)) == 70


def test_the_tokenizer_is_renewed_before_its_vocabulary_grows_without_bound(monkeypatch):
    from issue_summarizer.text import tokenization

    tokenization._fresh_tokenizer.cache_clear()
    first = tokenization._tokenizer()
    # A fresh tokenizer holds its exceptions' strings; allow 50 more.
    limit = len(first.vocab.strings) + 50
    monkeypatch.setattr(tokenization, "MAX_TOKENIZER_STRINGS", limit)
    texts = [f"identifier_{number} fails in module_{number}.py" for number in range(40)]
    tokens = [tokenize(text) for text in texts]
    assert tokenization._tokenizer() is not first
    assert len(tokenization._tokenizer().vocab.strings) <= limit + 10
    # Tokens from before and after a renewal are the same.
    assert tokens == [tokenize(text) for text in texts]
    assert tokens[3] == ["identifier_3", "fails", "in", "module_3.py"]
