"""Does a subword vocabulary (sentencepiece) title issues better than the word vocabulary? One run, real data.

    python bench/subword.py [--data ../shared/data/github_issues.jsonl.gz] [--train-rows 12000] [--test-rows 1000]
                            [--validation-rows 500] [--epochs 2] [--config attention]

The split is the one `prepare` makes for the configuration (by repository, evaluation
repositories capped at 300 rows), computed on the whole data file, so every test row comes
from a project that neither arm saw. A seeded random sample of `--train-rows` training rows,
`--validation-rows` validation rows (for the library's best-epoch choice) and `--test-rows`
test rows is drawn once and used by both arms. The configuration's cap on training rows per
repository is switched off, so that both arms train on exactly the sampled rows.

* `word`: `prepare` as `train` runs it: clean, spaCy tokens, word vocabularies, padding and
  copy ids.
* `subword`: the same cleaned text, cut into pieces by a sentencepiece unigram model that is
  trained (seeded, in a temporary directory) on the training bodies and titles only, with as
  many pieces as the word body vocabulary has entries. The pieces go through the same
  vocabulary, padding and copy-id code as words do. Pieces are shorter than words, so the
  subword arm reads a longer body: its body length is the word body length times the pieces
  per word measured on the training bodies (over the text the word arm reads), and its title
  length scales the same way. Both lengths are printed.

Everything else is held equal: model configuration, epochs, seed, training code and greedy
decoding (the library's `Summarizer` with beam width 1). Both arms are scored against the
same references, the cleaned reference titles in spaCy tokens joined by spaces, with
`evaluation.score_titles`; the subword arm's titles are joined back into text and split into
spaCy tokens first, so both are compared on identical word tokenization. The lead baseline
(the first 12 words of the cleaned body) is scored on the same rows.

Before training, the script checks that its own encoding step, given the word arm's spaCy
tokens, reproduces `prepare`'s arrays exactly: the two arms differ only in their tokens and
lengths. Nothing is written into the repository; the models live in temporary directories.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sampled_comparison import (  # noqa: E402
    DEFAULT_DATA,
    SCORE_COLUMNS,
    sample_rows,
    table,
    train_and_score,
)
from issue_summarizer.config import CONFIGURATIONS, SummarizerConfig  # noqa: E402
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.prepare import PreparedData, encode_splits, prepare  # noqa: E402
from issue_summarizer.data.splitting import split_indices  # noqa: E402
from issue_summarizer.evaluation.metrics import LEAD_WORDS, lead_titles, score_titles  # noqa: E402
from issue_summarizer.text.cleaning import clean_text  # noqa: E402
from issue_summarizer.text.tokenization import clean_and_tokenize, tokenize  # noqa: E402
from issue_summarizer.text.vocabulary import Vocabulary  # noqa: E402

# sentencepiece marks the start of a word with this character.
WORD_START = "\u2581"
# The piece model's training text goes in as lines of at most this many words. Pieces never
# cross a space, so cutting a body at spaces changes nothing but keeps lines under the
# trainer's length limit.
WORDS_PER_TRAINING_LINE = 100
# The piece model is the same from run to run for a given thread count, but not across thread
# counts (its sums are split between the threads), so it trains on a fixed one.
PIECE_TRAINER_THREADS = 1


def check_same_encoding(
    prepared: PreparedData, arrays: dict[str, np.ndarray], vocabularies: tuple[Vocabulary, Vocabulary]
) -> None:
    """Raise unless `encode_splits` on this script's word tokens gave exactly what `prepare` gave,
    so that the lead baseline and the references read the same tokens as the model."""
    differences = sorted(
        name
        for name in prepared.arrays
        if name not in arrays or not np.array_equal(prepared.arrays[name], arrays[name])
    )
    if vocabularies != (prepared.body_vocabulary, prepared.title_vocabulary):
        differences.append("vocabularies")
    if differences or set(arrays) != set(prepared.arrays):
        raise RuntimeError(f"this script's encoding no longer matches prepare's: {differences or 'array names'}")


def training_lines(texts: Sequence[str]):
    """Each text as lines of at most `WORDS_PER_TRAINING_LINE` words, for the piece model's trainer."""
    for text in texts:
        words = text.split(" ")
        for start in range(0, len(words), WORDS_PER_TRAINING_LINE):
            line = " ".join(words[start : start + WORDS_PER_TRAINING_LINE]).strip()
            if line:
                yield line


