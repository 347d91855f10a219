"""Measure the title check (`inference/title_check.py`) on the test split, in one run.

    python bench/title_check.py [--model model] [--data ../shared/data/github_issues.jsonl.gz] [--no-docs]

Every test issue of the model's split goes through `check_titles` once, as `python -m
issue_summarizer check` would check it. The script then reports:

- the share of titles flagged (vague, off topic), overall and by rule: the rules each title broke
  as the check reports them (a template title is not tested further; a vague title is not tested
  against its body; the likelihood rule is tested last), and each rule on its own;
- recall on default template titles, defined here independently of the module's own list (see
  `reference_template_kind`), on the test split and on the train and validation titles (the title
  rules need no model, since a template title is vague whatever its body);
- the share flagged among good titles (`is_good_title`: 6 words or more, at least half of their
  words found in the body), which should stay at 5% or under;
- the distribution of the likelihood gap and of the suggestion's confidence, the share of flagged
  titles that would get a suggestion at three confidence thresholds, and the effect of moving
  each threshold of `CheckSettings` one at a time;
- the wall time of the GitHub Action's whole run per issue (`python -m issue_summarizer action`
  in dry-run mode, model load included, no network), the median of a few runs on different test
  issues. The row is skipped with a note when the `action` command does not exist.

It prints 30 flagged titles drawn at random (seeded) with their reasons, the model's title and
its confidence, for a reader to judge; those go to stdout only, never into the docs, which hold
aggregate figures alone. The tables go into docs/title_check.md between the title-check markers.
`--limit N` checks N test issues drawn at random instead, for a quick run, and writes no docs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marked_tables import write_between_markers  # noqa: E402  Beside this script in bench/.

from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.inference.confidence import Calibration, calibration_problem, load_calibration  # noqa: E402
from issue_summarizer.inference.summarizer import Summarizer  # noqa: E402
from issue_summarizer.inference.title_check import (  # noqa: E402
    GENERIC_WORDS,
    CheckSettings,
    TitleVerdict,
    body_reasons,
    check_titles,
    content_words,
    is_template_title,
    likelihood_reason,
    title_reasons,
    words,
)
from issue_summarizer.text.title_form import FUNCTION_WORDS  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
DOC = ROOT / "docs" / "title_check.md"
MARKERS = ("<!-- title-check:start -->", "<!-- title-check:end -->")
COMMAND = "python bench/title_check.py"
SEED = 28
SHOWN_FLAGGED = 30
PERCENTILES = (50, 75, 90, 95, 99)
SUGGESTION_THRESHOLDS = (0.4, 0.5, 0.6)

# The check's rules, in the order it applies them, with the names the tables use.
RULES = {
    "template": "template default",
    "short": "too short",
    "generic": "only generic words",
    "overlap": "few words shared with the body",
    "likelihood": "model likelihood gap",
}
VAGUE_RULES = ("template", "short", "generic")

# The reference for template recall, written from GitHub's own templates and common issue forms,
# not from the module's list. Titles are compared after `normalized` (lower case, only letters,
# digits and single spaces). GitHub's template chooser offers "Bug report", "Feature request" and
# "Custom issue template"; issue forms set a title such as "[Bug]: " or "[Feature Request]: ",
# often with an emoji ("🐛 Bug Report"), which normalizing removes.
DEFAULT_TEMPLATE_TITLES = frozenset(
    (
        "bug report",
        "bug reports",
        "report a bug",
        "bug",
        "feature request",
        "feature requests",
        "request a feature",
        "new feature request",
        "feature",
        "enhancement",
        "enhancement request",
        "question",
        "ask a question",
        "documentation",
        "docs",
        "documentation issue",
        "custom issue template",
        "blank issue",
        "issue",
        "new issue",
        "title",
        "issue title",
        "untitled",
        "support",
        "support request",
    )
)
# What a template leaves after its tag when the person does not replace it: the placeholder text
# of a form's title ("[Bug]: <bug title>", "[Docs]: short description").
TEMPLATE_PLACEHOLDERS = frozenset(
    (
        "title",
        "your title",
        "your title here",
        "title here",
        "enter a title",
        "enter title here",
        "add a title",
        "bug title",
        "feature title",
        "issue title",
        "summary",
        "short description",
        "a short description",
        "short description of the issue",
        "a short description of the issue",
        "brief description",
        "describe the bug",
        "describe the issue",
        "a clear and concise title",
    )
)
# A title that is one bracketed tag with nothing after it but a colon ("[Bug]", "[Feature Request]: "),
# or one tag before a colon ("Bug:"), with the tag in group "tag".
_ONE_TAG = re.compile(r"^\s*(?:\[(?P<bracketed>[^\[\]]*)\]\s*:?|(?P<colon>[^\[\]:]*):)\s*$")
# A leading run of bracketed tags, or one tag and a colon, with what follows in group "rest".
_LEADING_TAGS = re.compile(r"^\s*(?:(?:\[[^\[\]]*\]\s*)+:?|[^\[\]:]*:)(?P<rest>.*)$", re.DOTALL)
_NOT_LETTERS_OR_DIGITS = re.compile(r"[\W_]+", re.UNICODE)
# Words for the good-title test: lower-cased runs of letters and digits, apostrophes kept inside.
_GOOD_TITLE_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)


def normalized(text: str) -> str:
    """The text lower-cased, with everything but letters and digits (punctuation, emoji) made one space."""
    return " ".join(_NOT_LETTERS_OR_DIGITS.sub(" ", text.lower()).split())


def reference_template_kind(title: str) -> str | None:
    """Which kind of default template title this is, or None for a title a person wrote.

    `default name`: the whole title is one of GitHub's default template titles ("🐛 Bug Report").
    `only tags`: one tag and nothing after it, the tag of one or two words, or of two words that
    make a default title ("[Bug]", "[Feature Request]: ", "Bug:"); a longer bracket ("[Login page
    freezes]") or a run of them is a title written as tags, and "Parser KeyError:" is a title cut
    short, not a template's. `placeholder`: tags followed by a template's placeholder
    text ("[Bug]: <bug title>").
    """
    if normalized(title) in DEFAULT_TEMPLATE_TITLES:
        return "default name"
    match = _ONE_TAG.match(title)
    if match:
        tag = normalized(match["bracketed"] if match["bracketed"] is not None else match["colon"])
        short_enough = len(tag.split()) <= (2 if match["bracketed"] is not None else 1)
        if short_enough or tag in DEFAULT_TEMPLATE_TITLES:
            return "only tags"
    match = _LEADING_TAGS.match(title)
    if match and normalized(match["rest"]) in TEMPLATE_PLACEHOLDERS:
        return "placeholder"
    return None


def good_title_words(text: str) -> list[str]:
    return _GOOD_TITLE_WORD.findall(text.lower().replace("’", "'"))


def is_good_title(title: str, body: str) -> bool:
    """A title of 6 words or more, at least half of whose distinct words other than function words
    ("the", "in", "is": `title_form.FUNCTION_WORDS`) occur as words of the body.

    Words are lower-cased runs of letters and digits, matched exactly (no stemming, no substrings),
    so this is stricter than the check's own overlap rule.
    """
    title_words = good_title_words(title)
    if len(title_words) < 6:
        return False
    meaningful = {word for word in title_words if word not in FUNCTION_WORDS}
    if not meaningful:
        return False
    body_words = set(good_title_words(body))
    return len(meaningful & body_words) >= len(meaningful) / 2


def rule_of_reason(reason: str) -> str:
    """The rule (a key of RULES) that produced one of the check's reasons."""
    if reason.startswith("the title is an issue template"):
        return "template"
    if reason.startswith("too short"):
        return "short"
    if reason.startswith("only generic words"):
        return "generic"
    if reason.endswith("in common with the body"):
        return "overlap"
    if reason.startswith("the model finds"):
        return "likelihood"
    raise ValueError(f"a reason this benchmark does not know; update rule_of_reason: {reason!r}")


