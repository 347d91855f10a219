"""`train-embedding`: train the similarity head on the frozen encoder and save it in the model directory.

    python -m issue_summarizer train-embedding --model model --data ../shared/data/github_issues.jsonl.gz

Reads the model's train and validation rows (its `split.json`), encodes each body and its own
title with the model's body encoder (cached under `runs/similarity_features/`, so a second run
with other head settings skips the encoder), and trains a head with InfoNCE. `model.keras` is not
touched: titles stay exactly as they were. Afterwards `Summarizer.embed` returns the trained
embedding, and vectors files written before it no longer match (another dimension).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from issue_summarizer.cli.arguments import add_data_arguments, add_model_argument, at_least_two, positive_int

DEFAULT_TRAIN_ROWS = 50_000
DEFAULT_VALIDATION_ROWS = 2_000
FEATURE_CACHE = Path("runs") / "similarity_features"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train-embedding", help="train an embedding for similar issues on the frozen encoder (model.keras unchanged)"
    )
    add_model_argument(parser)
    add_data_arguments(parser, "--data")
    parser.add_argument(
        "--train-rows", type=at_least_two, default=DEFAULT_TRAIN_ROWS, help="(body, title) pairs drawn from train rows"
    )
    parser.add_argument(
        "--validation-rows",
        type=at_least_two,
        default=DEFAULT_VALIDATION_ROWS,
        help="validation pairs for early stopping",
    )
    parser.add_argument("--dimension", type=positive_int, default=128, help="the embedding's dimension")
    parser.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature")
    parser.add_argument("--batch-size", type=at_least_two, default=512, help="pairs per batch (in-batch negatives)")
    parser.add_argument("--epochs", type=positive_int, default=30, help="at most this many epochs")
    parser.add_argument("--patience", type=positive_int, default=3, help="epochs without a better validation recall")
    parser.add_argument(
        "--cache", type=Path, default=FEATURE_CACHE, help="folder for the encoder features (default: runs/...)"
    )
    parser.set_defaults(run=run)


def pair_features(summarizer, frame, name: str, cache: Path):
    """The head's inputs (`HeadInputs`) for each row's body and title, read from `cache` when this
    model encoded these rows before."""
    import hashlib

    from issue_summarizer.inference.summarizer import titles_digest
    from issue_summarizer.training.contrastive import FEATURES, WORD_BUCKETS, WORD_LENGTH, HeadInputs

    # The key covers the model, the features, how words are hashed and the rows' text, so a
    # retrained model, another feature set or hashing, or other rows encode afresh.
    digest = hashlib.sha256(f"{titles_digest(summarizer.directory)}{FEATURES}{WORD_BUCKETS}/{WORD_LENGTH}".encode())
    for body, title in zip(frame["body"], frame["title"], strict=True):
        digest.update(body.encode("utf-8", "replace") + b"\0" + title.encode("utf-8", "replace") + b"\0")
    path = cache / f"{name}-{len(frame)}-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as stored:
            return (
                HeadInputs(stored["bodies"], stored["body_words"]),
                HeadInputs(stored["titles"], stored["title_words"]),
            )
    bodies = summarizer.similarity_inputs(frame["body"].tolist())
    titles = summarizer.similarity_inputs(frame["title"].tolist())
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, bodies=bodies.features, body_words=bodies.words, titles=titles.features, title_words=titles.words)
    return bodies, titles


def sample_pairs(frame, rows: int, seed: int):
    """At most `rows` rows whose body and title the encoder accepts, drawn reproducibly."""
    from issue_summarizer.data.input_checks import summarizable_mask

    usable = frame[summarizable_mask(frame["body"]) & summarizable_mask(frame["title"])]
    if len(usable) > rows:
        usable = usable.sample(n=rows, random_state=seed)
    return usable.reset_index(drop=True)


def run(args: argparse.Namespace) -> None:
    import time

    from issue_summarizer.cli.arguments import load_data
    from issue_summarizer.data.splitting import RepositorySplit
    from issue_summarizer.evaluation.metrics import select_rows
    from issue_summarizer.inference.summarizer import Summarizer, check_model_directory
    from issue_summarizer.training.contrastive import HEAD_FILE, HeadSettings, save_head, train_head

    check_model_directory(args.model)
    if not (args.model / "split.json").is_file():
        raise ValueError(f"{args.model}: no split.json; the head is trained on the model's own train rows")
    settings = HeadSettings(
        dimension=args.dimension,
        temperature=args.temperature,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
    )
    # Before the data and the model load, which take a while.
    settings.check()
    started = time.perf_counter()
    split = RepositorySplit.load(args.model / "split.json")
    loaded = load_data(args, require_title=True)
    train = sample_pairs(select_rows(loaded, "train", split), args.train_rows, settings.seed)
    validation = sample_pairs(select_rows(loaded, "validation", split), args.validation_rows, settings.seed)
    if len(train) < settings.batch_size or len(validation) < 2:
        raise ValueError(
            f"{args.data}: {len(train)} train and {len(validation)} validation pairs; "
            f"need at least {settings.batch_size} and 2"
        )
    summarizer = Summarizer.load(args.model, similarity_head=False)
    print(f"encoding {len(train):,} train and {len(validation):,} validation pairs", file=sys.stderr)
    train_bodies, train_titles = pair_features(summarizer, train, "train", args.cache)
    validation_bodies, validation_titles = pair_features(summarizer, validation, "validation", args.cache)
    encoded = time.perf_counter() - started
    head, report = train_head(
        train_bodies,
        train_titles,
        validation_bodies,
        validation_titles,
        settings,
        log=lambda line: print(line, file=sys.stderr),
    )
    save_head(args.model, head, report)
    print(
        f"wrote {args.model / HEAD_FILE}: {report.dimension}-d embedding, validation title→body "
        f"recall@1 {report.validation_recall_at_1:.3f}, recall@10 {report.validation_recall_at_10:.3f} "
        f"(data and encoder {encoded:.0f} s, head {report.seconds:.0f} s)"
    )
