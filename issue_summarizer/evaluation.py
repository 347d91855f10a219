"""Score generated titles against real ones: ROUGE-1/2/L F1 and corpus BLEU.

Both the model's titles and the references are compared in the cleaned, tokenized form the
model writes (lowercase, numbers as `xxnum`), so formatting differences do not count as
errors. The lead baseline, the first N words of the cleaned body, is scored in the same run.

Per-row predictions hold issue text and are written next to the metrics but never
committed; the app's holdout page reads them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from issue_summarizer.cleaning import CleaningOptions
from issue_summarizer.data_loading import LoadedData, load_issues, parse_column_mapping
from issue_summarizer.decoding import TUNED_SETTINGS
from issue_summarizer.splitting import RepositorySplit, split_indices
from issue_summarizer.summarizer import Summarizer
from issue_summarizer.tokenization import clean_and_tokenize

LEAD_WORDS = 12
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
    rows = rouge_rows(predictions, references)
    metrics = {name: round(float(rows[name].mean()), 4) for name in rows.columns}
    metrics["bleu"] = round(corpus_bleu(predictions, references), 2)
    metrics["empty_share"] = round(float(np.mean([not p.strip() for p in predictions])), 4)
    metrics["repeat_share"] = round(float(np.mean([repeats_a_word(p) for p in predictions])), 4)
    metrics["rows"] = len(predictions)
    return metrics, rows


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


def evaluate_frame(
    summarizer: Summarizer,
    frame: pd.DataFrame,
    beam_width: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Generate titles for `frame` and score them and the lead baseline in one run."""
    cleaning = summarizer.config.cleaning
    references = [" ".join(tokens) for tokens in clean_and_tokenize(frame["title"].tolist(), cleaning)]
    leads = lead_titles(clean_and_tokenize(frame["body"].tolist(), cleaning, max_tokens=LEAD_WORDS))
    generated = summarizer.summarize(frame["body"].tolist(), beam_width=beam_width, progress=progress)
    predictions = [title for title, _ in generated]
    model_metrics, model_rows = score_titles(predictions, references)
    lead_metrics, lead_rows = score_titles(leads, references)
    table = pd.DataFrame(
        {
            "repo": frame["repo"].to_numpy(),
            "title": frame["title"].to_numpy(),
            "body": frame["body"].str.slice(0, PREDICTIONS_BODY_CHARS).to_numpy(),
            "reference": references,
            "predicted_title": predictions,
            "score": [score for _, score in generated],
            "lead": leads,
            "rougeL": model_rows["rougeL"].round(4).to_numpy(),
            "lead_rougeL": lead_rows["rougeL"].round(4).to_numpy(),
        }
    )
    model_metrics["copy_rate"] = round(copy_rate(predictions, summarizer.title_vocabulary), 4)
    options = summarizer.decoding_options(beam_width, None)
    metrics = {
        "model": model_metrics,
        f"lead_{LEAD_WORDS}": lead_metrics,
        "decoding": {name: getattr(options, name) for name in TUNED_SETTINGS},
    }
    return metrics, table


def evaluate_model_directory(
    model_directory: str | Path,
    loaded: LoadedData,
    split_name: str = "test",
    beam_width: int | None = None,
    out: Path | None = None,
) -> dict:
    """Evaluate a model directory on one split of loaded data; write metrics and predictions."""
    from tqdm.auto import tqdm

    summarizer = Summarizer.load(model_directory)
    split_path = Path(model_directory) / "split.json"
    split = RepositorySplit.load(split_path) if split_path.is_file() else None
    frame = select_rows(loaded, split_name, split)
    with tqdm(total=len(frame), desc="summarize", unit="issue") as bar:
        metrics, table = evaluate_frame(summarizer, frame, beam_width=beam_width, progress=bar.update)
    metrics.update({"split": split_name, "data": str(loaded.path)})
    out = Path(out or model_directory)
    out.mkdir(parents=True, exist_ok=True)
    name = METRICS_FILE if split_name == "test" else f"metrics_{split_name}.json"
    (out / name).write_text(json.dumps(metrics, indent=1))
    table.to_json(out / predictions_file(split_name), orient="records", lines=True, compression="gzip")
    print(format_metrics(metrics))
    print(f"wrote {out / name} and {out / predictions_file(split_name)}")
    return metrics


def evaluate_command(args) -> None:
    loaded = load_issues(args.data, preset=args.preset, columns=parse_column_mapping(args.columns), limit=args.limit)
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    evaluate_model_directory(args.model, loaded, args.split, args.beam_width, args.out)


def format_metrics(metrics: dict) -> str:
    lines = [f"{'':>10} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8} {'BLEU':>6} {'rows':>6}"]
    for name, values in metrics.items():
        if isinstance(values, dict) and "rougeL" in values:
            lines.append(
                f"{name:>10} {values['rouge1']:8.4f} {values['rouge2']:8.4f} {values['rougeL']:8.4f} "
                f"{values['bleu']:6.2f} {values['rows']:6d}"
            )
    return "\n".join(lines)