@dataclass
class Checked:
    """One test issue with the check's verdict and what the benchmark measures of it."""

    repo: str
    title: str
    body: str
    verdict: TitleVerdict
    # The model's title log-likelihood minus the person's, per token; None for an unread body.
    gap: float | None
    good: bool
    reported: set[str] = field(default_factory=set)

    @property
    def readable(self) -> bool:
        return self.verdict.problem is None

    @property
    def flagged(self) -> bool:
        return self.verdict.verdict != "fine"


def rules_alone(item: Checked, settings: CheckSettings) -> set[str]:
    """Every rule the title breaks, each tested on its own (no rule hides another)."""
    fired = set()
    if is_template_title(item.title):
        fired.add("template")
    meaningful = content_words(item.title)
    if len(meaningful) < settings.min_content_words:
        fired.add("short")
    if meaningful and all(word in GENERIC_WORDS for word in meaningful):
        fired.add("generic")
    if item.readable and body_reasons(item.title, item.body, settings):
        fired.add("overlap")
    if item.readable and item.gap is not None and likelihood_reason(item.gap, settings):
        fired.add("likelihood")
    return fired


def rules_reported(fired: set[str]) -> set[str]:
    """The rules the check reports, given every rule broken: it stops at the first group that fires."""
    if "template" in fired:
        return {"template"}
    vague = fired & {"short", "generic"}
    if vague:
        return vague
    return {"overlap"} if "overlap" in fired else fired & {"likelihood"}


