"""Score generated titles against real ones: ROUGE-1/2/L F1 and corpus BLEU.

Both the model's titles and the references are compared in the cleaned, tokenized form the
model writes (lowercase, numbers as `xxnum`), so formatting differences do not count as
errors. The lead baseline, the first N words of the cleaned body, is scored in the same run.

Per-row predictions hold issue text and are written next to the metrics but never
committed; the app's holdout page reads them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.atomic_files import write_atomically
from issue_summarizer.config import CleaningOptions, SummarizerConfig
from issue_summarizer.data.input_checks import is_summarizable
from issue_summarizer.data.loading import (
    LoadedData,
    check_output_directory,
    load_issues,
    parse_column_mapping,
    same_path,
)
from issue_summarizer.data.splitting import RepositorySplit, split_indices
from issue_summarizer.inference.confidence import load_calibration, scored_titles
from issue_summarizer.inference.decoding import TUNED_SETTINGS
from issue_summarizer.inference.summarizer import GeneratedTitle, Summarizer, check_beam_width
from issue_summarizer.text.cleaning import PLACEHOLDERS
from issue_summarizer.text.detokenization import detokenize
from issue_summarizer.text.title_form import ends_on_function_word, is_unbalanced, stray_prefix
from issue_summarizer.text.title_tags import starts_with_tag
from issue_summarizer.text.tokenization import clean_and_tokenize
from issue_summarizer.text.vocabulary import END, PAD, RARE, START

LEAD_WORDS = 12
_WORD = re.compile(r"\w+")
_PLACEHOLDER = re.compile(
    r"\b(?:"
    + "|".join(sorted(PLACEHOLDERS))
    + r")\b|"
    + "|".join(re.escape(marker) for marker in (PAD, RARE, START, END))
)
_TOKENIZER_SPACING = re.compile(r"\w (?:n't|'s|'m|'re|'ve|'ll|'d)\b| [.,;:!?)\]}](?:\s|$)|[(\[{] ", re.IGNORECASE)
PREDICTIONS_BODY_CHARS = 4000
METRICS_FILE = "metrics.json"


def predictions_file(split: str) -> str:
    return f"predictions_{split}.jsonl.gz"


def rouge_rows(predictions: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """ROUGE-1/2/L F1 of each prediction, with stemming (the `rouge-score` package)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows = []
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        rows.append({name: score.fmeasure for name, score in scores.items()})
    return pd.DataFrame(rows, columns=["rouge1", "rouge2", "rougeL"])


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    # The texts are already tokenized the same way on both sides, which is what `force` acknowledges.
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)], force=True).score)


def copy_rate(predictions: Sequence[str], title_vocabulary) -> float:
    """The share of titles with a word outside the title vocabulary: only copying from the body puts it there."""
    if not predictions:
        return 0.0
    return float(np.mean([any(word not in title_vocabulary.index for word in title.split()) for title in predictions]))


def repeats_a_word(title: str, times: int = 3) -> bool:
    words = title.split()
    return any(words.count(word) >= times for word in set(words))


def score_titles(predictions: Sequence[str], references: Sequence[str]) -> tuple[dict, pd.DataFrame]:
    """Aggregate metrics and the per-row ROUGE table."""
    if len(predictions) == 0:
        # Means over no rows are undefined, and sacrebleu fails on an empty corpus with an IndexError.
        raise ValueError("there are no titles to score")
    rows = rouge_rows(predictions, references)
    metrics = {name: round(float(rows[name].mean()), 4) for name in rows.columns}
    metrics["bleu"] = round(corpus_bleu(predictions, references), 2)
    metrics["empty_share"] = round(float(np.mean([not p.strip() for p in predictions])), 4)
    metrics["repeat_share"] = round(float(np.mean([repeats_a_word(p) for p in predictions])), 4)
    metrics["rows"] = len(predictions)
    return metrics, rows


class _CaseKeepingTokenizer:
    """Words and numbers as written, for `rouge-score` (whose own tokenizer lowercases)."""

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return _WORD.findall(text)