def train_piece_model(texts: Sequence[str], vocabulary_size: int, seed: int, directory: Path):
    """A seeded sentencepiece unigram model of about `vocabulary_size` pieces, trained on `texts`.

    The texts are already cleaned, so sentencepiece's own normalization is switched off
    ("identity") and the pieces join back into exactly the cleaned text (unless the text holds
    the word-start mark itself). The size is a soft limit, so a small sample that cannot fill
    it still trains.
    """
    import sentencepiece

    sentencepiece.set_random_generator_seed(seed)
    prefix = directory / "pieces"
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=training_lines(texts),
        model_prefix=str(prefix),
        model_type="unigram",
        vocab_size=vocabulary_size,
        hard_vocab_limit=False,
        normalization_rule_name="identity",
        character_coverage=0.9995,
        num_threads=PIECE_TRAINER_THREADS,
        minloglevel=2,
    )
    return sentencepiece.SentencePieceProcessor(model_file=str(prefix) + ".model")


def pieces_to_text(pieces: Sequence[str]) -> str:
    """Pieces back into text: every word-start mark becomes a space."""
    return "".join(pieces).replace(WORD_START, " ").strip()


def window_end(text: str, tokens: Sequence[str]) -> int:
    """The character offset in `text` where its leading `tokens` end (the whole text if one is not found)."""
    position = 0
    for token in tokens:
        found = text.find(token, position)
        if found < 0:
            return len(text)
        position = found + len(token)
    return position


def pieces_per_word(cleaned_bodies: Sequence[str], word_windows: Sequence[Sequence[str]], processor) -> float:
    """Pieces per spaCy token over the text the word arm reads of each body (its first `body_length` tokens)."""
    prefixes = [text[: window_end(text, tokens)] for text, tokens in zip(cleaned_bodies, word_windows, strict=True)]
    pieces = sum(len(ids) for ids in processor.encode(prefixes))
    words = sum(len(tokens) for tokens in word_windows)
    return pieces / words if words else 1.0