def check_test_rows(
    summarizer: Summarizer, frame: pd.DataFrame, calibration: Calibration | None, settings: CheckSettings
) -> tuple[list[Checked], float]:
    """Check every row; return the checked rows and the check's seconds per issue (model loaded)."""
    from tqdm.auto import tqdm

    titles, bodies = frame["title"].tolist(), frame["body"].tolist()
    started = time.perf_counter()
    with tqdm(total=len(frame), desc="check", unit="issue", file=sys.stderr) as bar:
        verdicts = check_titles(summarizer, titles, bodies, calibration, settings, progress=bar.update)
    seconds = (time.perf_counter() - started) / max(len(frame), 1)
    # The check does not return its likelihood gaps, so they are measured again here exactly as
    # it measures them: one teacher-forced pass over the person's title and the model's.
    readable = [row for row, verdict in enumerate(verdicts) if verdict.problem is None]
    gaps: dict[int, float] = {}
    if readable and summarizer.uses_attention and not summarizer.reads_whole_prefix:
        texts = [str(bodies[row]) for row in readable]
        given = [titles[row] for row in readable]
        suggested = [verdicts[row].model_title for row in readable]
        likelihoods = summarizer.title_log_likelihoods(texts + texts, given + suggested)
        gaps = dict(zip(readable, likelihoods[len(texts) :] - likelihoods[: len(texts)], strict=True))
    checked = []
    for row, verdict in enumerate(verdicts):
        item = Checked(
            repo=str(frame["repo"].iloc[row]),
            title=titles[row],
            body=str(bodies[row]),
            verdict=verdict,
            gap=None if row not in gaps else float(gaps[row]),
            good=is_good_title(titles[row], str(bodies[row])),
        )
        item.reported = {rule_of_reason(reason) for reason in verdict.reasons}
        checked.append(item)
    return checked, seconds


def share(count: int, total: int) -> str:
    return f"{count:,} ({count / total:.1%})" if total else "–"


def flagged_table(checked: Sequence[Checked], settings: CheckSettings) -> str:
    """Table 1 and 4: the share flagged, overall and by rule, on all test titles and on good titles."""
    good = [item for item in checked if item.good]
    alone = [rules_alone(item, settings) for item in checked]
    thresholds = {
        "template": "issue-form tags or a default title",
        "short": f"fewer than {settings.min_content_words} content words",
        "generic": "every content word generic",
        "overlap": f"under {settings.min_body_overlap:.0%} of content words in the body",
        "likelihood": f"gap over {settings.max_likelihood_gap:g} nats per token",
    }
    lines = [
        f"| titles flagged | rule | all test titles ({len(checked):,}) | on its own | good titles ({len(good):,}) |",
        "|---|---|---:|---:|---:|",
    ]
    for name in ("vague", "off_topic"):
        count = sum(item.verdict.verdict == name for item in checked)
        in_good = sum(item.verdict.verdict == name for item in good)
        lines.append(
            f"| **{name.replace('_', ' ')}** | | {share(count, len(checked))} | | {share(in_good, len(good))} |"
        )
    for rule, label in RULES.items():
        count = sum(rule in item.reported for item in checked)
        on_its_own = sum(rule in fired for fired in alone)
        in_good = sum(rule in item.reported for item in good)
        lines.append(
            f"| {label} | {thresholds[rule]} | {share(count, len(checked))} | "
            f"{share(on_its_own, len(checked))} | {share(in_good, len(good))} |"
        )
    flagged = sum(item.flagged for item in checked)
    in_good = sum(item.flagged for item in good)
    lines.append(f"| **flagged in all** | | {share(flagged, len(checked))} | | {share(in_good, len(good))} |")
    return "\n".join(lines)