def rouge_l_as_written(predictions: Sequence[str], references: Sequence[str], keep_case: bool = True) -> float:
    """Mean ROUGE-L F1 on raw text: words and numbers as written, case-sensitive unless `keep_case` is off."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_CaseKeepingTokenizer())
    if not keep_case:
        predictions, references = [p.lower() for p in predictions], [r.lower() for r in references]
    scores = [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references, strict=True)]
    return float(np.mean(scores)) if scores else 0.0


def has_placeholder(title: str) -> bool:
    """Whether a title shows a placeholder (`xxnum`) or a marker (`<rare>`) that no person wrote."""
    return _PLACEHOLDER.search(title) is not None


def has_tokenizer_spacing(title: str) -> bool:
    """Whether a title is spaced like tokens: a space before `n't`, `'s` or closing punctuation, or after an
    opening bracket."""
    return _TOKENIZER_SPACING.search(title) is not None


def stray_prefix_share(titles: Sequence[str], bodies: Sequence[str]) -> float:
    """The share of titles whose leading `component:` prefix names nothing in their body (`title_form.stray_prefix`)."""
    if len(titles) != len(bodies):
        raise ValueError(f"{len(titles)} titles but {len(bodies)} bodies")
    stray = sum(stray_prefix(title, body) is not None for title, body in zip(titles, bodies, strict=True))
    return stray / max(len(titles), 1)


def surface_measures(
    titles: Sequence[str],
    raw_references: Sequence[str],
    unfinished: Sequence[bool],
    bodies: Sequence[str] | None = None,
) -> dict:
    """How titles read to a person: shares with placeholders, token spacing, a leading tag or an unfinished end,
    and ROUGE-L against the raw real titles, case-sensitive and not.

    Also the flaws of `text/title_form.py`: the shares that end on a function word, leave a quote,
    backtick or bracket unbalanced, and (given each title's body) start with a prefix the body never
    names; without `bodies` that share is None.
    """
    count = max(len(titles), 1)
    return {
        "placeholder_share": round(sum(map(has_placeholder, titles)) / count, 4),
        "spacing_share": round(sum(map(has_tokenizer_spacing, titles)) / count, 4),
        "tag_share": round(sum(map(starts_with_tag, titles)) / count, 4),
        "unfinished_share": round(sum(unfinished) / count, 4),
        "function_word_share": round(sum(map(ends_on_function_word, titles)) / count, 4),
        "unbalanced_share": round(sum(map(is_unbalanced, titles)) / count, 4),
        "stray_prefix_share": None if bodies is None else round(stray_prefix_share(titles, bodies), 4),
        "rougeL_cased": round(rouge_l_as_written(titles, raw_references), 4),
        "rougeL_raw": round(rouge_l_as_written(titles, raw_references, keep_case=False), 4),
    }


def title_rouge_l(predicted: str, reference: str, cleaning: CleaningOptions) -> float:
    """ROUGE-L F1 of one generated title against the real one, both cleaned and tokenized as in `evaluate_frame`."""
    predicted_tokens, reference_tokens = clean_and_tokenize([predicted, reference], cleaning)
    return float(rouge_rows([" ".join(predicted_tokens)], [" ".join(reference_tokens)])["rougeL"].iloc[0])


def lead_titles(body_tokens: Sequence[Sequence[str]], words: int = LEAD_WORDS) -> list[str]:
    return [" ".join(tokens[:words]) for tokens in body_tokens]


def select_rows(loaded: LoadedData, split_name: str, split: RepositorySplit | None) -> pd.DataFrame:
    """The rows of one split of the model's repository split, or every row for `all`."""
    frame = loaded.frame
    if split_name == "all":
        return frame
    if split is None:
        raise ValueError("the model directory has no split.json; use --split all")
    if split_name not in ("train", "validation", "test"):
        raise ValueError(f"unknown split {split_name!r}; use test, validation or all")
    names = split.name_of()
    unknown = sorted(set(frame["repo"]) - set(names))
    if unknown:
        raise ValueError(
            f"{loaded.path}: {len(unknown)} repositories are not in the model's split (e.g. {unknown[0]!r}); "
            "this is not the data the model was trained on, so use --split all"
        )
    return frame.iloc[split_indices(frame["repo"].tolist(), split)[split_name]].reset_index(drop=True)


def lead_titles_as_written(
    bodies: Sequence[str], body_tokens: Sequence[Sequence[str]], summarizer: Summarizer, words: int = LEAD_WORDS
) -> list[str]:
    """The lead baseline as the body wrote it: its first `words` tokens with their own case, numbers and spacing."""
    titles = []
    for body, tokens in zip(bodies, body_tokens, strict=True):
        surface = summarizer.body_surface(body, list(tokens[:words]))
        titles.append(detokenize([token.text for token in surface], [token.space_after for token in surface[:-1]]))
    return titles


def _titles_of_every_row(
    summarizer: Summarizer, bodies: list[str], beam_width: int | None, progress: Callable[[int], None] | None
) -> tuple[list[GeneratedTitle], list[float | None], int]:
    """The best title of every body, its confidence (None without the model's `confidence.json`),
    and how many bodies the model refused (empty or binary text). A refused body keeps its row
    with an empty title and no confidence, scored like any other, so that one bad row neither
    stops a run nor leaves the set: every model is scored on the same rows."""
    usable = [row for row, body in enumerate(bodies) if is_summarizable(body)]
    calibration = load_calibration(summarizer.directory)
    scored = scored_titles(summarizer, [bodies[row] for row in usable], calibration, beam_width, progress=progress)
    titles = [GeneratedTitle("", [], float("nan"), finished=True) for _ in bodies]
    confidences: list[float | None] = [None] * len(bodies)
    for row, item in zip(usable, scored, strict=True):
        titles[row], confidences[row] = item.title, item.confidence
    if progress and len(usable) < len(bodies):
        progress(len(bodies) - len(usable))
    return titles, confidences, len(bodies) - len(usable)


def evaluate_frame(
    summarizer: Summarizer,
    frame: pd.DataFrame,
    beam_width: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Generate titles for `frame` and score them and the lead baseline in one run.

    The model's titles are scored as people read them (restored: the body's case and numbers,
    English spacing, no template tags), cleaned and tokenized like the references; `model_tokens`
    scores the same titles as the model wrote them, to compare the two. Both get the surface
    measures of `surface_measures`, against the raw real titles.
    """
    if frame.empty:
        raise ValueError("there are no issues to evaluate")
    title_cleaning = summarizer.config.title_cleaning
    bodies = frame["body"].tolist()
    raw_titles = frame["title"].tolist()
    references = [" ".join(tokens) for tokens in clean_and_tokenize(raw_titles, title_cleaning)]
    body_tokens = clean_and_tokenize(bodies, summarizer.config.cleaning, max_tokens=LEAD_WORDS + 1)
    leads = lead_titles(body_tokens)
    generated, confidences, refused = _titles_of_every_row(summarizer, bodies, beam_width, progress)
    predictions = [title.text for title in generated]
    predicted_tokens = [" ".join(title.tokens) for title in generated]
    # Restored titles are compared in the references' form: cleaned and tokenized again.
    cleaned_predictions = [" ".join(tokens) for tokens in clean_and_tokenize(predictions, title_cleaning)]
    model_metrics, model_rows = score_titles(cleaned_predictions, references)
    token_metrics, _ = score_titles(predicted_tokens, references)
    lead_metrics, lead_rows = score_titles(leads, references)
    cut = [not title.finished for title in generated]
    model_metrics |= surface_measures(predictions, raw_titles, cut, bodies)
    token_metrics |= surface_measures(predicted_tokens, raw_titles, cut, bodies)
    lead_metrics |= surface_measures(
        lead_titles_as_written(bodies, body_tokens, summarizer),
        raw_titles,
        [len(tokens) > LEAD_WORDS for tokens in body_tokens],
        bodies,
    )
    table = pd.DataFrame(
        {
            "repo": frame["repo"].to_numpy(),
            "title": frame["title"].to_numpy(),
            "body": frame["body"].str.slice(0, PREDICTIONS_BODY_CHARS).to_numpy(),
            "reference": references,
            "predicted_title": predictions,
            "predicted_tokens": predicted_tokens,
            "score": [title.score for title in generated],
            # The calibrated probability that the title is acceptable (`inference.confidence`).
            "confidence": [None if value is None else round(value, 4) for value in confidences],
            "lead": leads,
            "rougeL": model_rows["rougeL"].round(4).to_numpy(),
            "lead_rougeL": lead_rows["rougeL"].round(4).to_numpy(),
        }
    )
    model_metrics["copy_rate"] = round(copy_rate(predicted_tokens, summarizer.title_vocabulary), 4)
    model_metrics["refused_bodies"] = refused
    token_metrics["copy_rate"] = model_metrics["copy_rate"]
    options = summarizer.decoding_options(beam_width, None)
    metrics = {
        "model": model_metrics,
        "model_tokens": token_metrics,
        f"lead_{LEAD_WORDS}": lead_metrics,
        "decoding": {name: getattr(options, name) for name in TUNED_SETTINGS},
    }
    return metrics, table


def metrics_name(split_name: str) -> str:
    """The metrics file of one split: `metrics.json` (the model card) for the test split."""
    return METRICS_FILE if split_name == "test" else f"metrics_{split_name}.json"


def metrics_directory(
    model_directory: str | Path,
    out: str | Path | None,
    split_name: str = "test",
    beam_width: int | None = None,
    limit: int | None = None,
) -> Path:
    """Where an evaluation writes its metrics and predictions: `out`, else the model directory.

    The test split's `metrics.json` in the model directory is the model card the app shows, so
    only the model's standard test evaluation may write there: every row of the data, decoded as
    the model decodes by default. An evaluation of part of the test split (`limit`) or with
    another beam width is refused there with a ValueError that asks for `out`; other splits
    write `metrics_SPLIT.json`, which nothing shows, wherever they are asked to.
    """
    if beam_width is not None:
        check_beam_width(beam_width)
    model_directory = Path(model_directory)
    target = Path(out) if out is not None else model_directory
    if split_name != "test" or not same_path(target, model_directory):
        # Only the test split's metrics.json is the model card; other splits' files are working notes.
        return target
    reasons = []
    if limit is not None:
        reasons.append(f"--limit {limit} reads only part of the data")
    if beam_width is not None:
        try:
            own = SummarizerConfig.load(model_directory).beam_width
        except (OSError, ValueError):
            own = None  # Not a loadable model directory: loading the model says what is wrong.
        if own is not None and beam_width != own:
            reasons.append(f"--beam-width {beam_width} is not the model's own width ({own})")
    if reasons:
        raise ValueError(
            f"{model_directory}: {' and '.join(reasons)}, so the results would replace the model's "
            f"{metrics_name(split_name)} with figures that are not its standard evaluation; "
            "write them elsewhere with --out DIR"
        )
    return target


def evaluate_model_directory(
    model_directory: str | Path,
    loaded: LoadedData,
    split_name: str = "test",
    beam_width: int | None = None,
    out: Path | None = None,
    limit: int | None = None,
) -> dict:
    """Evaluate a model directory on one split of loaded data; write metrics and predictions.

    They go to `out`, or into the model directory when this is its standard evaluation (see
    `metrics_directory`). `limit` keeps the first rows of the split, if given: the split is
    chosen from every row of `loaded` first, so that a limit cannot leave it empty.
    """
    from tqdm.auto import tqdm

    out = metrics_directory(model_directory, out, split_name, beam_width, limit)
    check_output_directory(out, "--out")
    split_path = Path(model_directory) / "split.json"
    split = RepositorySplit.load(split_path) if split_path.is_file() else None
    frame = select_rows(loaded, split_name, split)
    if frame.empty:
        raise ValueError(
            f"{loaded.path}: none of its {len(loaded.frame):,} usable rows is in the model's {split_name} split "
            "(their repositories are in the other splits); choose another --split, or --split all"
        )
    if limit is not None:
        frame = frame.iloc[:limit]
    summarizer = Summarizer.load(model_directory)
    with tqdm(total=len(frame), desc="summarize", unit="issue") as bar:
        metrics, table = evaluate_frame(summarizer, frame, beam_width=beam_width, progress=bar.update)
    metrics.update({"split": split_name, "data": str(loaded.path)})
    out.mkdir(parents=True, exist_ok=True)
    name = metrics_name(split_name)
    # Atomic, so that the app, which may be reading these files, never sees half of one.
    write_atomically(out / name, lambda temporary: temporary.write_text(json.dumps(metrics, indent=1)))
    write_atomically(
        out / predictions_file(split_name),
        lambda temporary: table.to_json(temporary, orient="records", lines=True, compression="gzip"),
    )
    print(format_metrics(metrics))
    print(f"wrote {out / name} and {out / predictions_file(split_name)}")
    return metrics


def evaluate_command(args) -> None:
    # Refused before the data is read, which for the whole corpus takes a while, and before the
    # titles are decoded, which takes minutes: nowhere to write the results would waste them.
    check_output_directory(metrics_directory(args.model, args.out, args.split, args.beam_width, args.limit), "--out")
    # Every row is read: `--limit` counts the chosen split's rows, which only the whole file tells apart.
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns))
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    evaluate_model_directory(args.model, loaded, args.split, args.beam_width, args.out, limit=args.limit)


def format_metrics(metrics: dict) -> str:
    lines = [f"{'':>10} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8} {'BLEU':>6} {'rows':>6}"]
    for name, values in metrics.items():
        if isinstance(values, dict) and "rougeL" in values:
            lines.append(
                f"{name:>10} {values['rouge1']:8.4f} {values['rouge2']:8.4f} {values['rougeL']:8.4f} "
                f"{values['bleu']:6.2f} {values['rows']:6d}"
            )
    return "\n".join(lines)