def subword_config(config: SummarizerConfig, ratio: float) -> SummarizerConfig:
    """The configuration with body and title lengths scaled to hold the same text in pieces.

    The title length counts the start and end markers, which do not scale.
    """
    return config.updated(
        name=f"{config.name}-subword",
        body_length=max(1, round(config.body_length * ratio)),
        title_length=max(3, round((config.title_length - 2) * ratio) + 2),
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--train-rows", type=int, default=12_000, help="a seeded sample of the training split")
    parser.add_argument("--validation-rows", type=int, default=500, help="for the library's best-epoch choice")
    parser.add_argument("--test-rows", type=int, default=1000, help="a seeded sample of the test split")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--config", default="attention", help=f"one of {', '.join(CONFIGURATIONS)}")
    args = parser.parse_args()
    for name in ("train_rows", "validation_rows", "test_rows", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.config not in CONFIGURATIONS:
        raise ValueError(f"unknown configuration {args.config!r}; choose one of {', '.join(CONFIGURATIONS)}")
    return args


def main() -> None:
    args = parse_arguments()
    command = shlex.join(["python", "bench/subword.py", *sys.argv[1:]])
    started = time.perf_counter()
    config = CONFIGURATIONS[args.config].updated(max_rows_per_train_repository=None, epochs=args.epochs)
    loaded = load_issues(args.data)
    sample, split = sample_rows(loaded, config, args.train_rows, args.validation_rows, args.test_rows)
    rows = split_indices(sample.frame["repo"].tolist(), split)
    bodies = sample.frame["body"].tolist()
    titles = sample.frame["title"].tolist()
    print(
        f"{loaded.summary()}; sampled {args.train_rows:,} training, {args.validation_rows:,} validation and "
        f"{args.test_rows:,} test rows (test from {sample.frame['repo'].iloc[rows['test']].nunique()} "
        f"repositories that no arm trains on)",
        flush=True,
    )

    # The word arm, exactly as `train` prepares it, and the same steps run by this script on its
    # tokens, which must agree before the subword arm is allowed to reuse them.
    prepared = prepare(sample, config, show_progress=False, split=split)
    cleaning = config.cleaning
    word_windows = clean_and_tokenize(bodies, cleaning, max_tokens=config.body_length)
    word_titles = clean_and_tokenize(titles, cleaning)
    words = encode_splits(word_windows, word_titles, rows, rows, config)
    check_same_encoding(prepared, words.arrays, (words.body_vocabulary, words.title_vocabulary))
    print(f"word arm prepared; this script's encoding matches prepare's ({time.perf_counter() - started:.0f} s)")

    # The subword arm: the same cleaned text, in pieces.
    cleaned_bodies = [clean_text(body, cleaning) for body in bodies]
    cleaned_titles = [clean_text(title, cleaning) for title in titles]
    train = rows["train"]
    piece_target = len(prepared.body_vocabulary)
    with tempfile.TemporaryDirectory(prefix="subword-bench-pieces-") as directory:
        processor = train_piece_model(
            [cleaned_bodies[row] for row in train] + [cleaned_titles[row] for row in train],
            piece_target,
            config.seed,
            Path(directory),
        )
    body_ratio = pieces_per_word(
        [cleaned_bodies[row] for row in train], [word_windows[row] for row in train], processor
    )
    train_title_pieces = processor.encode([cleaned_titles[row] for row in train])
    title_ratio = sum(map(len, train_title_pieces)) / max(1, sum(len(word_titles[row]) for row in train))
    pieces_config = subword_config(config, body_ratio)
    body_pieces = [pieces[: pieces_config.body_length] for pieces in processor.encode(cleaned_bodies, out_type=str)]
    title_pieces = processor.encode(cleaned_titles, out_type=str)
    piece_encoding = encode_splits(body_pieces, title_pieces, rows, rows, pieces_config)
    print(
        f"piece model: {processor.get_piece_size():,} pieces (asked for {piece_target:,}, the word body vocabulary); "
        f"{body_ratio:.2f} pieces per word in the body text the word arm reads, {title_ratio:.2f} in titles; "
        f"subword lengths: body {config.body_length} → {pieces_config.body_length}, "
        f"title {config.title_length} → {pieces_config.title_length} (markers included, scaled by the body ratio) "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )

    test = rows["test"]
    references = [" ".join(word_titles[row]) for row in test]
    results = [
        {"arm": f"lead-{LEAD_WORDS} (first {LEAD_WORDS} words of the cleaned body)"}
        | score_titles(lead_titles([word_windows[row] for row in test]), references)[0],
        train_and_score(
            "word",
            prepared.arrays,
            config,
            (prepared.body_vocabulary, prepared.title_vocabulary),
            [word_windows[row] for row in test],
            references,
            to_words=lambda words: words,
        ),
        train_and_score(
            "subword",
            piece_encoding.arrays,
            pieces_config,
            (piece_encoding.body_vocabulary, piece_encoding.title_vocabulary),
            [body_pieces[row] for row in test],
            references,
            to_words=lambda pieces: tokenize(pieces_to_text(pieces)),
        ),
    ]
    print()
    print(
        f"Test: {len(test):,} issues from {sample.frame['repo'].iloc[test].nunique()} repositories that no arm saw; "
        f"configuration {config.name}, {args.train_rows:,} sampled training rows, up to {config.epochs} epochs "
        f"(the best by validation loss is kept), greedy decoding. Measured with `{command}`."
    )
    print()
    columns = (
        ("arm", "arm", ""),
        ("body length", "body_length", "d"),
        ("title length", "title_length", "d"),
        ("body vocabulary", "body_vocabulary", ","),
        ("title vocabulary", "title_vocabulary", ","),
        ("test body known", "body_known", ".1%"),
        *SCORE_COLUMNS,
    )
    print(table(results, columns))
    print()
    print(
        "Lengths are in tokens (words or pieces; titles count their two markers). Vocabulary sizes count the "
        "reserved ids. Test body known: the share of test body tokens in the body vocabulary. Copied: the share of "
        "titles holding a token copied from outside the title vocabulary. Scores use the same spaCy word "
        "tokens on both sides for every row."
    )
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