KINDS = ("default name", "only tags", "placeholder")


def template_recall_rows(
    label: str, titles: Sequence[str], repos: Sequence[str], flagged: Callable[[int], tuple[bool, bool]]
) -> list[str]:
    """The recall table's rows for one set of titles, all kinds together and then each kind.

    `flagged(row)` says whether that row's title is vague and whether the template rule said so.
    """
    found = {row: reference_template_kind(title) for row, title in enumerate(titles)}
    found = {row: kind for row, kind in found.items() if kind}
    lines = []
    for kind in ("all kinds", *KINDS):
        rows = [row for row, its_kind in found.items() if kind in ("all kinds", its_kind)]
        vague = sum(flagged(row)[0] for row in rows)
        by_template = sum(flagged(row)[1] for row in rows)
        repositories = len({repos[row] for row in rows})
        name = f"{label} ({len(titles):,} titles)" if kind == "all kinds" else ""
        lines.append(
            f"| {name} | {kind} | {len(rows):,} | {repositories} | {share(vague, len(rows))} | "
            f"{share(by_template, len(rows))} |"
        )
    return lines


def template_recall_table(
    checked: Sequence[Checked], train_validation: pd.DataFrame, settings: CheckSettings
) -> tuple[str, Counter[str]]:
    """Table 3: recall on default template titles, with the missed titles (for stdout) counted."""
    test_titles = [item.title for item in checked]
    test_repos = [item.repo for item in checked]
    other_titles = train_validation["title"].tolist()
    other_repos = train_validation["repo"].tolist()
    other_reasons = [title_reasons(title, settings) if reference_template_kind(title) else [] for title in other_titles]

    def test_flagged(row: int) -> tuple[bool, bool]:
        return checked[row].verdict.verdict == "vague", "template" in checked[row].reported

    def other_flagged(row: int) -> tuple[bool, bool]:
        rules = {rule_of_reason(reason) for reason in other_reasons[row]}
        return bool(rules), "template" in rules

    lines = [
        "| titles | kind | default template titles | repositories | flagged vague (recall) | by the template rule |",
        "|---|---|---:|---:|---:|---:|",
        *template_recall_rows("test split, the whole check", test_titles, test_repos, test_flagged),
        *template_recall_rows("train + validation, title rules alone", other_titles, other_repos, other_flagged),
    ]
    missed = Counter(
        title for row, title in enumerate(test_titles) if reference_template_kind(title) and not test_flagged(row)[0]
    )
    missed.update(
        title for row, title in enumerate(other_titles) if reference_template_kind(title) and not other_reasons[row]
    )
    return "\n".join(lines), missed


def percentile_row(label: str, values: Sequence[float]) -> str:
    if not values:
        return f"| {label} | 0 |" + " – |" * len(PERCENTILES)
    cells = " | ".join(f"{value:.2f}" for value in np.percentile(values, PERCENTILES))
    return f"| {label} | {len(values):,} | {cells} |"


def distribution_table(checked: Sequence[Checked]) -> str:
    """Table 6a: percentiles of the likelihood gap and of the suggestion's confidence."""
    readable = [item for item in checked if item.readable]
    header = "| measure | issues | " + " | ".join(f"p{point}" for point in PERCENTILES) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(PERCENTILES)]
    for label, items in (("all readable", readable), ("good titles", [item for item in readable if item.good])):
        gaps = [item.gap for item in items if item.gap is not None]
        lines.append(percentile_row(f"likelihood gap, nats per token, {label}", gaps))
    for label, items in (("all readable", readable), ("flagged", [item for item in readable if item.flagged])):
        confidences = [item.verdict.confidence for item in items if item.verdict.confidence is not None]
        lines.append(percentile_row(f"suggestion confidence, {label}", confidences))
    return "\n".join(lines)


