"""Score the lead baseline, the seed model and the default model on one test split, in one run.

    python bench/quality.py [--model model] [--seed-model models/seed] [--data ../shared/data/github_issues.jsonl.gz]

The test split is the default model's (by repository, at most 300 rows per repository), so
every row comes from a project neither model saw. Prints ROUGE-1/2/L F1 and BLEU on cleaned,
tokenized titles, the copy rate (titles holding a word outside the title vocabulary, which only
copying can produce), the shares of empty titles and of titles repeating a word 3 times, and
how the titles read to a person: the shares with a placeholder (`xxnum`), with tokenizer spacing
(`does n't`), starting with a tag (`[Bug]`), unfinished (cut by the length limit), ending on a
function word (`crashes when the`), with an unbalanced quote, backtick or bracket, and starting
with a `component:` prefix the body never names (`ios:` on an Electron issue), each also for the
real titles themselves, and ROUGE-L against the raw real titles, case-sensitive and not. It then
compares the two ways of casing the first word (the default model must have `capitalize_titles`
false for that), writes the table into docs/evaluation.md between the quality markers and, as
`quality.json`, into the default model's directory, where the app's Overview page reads it. The
README's short results table is copied from it by hand.

When the default model has a `confidence.json` (`python -m issue_summarizer calibrate`), a
confidence section follows: the ROUGE-L of the most confident 25%, 50%, 75% and all titles, the
expected calibration error and the reliability tables (predicted against observed in ten bins),
for the calibrated confidence and for `title_score` alone mapped to [0, 1] on validation. It goes
into docs/evaluation.md between the confidence markers. `--confidence-only` decodes the test split
once and writes only that section.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marked_tables import write_between_markers  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.calibration import confidence_report  # noqa: E402
from issue_summarizer.evaluation.metrics import (  # noqa: E402
    evaluate_frame,
    rouge_l_as_written,
    select_rows,
    surface_measures,
)
from issue_summarizer.evaluation.model_card import QUALITY_COLUMNS, decoding_description  # noqa: E402
from issue_summarizer.inference.confidence import calibration_problem, load_calibration  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.inference.title_restoration import capitalize_first_word  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
MARKERS = ("<!-- quality:start -->", "<!-- quality:end -->")
CONFIDENCE_MARKERS = ("<!-- confidence:start -->", "<!-- confidence:end -->")
# The columns and their headers are the Overview page's, so docs/evaluation.md and the app agree.
COLUMNS = tuple(QUALITY_COLUMNS)
HEADERS = tuple(QUALITY_COLUMNS.values())


def _cell(value: float | None, column: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if column == "bleu" else f"{value:.4f}"


def table(rows: list[tuple[str, dict]], test_rows: int, repositories: int, command: str) -> str:
    lines = [
        f"Test split: {test_rows:,} issues from {repositories} repositories that no model saw. "
        f"Measured with `{command}`.",
        "",
        "| titles | " + " | ".join(HEADERS) + " |",
        "|---|" + "---:|" * len(HEADERS),
    ]
    for name, metrics in rows:
        cells = [_cell(metrics.get(column), column) for column in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def casing_comparison(titles: list[str], references: list[str], capitalized: bool) -> str:
    """Case-sensitive ROUGE-L of the restored titles with and without a capital first letter."""
    if capitalized:
        return "(casing comparison skipped: run with a model whose capitalize_titles is false)"
    scores = {
        "as generated (copied words in the body's case, generated words lowercase)": rouge_l_as_written(
            titles, references
        ),
        "the same with the first word capitalised": rouge_l_as_written(
            [capitalize_first_word(title) for title in titles], references
        ),
    }
    lines = ["| casing of the restored titles | ROUGE-L cased, raw titles |", "|---|---:|"]
    lines += [f"| {name} | {score:.4f} |" for name, score in scores.items()]
    return "\n".join(lines)


def write_into_readme(text: str, markers: tuple[str, str] = MARKERS) -> None:
    write_between_markers(ROOT / "docs" / "evaluation.md", text, markers)


def confidence_section(model: Path, predictions, command: str) -> str | None:
    """The confidence section for the default model's test predictions, or None (saying why) without a calibration."""
    calibration = load_calibration(model)
    if calibration is None:
        print(f"no confidence section: {calibration_problem(model)}", file=sys.stderr)
        return None
    return f"Measured with `{command}`. " + confidence_report(predictions, calibration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--seed-model", type=Path, default=ROOT / "models" / "seed")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-readme", action="store_true", help="only print the table; write no files")
    parser.add_argument(
        "--confidence-only", action="store_true", help="only the confidence section (one decoding of the test split)"
    )
    args = parser.parse_args()
    default = Summarizer.load(args.model)
    split = RepositorySplit.load(args.model / "split.json")
    frame = select_rows(load_issues(args.data), "test", split)
    if args.confidence_only:
        started = time.perf_counter()
        _, predictions = evaluate_frame(default, frame)
        section = confidence_section(args.model, predictions, "python bench/quality.py --confidence-only")
        if section:
            print(section)
            print(f"\n({time.perf_counter() - started:.0f} s)")
            if not args.no_readme:
                write_into_readme(section, CONFIDENCE_MARKERS)
        return
    rows = []
    started = time.perf_counter()
    real_titles = frame["title"].tolist()
    bodies = frame["body"].tolist()
    rows.append(("real titles (for the surface measures)", surface_measures(real_titles, real_titles, [], bodies)))
    metrics, predictions = evaluate_frame(default, frame)
    rows.append(
        ("lead-12 (first 12 words of the cleaned body; surface measures on the body's own words)", metrics["lead_12"])
    )
    if args.seed_model.exists() and args.seed_model.resolve() != args.model.resolve():
        seed_metrics, _ = evaluate_frame(Summarizer.load(args.seed_model), frame)
        seed_metrics["model"]["copy_rate"] = None  # The seed cannot copy: its titles come from its vocabulary.
        rows.append((f"seed ({args.seed_model.name}, greedy, restored)", seed_metrics["model"]))
    label = f"{default.config.name} (`{args.model.name}/`, {decoding_description(metrics)}"
    rows.append((f"{label}, the model's tokens)", metrics["model_tokens"]))
    rows.append((f"{label}, restored: what people read)", metrics["model"]))
    greedy, _ = evaluate_frame(default, frame, beam_width=1)
    rows.append((f"{default.config.name} (`{args.model.name}/`, greedy, restored)", greedy["model"]))
    casing = casing_comparison(predictions["predicted_title"].tolist(), real_titles, default.config.capitalize_titles)
    command = "python bench/quality.py"
    text = table(rows, len(frame), frame["repo"].nunique(), command) + "\n\n" + casing
    print(text)
    confidence = confidence_section(args.model, predictions, command)
    if confidence:
        print("\n" + confidence)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if not args.no_readme:
        write_into_readme(text)
        if confidence:
            write_into_readme(confidence, CONFIDENCE_MARKERS)
        quality = {
            "command": command,
            "test_rows": len(frame),
            "test_repositories": int(frame["repo"].nunique()),
            "rows": [{"titles": name, **metrics} for name, metrics in rows],
        }
        (args.model / "quality.json").write_text(json.dumps(quality, indent=1))


if __name__ == "__main__":
    main()
