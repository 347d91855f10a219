"""Choose a model's decoding defaults by their ROUGE-L on the validation split.

    python -m issue_summarizer tune --model model --data ../shared/data/github_issues.jsonl.gz

Beam width, length penalty, repeated n-gram blocking and minimum length are searched on a
grid (its axes can be narrowed from the command line). Every setting's ROUGE-L and its gain
over the model's current setting, with a 95% paired bootstrap interval, go to `tuning.json`.
The best setting replaces the current one in the model's `config.json`, so `Summarizer` uses
it by default, only when its gain is significant (the whole interval above zero): on a few
hundred rows the ranking of close settings is mostly noise. People read the titles, so a
setting that makes more titles repeat a word three times than the current one does is not
chosen, whatever its ROUGE-L. The test split is never looked at.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from issue_summarizer.data.input_checks import usable_rows
from issue_summarizer.data.loading import load_issues, parse_column_mapping
from issue_summarizer.data.splitting import RepositorySplit
from issue_summarizer.evaluation.metrics import repeats_a_word, rouge_rows, select_rows
from issue_summarizer.evaluation.significance import paired_bootstrap
from issue_summarizer.inference.decoding import TUNED_SETTINGS, DecodingOptions
from issue_summarizer.inference.summarizer import Summarizer
from issue_summarizer.text.tokenization import clean_and_tokenize

TUNING_FILE = "tuning.json"
BEAM_WIDTHS = (1, 4, 8)
LENGTH_PENALTIES = (0.6, 1.0, 1.4)
NGRAM_BLOCKS = (0, 1, 2)
MIN_LENGTHS = (0, 4)


def candidate_options(
    max_length: int,
    beam_widths: Sequence[int] = BEAM_WIDTHS,
    length_penalties: Sequence[float] = LENGTH_PENALTIES,
    ngram_blocks: Sequence[int] = NGRAM_BLOCKS,
    min_lengths: Sequence[int] = MIN_LENGTHS,
) -> list[DecodingOptions]:
    """The grid. The length penalty only changes beam search's choices, so greedy skips it."""
    candidates = []
    for width, penalty, block, minimum in itertools.product(beam_widths, length_penalties, ngram_blocks, min_lengths):
        if width == 1 and penalty != length_penalties[0]:
            continue
        candidates.append(
            DecodingOptions(
                beam_width=width,
                max_length=max_length,
                length_penalty=penalty if width > 1 else 1.0,
                no_repeat_ngram_size=block,
                min_length=min(minimum, max_length),
            )
        )
    return candidates


def decoded_titles(
    summarizer: Summarizer, bodies: list[str], options: DecodingOptions, batch_size: int = 256
) -> list[str]:
    """The best title for each body decoded with `options`, restored as people read them."""
    generated = summarizer.generate_titles(
        bodies,
        options.beam_width,
        options.max_length,
        batch_size,
        length_penalty=options.length_penalty,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        min_length=options.min_length,
    )
    return [alternatives[0].text for alternatives in generated]


def row_scores(summarizer: Summarizer, titles: list[str], references: list[str]) -> np.ndarray:
    """ROUGE-L F1 of each restored title, cleaned and tokenized like the references, as `evaluate` scores them."""
    cleaned = [" ".join(tokens) for tokens in clean_and_tokenize(titles, summarizer.config.title_cleaning)]
    return rouge_rows(cleaned, references)["rougeL"].to_numpy()


def score_options(
    summarizer: Summarizer, bodies: list[str], references: list[str], options: DecodingOptions, batch_size: int = 256
) -> float:
    """Mean ROUGE-L F1 of the titles decoded with `options` (see `row_scores`)."""
    return float(row_scores(summarizer, decoded_titles(summarizer, bodies, options, batch_size), references).mean())


def _settings(options: DecodingOptions) -> tuple:
    return tuple(getattr(options, name) for name in TUNED_SETTINGS)


def current_options(summarizer: Summarizer) -> DecodingOptions:
    """The decoding the model uses now, from its configuration."""
    return summarizer.decoding_options(None, None)