def suggestion_table(checked: Sequence[Checked]) -> str:
    """Table 6b: the share of flagged titles that get a suggestion at each confidence threshold."""
    flagged = [item for item in checked if item.flagged]
    readable = [item for item in flagged if item.readable]

    def suggested(item: Checked, threshold: float) -> bool:
        confidence = item.verdict.confidence
        differs = words(item.verdict.model_title) != words(item.title)
        return item.readable and confidence is not None and confidence >= threshold and differs

    lines = [
        f"| min_confidence | flagged titles with a suggestion (of {len(flagged):,}) | "
        f"of those with a readable body ({len(readable):,}) |",
        "|---:|---:|---:|",
    ]
    for threshold in SUGGESTION_THRESHOLDS:
        count = sum(suggested(item, threshold) for item in flagged)
        lines.append(f"| {threshold:.1f} | {share(count, len(flagged))} | {share(count, len(readable))} |")
    return "\n".join(lines)


def likelihood_gap_for_good_titles(
    checked: Sequence[Checked], settings: CheckSettings, target: float = 0.05
) -> tuple[float, float, float] | None:
    """The smallest `max_likelihood_gap`, in steps of 0.1 from 1 to 15, that flags at most
    `target` of the good titles, with the shares of good titles and of all titles it flags; None
    when no such value is found."""
    good = [item for item in checked if item.good]
    # Every rule but the likelihood's, once; the likelihood rule then only compares the gap.
    without_likelihood = replace(settings, max_likelihood_gap=float("inf"))
    others = [rules_alone(item, without_likelihood) for item in checked]
    for threshold in np.round(np.arange(1.0, 15.05, 0.1), 1):
        flagged = [
            bool(rules_reported(fired | ({"likelihood"} if item.gap is not None and item.gap > threshold else set())))
            for item, fired in zip(checked, others, strict=True)
        ]
        flagged_good = sum(flag for item, flag in zip(checked, flagged, strict=True) if item.good)
        if good and flagged_good / len(good) <= target:
            return float(threshold), flagged_good / len(good), sum(flagged) / len(checked)
    return None


def sensitivity_table(checked: Sequence[Checked], settings: CheckSettings) -> str:
    """How the flagged shares move when one threshold moves, the others at their defaults."""
    good = [item for item in checked if item.good]
    variants: list[tuple[str, CheckSettings]] = []
    for value in (1, 2, 3):
        variants.append((f"min_content_words = {value}", replace(settings, min_content_words=value)))
    for value in (0.1, 0.2, 0.3, 0.4):
        variants.append((f"min_body_overlap = {value:g}", replace(settings, min_body_overlap=value)))
    for value in (3.0, 4.0, 5.0, 5.5, 6.0, 7.0, 8.0):
        variants.append((f"max_likelihood_gap = {value:g}", replace(settings, max_likelihood_gap=value)))
    lines = [
        "| setting (others at their defaults) | flagged, all test titles | off topic, all | flagged, good titles |",
        "|---|---:|---:|---:|",
    ]
    for label, variant in variants:
        reported = [rules_reported(rules_alone(item, variant)) for item in checked]
        flagged = sum(bool(rules) for rules in reported)
        off_topic = sum(bool(rules) and not rules & set(VAGUE_RULES) for rules in reported)
        flagged_good = sum(bool(rules) for item, rules in zip(checked, reported, strict=True) if item.good)
        default = " (default)" if variant == settings else ""
        lines.append(
            f"| {label}{default} | {share(flagged, len(checked))} | {share(off_topic, len(checked))} | "
            f"{share(flagged_good, len(good))} |"
        )
    found = likelihood_gap_for_good_titles(checked, settings)
    if found is None:
        lines.append("\nNo max_likelihood_gap up to 15 keeps the good titles flagged at 5% or under.")
    else:
        threshold, good_share, all_share = found
        lines.append(
            f"\nThe smallest max_likelihood_gap (in steps of 0.1) that flags at most 5% of the good titles: "
            f"{threshold:g} ({good_share:.1%} of good titles, {all_share:.1%} of all test titles flagged)."
        )
    return "\n".join(lines)


