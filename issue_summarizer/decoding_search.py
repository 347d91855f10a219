"""Choose a model's decoding defaults by their ROUGE-L on the validation split.

    python -m issue_summarizer tune --model model --data ../shared/data/github_issues.jsonl.gz

Beam width, length penalty, repeated n-gram blocking and minimum length are searched on a
grid; the best setting is written into the model's `config.json`, so `Summarizer` uses it by
default, and every setting's score goes to `tuning.json`. The test split is never looked at.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from issue_summarizer.data_loading import load_issues, parse_column_mapping
from issue_summarizer.decoding import TUNED_SETTINGS, DecodingOptions
from issue_summarizer.evaluation import rouge_rows, select_rows
from issue_summarizer.input_checks import is_summarizable
from issue_summarizer.splitting import RepositorySplit
from issue_summarizer.summarizer import Summarizer
from issue_summarizer.tokenization import clean_and_tokenize

TUNING_FILE = "tuning.json"
BEAM_WIDTHS = (1, 4, 8)
LENGTH_PENALTIES = (0.6, 1.0, 1.4)
NGRAM_BLOCKS = (0, 1, 2)
MIN_LENGTHS = (0, 4)


def candidate_options(max_length: int) -> list[DecodingOptions]:
    """The grid. The length penalty only changes beam search's choices, so greedy skips it."""
    candidates = []
    for width, penalty, block, minimum in itertools.product(BEAM_WIDTHS, LENGTH_PENALTIES, NGRAM_BLOCKS, MIN_LENGTHS):
        if width == 1 and penalty != 1.0:
            continue
        candidates.append(
            DecodingOptions(
                beam_width=width,
                max_length=max_length,
                length_penalty=penalty,
                no_repeat_ngram_size=block,
                min_length=min(minimum, max_length),
            )
        )
    return candidates


def score_options(
    summarizer: Summarizer, bodies: list[str], references: list[str], options: DecodingOptions, batch_size: int = 256
) -> float:
    """Mean ROUGE-L F1 of the titles decoded with `options`, restored as people read them and then
    cleaned and tokenized like the references, as `evaluate` scores them."""
    generated = summarizer.generate_titles(
        bodies,
        options.beam_width,
        options.max_length,
        batch_size,
        length_penalty=options.length_penalty,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        min_length=options.min_length,
    )
    restored = [alternatives[0].text for alternatives in generated]
    titles = [" ".join(tokens) for tokens in clean_and_tokenize(restored, summarizer.config.title_cleaning)]
    return float(rouge_rows(titles, references)["rougeL"].mean())


def tune_command(args) -> None:
    summarizer = Summarizer.load(args.model)
    split = RepositorySplit.load(Path(args.model) / "split.json")
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns), limit=args.limit)
    frame = select_rows(loaded, "validation", split)
    # Bodies the summarizer refuses (empty or binary) cannot be titled with any setting.
    frame = frame[[is_summarizable(body) for body in frame["body"]]]
    if len(frame) > args.rows:
        frame = frame.sample(n=args.rows, random_state=summarizer.config.seed)
    bodies = frame["body"].tolist()
    title_cleaning = summarizer.config.title_cleaning
    references = [" ".join(tokens) for tokens in clean_and_tokenize(frame["title"].tolist(), title_cleaning)]
    results = []
    candidates = candidate_options(summarizer.config.title_length - 1)
    for options in tqdm(candidates, desc="decoding settings"):
        score = score_options(summarizer, bodies, references, options)
        results.append({**{name: getattr(options, name) for name in TUNED_SETTINGS}, "rougeL": round(score, 4)})
    results.sort(key=lambda row: -row["rougeL"])
    best = results[0]
    config = replace(
        summarizer.config,
        beam_width=best["beam_width"],
        length_penalty=best["length_penalty"],
        no_repeat_ngram_size=best["no_repeat_ngram_size"],
        min_title_length=best["min_length"],
    )
    config.save(args.model)
    Path(args.model, TUNING_FILE).write_text(json.dumps({"validation_rows": len(frame), "results": results}, indent=1))
    print(f"{'beam':>4} {'penalty':>7} {'block':>5} {'min':>3} {'ROUGE-L':>8}")
    for row in results[:10]:
        print(
            f"{row['beam_width']:>4} {row['length_penalty']:>7} {row['no_repeat_ngram_size']:>5} "
            f"{row['min_length']:>3} {row['rougeL']:>8.4f}"
        )
    greedy = next(
        row for row in results if row["beam_width"] == 1 and not row["no_repeat_ngram_size"] and not row["min_length"]
    )
    print(
        f"chose the best on {len(frame):,} validation rows (plain greedy: {greedy['rougeL']:.4f}); saved to config.json"
    )