def tune_command(args) -> None:
    summarizer = Summarizer.load(args.model)
    split = RepositorySplit.load(Path(args.model) / "split.json")
    # Every row is read: `--limit` counts validation rows, as for `evaluate`, which only the whole
    # file tells apart from the rest.
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns))
    frame = select_rows(loaded, "validation", split)
    if frame.empty:
        raise ValueError(
            f"{args.data}: no validation rows to tune on: none of the {len(loaded.frame):,} rows read is in a "
            "repository of the model's validation split; tune on the data the model was trained on"
        )
    if args.limit is not None:
        frame = frame.iloc[: args.limit]
    # Bodies the summarizer refuses (empty or binary) cannot be titled with any setting.
    validation_rows = len(frame)
    frame = usable_rows(frame)
    if frame.empty:
        raise ValueError(
            f"{args.data}: no validation rows to tune on: the model refuses the body (empty or binary) "
            f"of all {validation_rows:,} validation rows"
        )
    if args.rows and len(frame) > args.rows:
        frame = frame.sample(n=args.rows, random_state=summarizer.config.seed)
    bodies = frame["body"].tolist()
    title_cleaning = summarizer.config.title_cleaning
    references = [" ".join(tokens) for tokens in clean_and_tokenize(frame["title"].tolist(), title_cleaning)]
    current = current_options(summarizer)
    candidates = candidate_options(
        current.max_length,
        args.beam_widths or BEAM_WIDTHS,
        args.length_penalties or LENGTH_PENALTIES,
        args.ngram_blocks or NGRAM_BLOCKS,
        args.min_lengths or MIN_LENGTHS,
    )
    # The current setting is the baseline every gain is measured against, so it is always scored.
    candidates = [current] + [option for option in candidates if _settings(option) != _settings(current)]
    scores, repeats = {}, {}
    for options in tqdm(candidates, desc="decoding settings"):
        titles = decoded_titles(summarizer, bodies, options)
        scores[_settings(options)] = row_scores(summarizer, titles, references)
        repeats[_settings(options)] = float(np.mean([repeats_a_word(title.lower()) for title in titles]))
    baseline = scores[_settings(current)]
    results = []
    for options in candidates:
        gain = paired_bootstrap(scores[_settings(options)], baseline, seed=summarizer.config.seed)
        results.append(
            {
                **{name: getattr(options, name) for name in TUNED_SETTINGS},
                "rougeL": round(float(scores[_settings(options)].mean()), 4),
                "gain": round(gain.mean, 4),
                "gain_low": round(gain.low, 4),
                "gain_high": round(gain.high, 4),
                "repeats_a_word": round(repeats[_settings(options)], 4),
                "current": options is current,
            }
        )
    results.sort(key=lambda row: -row["rougeL"])
    current_row = next(row for row in results if row["current"])
    # Compared as recorded (rounded), so the current setting always passes its own rule.
    readable = [row for row in results if row["repeats_a_word"] <= current_row["repeats_a_word"]]
    best = readable[0]
    changed = best["gain_low"] > 0
    if changed:
        config = replace(
            summarizer.config,
            beam_width=best["beam_width"],
            length_penalty=best["length_penalty"],
            no_repeat_ngram_size=best["no_repeat_ngram_size"],
            min_title_length=best["min_length"],
        )
        config.save(args.model)
    chosen = best if changed else current_row
    record = {"validation_rows": len(frame), "changed": changed, "chosen": {key: chosen[key] for key in TUNED_SETTINGS}}
    record["results"] = results
    Path(args.model, TUNING_FILE).write_text(json.dumps(record, indent=1))
    print(
        f"{'beam':>4} {'penalty':>7} {'block':>5} {'min':>3} {'ROUGE-L':>8} "
        f"{'gain over current (95% interval)':>34} {'repeats a word 3x':>18}"
    )
    for row in results[:12]:
        marker = "  (current)" if row["current"] else "  (chosen)" if row is best and changed else ""
        print(
            f"{row['beam_width']:>4} {row['length_penalty']:>7} {row['no_repeat_ngram_size']:>5} "
            f"{row['min_length']:>3} {row['rougeL']:>8.4f} "
            f"{row['gain']:>+12.4f} [{row['gain_low']:+.4f}, {row['gain_high']:+.4f}] "
            f"{row['repeats_a_word']:>18.2%}{marker}"
        )
    if changed:
        print(f"the best setting gains significantly on {len(frame):,} validation rows; saved to config.json")
    else:
        print(f"no setting gains significantly over the current one on {len(frame):,} validation rows; config kept")