@dataclass
class ActionRun:
    seconds: float
    returncode: int
    outputs: dict[str, str]
    stderr_tail: str


def read_github_output(text: str) -> dict[str, str]:
    """The outputs in a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def action_exists() -> bool:
    command = [sys.executable, "-m", "issue_summarizer", "action", "--help"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300).returncode == 0


def run_action(model: Path, title: str, body: str) -> ActionRun:
    """One dry run of the GitHub Action on one issue, start to exit, with no network."""
    event = {
        "action": "opened",
        "issue": {
            "number": 1,
            "title": title,
            "body": body,
            "user": {"login": "someone", "type": "User"},
            "state": "open",
            "labels": [],
        },
        "repository": {"full_name": "octo/demo", "owner": {"login": "octo"}, "name": "demo"},
        "sender": {"login": "someone", "type": "User"},
    }
    with tempfile.TemporaryDirectory() as directory:
        event_path = Path(directory) / "event.json"
        output_path = Path(directory) / "output.txt"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        output_path.touch()
        environment = dict(os.environ)
        environment.update(
            {
                "GITHUB_EVENT_NAME": "issues",
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_OUTPUT": str(output_path),
                # Nothing listens there: a dry run must not call the API, and this makes sure it cannot.
                "GITHUB_API_URL": "http://127.0.0.1:9",
                "GITHUB_REPOSITORY": "octo/demo",
                "INPUT_MODE": "dry-run",
                "ISSUE_SUMMARIZER_MODEL": str(model.resolve()),
            }
        )
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "issue_summarizer", "action"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        seconds = time.perf_counter() - started
        outputs = read_github_output(output_path.read_text(encoding="utf-8"))
    return ActionRun(seconds, finished.returncode, outputs, finished.stderr[-2000:])


def timing_table(model: Path, checked: Sequence[Checked], runs: int, check_seconds: float) -> str:
    """Table 5: seconds per issue, the Action's whole dry run and the batch check."""
    lines = ["| run | seconds per issue |", "|---|---:|"]
    lines.append(f"| `check_titles` in one batch of {len(checked):,} (model already loaded) | {check_seconds:.3f} |")
    if runs == 0:
        return "\n".join(lines + ["| GitHub Action, dry run | (not run: --action-runs 0) |"])
    if not action_exists():
        print("`python -m issue_summarizer action` does not exist yet; its timing row is skipped", file=sys.stderr)
        return "\n".join(lines + ["| GitHub Action, dry run | (skipped: the `action` command does not exist yet) |"])
    # Different issues with a readable body, drawn with the benchmark's seed.
    candidates = [item for item in checked if item.readable]
    chosen = random.Random(SEED).sample(candidates, min(runs, len(candidates)))
    seconds = []
    for number, item in enumerate(chosen, 1):
        run = run_action(model, item.title, item.body)
        print(
            f"action run {number}: {run.seconds:.1f} s, exit {run.returncode}, outputs "
            f"{ {name: run.outputs.get(name) for name in ('verdict', 'suggested_title', 'confidence')} }"
        )
        if run.returncode != 0:
            print(f"action run {number} failed:\n{run.stderr_tail}", file=sys.stderr)
            continue
        if run.outputs.get("verdict") != item.verdict.verdict:
            print(
                f"action run {number}: verdict {run.outputs.get('verdict')!r}, the check said {item.verdict.verdict!r}"
            )
        seconds.append(run.seconds)
    if not seconds:
        return "\n".join(lines + ["| GitHub Action, dry run | (every run failed; see stderr) |"])
    each = ", ".join(f"{value:.1f}" for value in seconds)
    lines.append(
        f"| GitHub Action, dry run, start to exit with model load (median of {len(seconds)}: {each}) | "
        f"{statistics.median(seconds):.1f} |"
    )
    return "\n".join(lines)


def show_flagged(checked: Sequence[Checked]) -> None:
    """Print a seeded random sample of flagged titles, for a reader to judge (stdout only)."""
    flagged = [item for item in checked if item.flagged]
    shown = random.Random(SEED).sample(flagged, min(SHOWN_FLAGGED, len(flagged)))
    print(f"\n{len(shown)} flagged titles drawn at random (seed {SEED}):\n")
    for number, item in enumerate(shown, 1):
        verdict = item.verdict
        confidence = "–" if verdict.confidence is None else f"{verdict.confidence:.2f}"
        gap = "–" if item.gap is None else f"{item.gap:.2f}"
        print(f"{number:2}. [{verdict.verdict}] {item.title!r}  ({item.repo})")
        print(f"    reasons: {verdict.reasons_text}")
        print(f"    model's title: {verdict.model_title!r} (confidence {confidence}, gap {gap})")
        print(f"    suggested: {verdict.suggested_title!r}" + (f"; body: {verdict.problem}" if verdict.problem else ""))


def check_consistency(checked: Iterable[Checked], settings: CheckSettings) -> None:
    """Warn when the benchmark's re-derivation of the rules disagrees with the check's reasons,
    since the sensitivity table relies on it."""
    differing = [item for item in checked if rules_reported(rules_alone(item, settings)) != item.reported]
    if differing:
        print(
            f"warning: for {len(differing)} titles the benchmark's rules differ from the check's reasons "
            f"(first: {differing[0].title!r}, {sorted(differing[0].reported)})",
            file=sys.stderr,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, help="check this many test issues drawn at random; writes no docs")
    parser.add_argument("--action-runs", type=int, default=5, help="dry runs of the GitHub Action to time (0: none)")
    parser.add_argument("--no-docs", action="store_true", help="only print the tables")
    args = parser.parse_args()
    settings = CheckSettings()

    started = time.perf_counter()
    loaded = load_issues(args.data)
    split = RepositorySplit.load(args.model / "split.json")
    frame = select_rows(loaded, "test", split)
    if args.limit:
        frame = frame.sample(min(args.limit, len(frame)), random_state=SEED).reset_index(drop=True)
    train_validation = pd.concat([select_rows(loaded, name, split) for name in ("train", "validation")])
    summarizer = Summarizer.load(args.model)
    calibration = load_calibration(args.model)
    if calibration is None:
        print(f"{calibration_problem(args.model)}: no confidence, so no suggestion", file=sys.stderr)
    checked, check_seconds = check_test_rows(summarizer, frame, calibration, settings)
    check_consistency(checked, settings)

    show_flagged(checked)
    recall, missed = template_recall_table(checked, train_validation, settings)
    print(f"\ndefault template titles the check missed ({sum(missed.values())}), with their counts:")
    for title, count in missed.most_common():
        print(f"  {count:4}  {title!r}")
    good = sum(item.good for item in checked)
    test_rows = f"{len(frame):,} test issues from {frame['repo'].nunique()} repositories"
    sections = [
        f"Measured with `{COMMAND}` on {test_rows} (the model's split; {good:,} good titles), "
        f"`CheckSettings` defaults, the model's tuned beam width.",
        "**Titles flagged, by rule.** A title's rules as the check reports them (it stops at the first "
        "group that fires: template, then too short and only generic words, then the body overlap, then "
        "the likelihood), and each rule on its own.\n\n" + flagged_table(checked, settings),
        "**Recall on default template titles** (the benchmark's own reference list, not the module's).\n\n" + recall,
        "**Moving one threshold.**\n\n" + sensitivity_table(checked, settings),
        "**For choosing thresholds.** The likelihood gap is the model's own title's mean log-probability "
        "per token minus the person's title's; the confidence is the model title's calibrated confidence.\n\n"
        + distribution_table(checked)
        + "\n\n"
        + suggestion_table(checked),
        "**Speed.**\n\n" + timing_table(args.model, checked, args.action_runs, check_seconds),
    ]
    text = "\n\n".join(sections)
    print("\n" + text)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.limit:
        print("(a --limit run: docs not written)", file=sys.stderr)
    elif not args.no_docs:
        write_between_markers(DOC, text, MARKERS)


if __name__ == "__main__":
    main()
