"""Measure title text on the real data: leading tags, the detokenizer's round trip, tag stripping.

    python bench/title_text.py [--data-dir ../shared/data] [--model model] [--top 40] [--examples 0]

(a) Leading tags of every source file: the most common bracketed tags (``[bug]``) and ``word:``
    prefixes (``fix(…):``), with their counts, share of the file's titles, the number of
    repositories that use them, how often the body names the tag word, and whether
    `strip_title_tags` removes them. This is what TITLE_TAGS was chosen from.
(b) The detokenizer's round trip on the GitHub titles of the model's test split: each title is
    cleaned with the model's options but keeping case and numbers, tokenized, joined again by
    `detokenize` (rules only) and compared with the title, ignoring case and runs of whitespace.
    Mismatches are put down either to cleaning (it changed more than spacing) or to the first
    gap the rules got wrong. The same tokens are also compared with the cleaned title (with and
    without the spaces that cleaning puts around brackets), which leaves the detokenizer alone,
    and with a plain `" ".join`; the model's own form (lower case, numbers as `xxnum`) is checked
    against its cleaned title the same way. A table of how real titles space the ambiguous tokens (a
    hyphen between words, `/`, `=`, ...) backs the rules.
(c) The share of titles that start with a tag, per source file, before and after
    `strip_title_tags`.

Single process, a minute or so. Titles are only printed with `--examples N`; nothing is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.config import (
    CleaningOptions,  # noqa: E402
    SummarizerConfig,  # noqa: E402
)
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.splitting import RepositorySplit  # noqa: E402
from issue_summarizer.evaluation.metrics import select_rows  # noqa: E402
from issue_summarizer.text.cleaning import clean_text  # noqa: E402
from issue_summarizer.text.detokenization import detokenize  # noqa: E402
from issue_summarizer.text.title_tags import TITLE_TAGS, starts_with_tag, strip_title_tags  # noqa: E402
from issue_summarizer.text.tokenization import tokenize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"
FILES = (
    "github_issues.jsonl.gz",
    "github_issues_more.jsonl.gz",
    "pull_requests.jsonl.gz",
    "pull_requests_more.jsonl.gz",
    "other_trackers.jsonl.gz",
)
BODY_CHARS = 3000
# Tag words that were considered and kept as content, shown next to TITLE_TAGS.
CONTENT_WORDS = ("regression", "performance", "security", "typo", "crash", "installation", "epic", "new model")
_BRACKET_TAG = re.compile(r"\s*\[([^\]\n]{1,40})\]")
_PREFIX_TAG = re.compile(r"\s*([^\W\d][\w./ -]{0,30}?)\s*(\([^)\n]{0,60}\))?!?:(?=\s)")
_SPACES = re.compile(r"\s+")
_TAG_TEXT = re.compile(r"[`*\s]+")

# (a) -------------------------------------------------------------------------------------------


def read_rows(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def leading_tag(title: str) -> tuple[str, str] | None:
    """The leading tag of a title as (display form, tag word), or None."""
    bracket = _BRACKET_TAG.match(title)
    if bracket:
        word = _TAG_TEXT.sub(" ", bracket.group(1)).strip().lower()
        return f"[{word}]", word
    prefix = _PREFIX_TAG.match(title)
    if prefix:
        word = _TAG_TEXT.sub(" ", prefix.group(1)).strip().lower()
        return f"{word}{'(…)' if prefix.group(2) else ''}:", word
    return None


@dataclasses.dataclass
class TagCounts:
    """Counts by leading-tag form (`[bug]`, `fix(…):`) and by tag word (`bug`, `fix`)."""

    titles: int = 0
    count: Counter = dataclasses.field(default_factory=Counter)
    repositories: dict = dataclasses.field(default_factory=lambda: defaultdict(set))
    in_body: Counter = dataclasses.field(default_factory=Counter)
    removed: Counter = dataclasses.field(default_factory=Counter)
    starts: int = 0
    starts_after: int = 0
    changed: int = 0


def count_tags(rows: Iterator[dict]) -> TagCounts:
    counts = TagCounts()
    for row in rows:
        title = row["title"]
        counts.titles += 1
        stripped = strip_title_tags(title)
        counts.starts += starts_with_tag(title)
        counts.starts_after += starts_with_tag(stripped)
        counts.changed += stripped != title.strip()
        found = leading_tag(title)
        if found is None:
            continue
        form, word = found
        # Whether the body names the tag, so that a model could copy it rather than guess it.
        named = re.search(r"\b" + re.escape(word) + r"\b", row.get("body", "")[:BODY_CHARS].lower()) is not None
        for key in (form, f"word {word}"):
            counts.count[key] += 1
            counts.repositories[key].add(row.get("repo"))
            counts.in_body[key] += named
            counts.removed[key] += stripped != title.strip()
    return counts


def merge(all_counts: list[TagCounts]) -> TagCounts:
    merged = TagCounts()
    for counts in all_counts:
        merged.titles += counts.titles
        for name in ("count", "in_body", "removed"):
            getattr(merged, name).update(getattr(counts, name))
        for key, repositories in counts.repositories.items():
            merged.repositories[key] |= repositories
    return merged


def tag_table(counts: TagCounts, keys: list[str], heading: str) -> str:
    lines = [
        f"| {heading} | titles | share | repositories | body names it | removed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in keys:
        count = counts.count[key]
        lines.append(
            f"| `{key.removeprefix('word ')}` | {count:,} | {count / counts.titles:.2%} | "
            f"{len(counts.repositories[key])} | {counts.in_body[key] / max(count, 1):.0%} "
            f"| {counts.removed[key] / max(count, 1):.0%} |"
        )
    return "\n".join(lines)


def top_forms(counts: TagCounts, bracketed: bool, top: int) -> list[str]:
    forms = [key for key, _ in counts.count.most_common() if not key.startswith("word ")]
    return [form for form in forms if form.startswith("[") == bracketed][:top]


def share_table(all_counts: dict[str, TagCounts]) -> str:
    lines = [
        "| source | titles | starts with a tag | after strip_title_tags | titles changed |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, counts in all_counts.items():
        lines.append(
            f"| {name} | {counts.titles:,} | {counts.starts / counts.titles:.2%} "
            f"| {counts.starts_after / counts.titles:.2%} | {counts.changed / counts.titles:.2%} |"
        )
    return "\n".join(lines)


# (b) -------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def squeezed(text: str) -> str:
    return _SPACES.sub("", text).lower()


# Checked in order; the first that fits the raw title names the cleaning change.
CLEANING_CHANGES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("cleaning: title cleaned to nothing (template line)", lambda raw, cleaned: not cleaned),
    ("cleaning: URL reduced to its domain", lambda raw, cleaned: re.search(r"://|\bwww\.", raw) is not None),
    ("cleaning: e-mail or package@version replaced", lambda raw, cleaned: "xxemail" in cleaned),
    ("cleaning: HTML tag or entity", lambda raw, cleaned: re.search(r"</?[a-zA-Z]|&#?\w+;", raw) is not None),
    ("cleaning: inline-code backticks removed", lambda raw, cleaned: "`" in raw),
    ("cleaning: markdown emphasis or link removed", lambda raw, cleaned: re.search(r"\]\(|[*_~]", raw) is not None),
    ("cleaning: repeated punctuation collapsed", lambda raw, cleaned: re.search(r"([^\w\s])\1", raw) is not None),
)


def cleaning_change(raw: str, cleaned: str) -> str:
    for name, applies in CLEANING_CHANGES:
        if applies(raw, cleaned):
            return name
    return "cleaning: other (template words, heading or list marker)"


def token_kind(token: str) -> str:
    if token[:1].isalnum() and token[-1:].isalnum():
        return "word"
    if token[:1].isalnum() or token[-1:].isalnum():
        return "word+punct"
    return f"`{token}`"


def true_spaces(raw: str, tokens: list[str]) -> list[bool]:
    """Whether each token follows whitespace in `raw`, whose characters, bar spacing, are the tokens'."""
    text = raw.lower()
    position = 0
    spaces = []
    for token in tokens:
        space = False
        while position < len(text) and text[position].isspace():
            position += 1
            space = True
        spaces.append(space)
        position += len(token)
    return spaces


def first_wrong_gap(raw: str, tokens: list[str], joined: str) -> str:
    wanted, got = true_spaces(raw, tokens), true_spaces(joined, tokens)
    for index in range(1, len(tokens)):
        if wanted[index] != got[index]:
            verb = "spaced in the title, joined" if wanted[index] else "joined in the title, spaced"
            return f"spacing: {token_kind(tokens[index - 1])} {token_kind(tokens[index])} {verb}"
    return "spacing: other"


# Gaps whose spacing the rules have to guess, and how real titles space them.
GAP_KINDS: tuple[tuple[str, Callable[[list[str], int], bool]], ...] = (
    ("hyphen between two words (`node - gyp`)", lambda t, i: t[i] == "-" and _words_around(t, i)),
    ("`/` between two words", lambda t, i: t[i] == "/" and _words_around(t, i)),
    ("`=` between two words", lambda t, i: t[i] == "=" and _words_around(t, i)),
    ("`:` after a word", lambda t, i: t[i] == ":" and _is_word(t[i - 1])),
    ("`(` after a word", lambda t, i: t[i] == "(" and _is_word(t[i - 1])),
    ("`[` after a word", lambda t, i: t[i] == "[" and _is_word(t[i - 1])),
    ("`<` after a word", lambda t, i: t[i] == "<" and _is_word(t[i - 1])),
    ('`"` after a word', lambda t, i: t[i] == '"' and _is_word(t[i - 1])),
    ("`'` after a word", lambda t, i: t[i] == "'" and _is_word(t[i - 1])),
    ("`can` `not`", lambda t, i: t[i - 1].lower() == "can" and t[i].lower() == "not"),
)


def _is_word(token: str) -> bool:
    return token[:1].isalnum() or token[-1:].isalnum()


def _words_around(tokens: list[str], index: int) -> bool:
    return 0 < index < len(tokens) - 1 and _is_word(tokens[index - 1]) and _is_word(tokens[index + 1])


@dataclasses.dataclass
class RoundTrip:
    titles: int = 0
    exact_raw: int = 0
    exact_cleaned: int = 0
    exact_cleaned_unsplit: int = 0
    exact_plain_join: int = 0
    exact_model_form: int = 0
    characters_kept: int = 0
    exact_characters_kept: int = 0
    causes: Counter = dataclasses.field(default_factory=Counter)
    examples: dict = dataclasses.field(default_factory=lambda: defaultdict(list))
    gaps: dict = dataclasses.field(default_factory=lambda: defaultdict(Counter))


def round_trip(titles: list[str], model_options: CleaningOptions, examples: int) -> RoundTrip:
    options = dataclasses.replace(model_options, lowercase=False, replace_numbers=False)
    unsplit = dataclasses.replace(options, split_brackets=False)
    model_unsplit = dataclasses.replace(model_options, split_brackets=False)
    result = RoundTrip()
    for raw in titles:
        # The form the model writes: lower case, numbers as xxnum.
        model_joined = detokenize(tokenize(clean_text(raw, model_options)))
        result.exact_model_form += normalise(model_joined) == normalise(clean_text(raw, model_unsplit))
        cleaned = clean_text(raw, options)
        tokens = tokenize(cleaned)
        joined = detokenize(tokens)
        result.titles += 1
        result.exact_raw += normalise(joined) == normalise(raw)
        result.exact_cleaned += normalise(joined) == normalise(cleaned)
        result.exact_cleaned_unsplit += normalise(joined) == normalise(clean_text(raw, unsplit))
        result.exact_plain_join += normalise(" ".join(tokens)) == normalise(raw)
        kept = squeezed(cleaned) == squeezed(raw)
        if kept:
            result.characters_kept += 1
            result.exact_characters_kept += normalise(joined) == normalise(raw)
            spaces = true_spaces(raw, tokens)
            for index in range(1, len(tokens)):
                for name, applies in GAP_KINDS:
                    if applies(tokens, index):
                        result.gaps[name]["spaced" if spaces[index] else "joined"] += 1
        if normalise(joined) == normalise(raw):
            continue
        cause = first_wrong_gap(raw, tokens, joined) if kept else cleaning_change(raw, cleaned)
        result.causes[cause] += 1
        if len(result.examples[cause]) < examples:
            result.examples[cause].append(f"{raw!r} -> {joined!r}")
    return result


def round_trip_tables(result: RoundTrip, top: int) -> str:
    total = result.titles
    lines = [
        "| compared with | exact | share |",
        "|---|---:|---:|",
        f"| the title (detokenize) | {result.exact_raw:,} | {result.exact_raw / total:.2%} |",
        f'| the title (plain `" ".join`) | {result.exact_plain_join:,} | {result.exact_plain_join / total:.2%} |',
        f"| `clean_text(title)`, same options | {result.exact_cleaned:,} | {result.exact_cleaned / total:.2%} |",
        f"| `clean_text(title)` without the spaces around brackets | {result.exact_cleaned_unsplit:,} "
        f"| {result.exact_cleaned_unsplit / total:.2%} |",
        f"| the title, where cleaning changed only spacing ({result.characters_kept:,} titles) "
        f"| {result.exact_characters_kept:,} | {result.exact_characters_kept / max(result.characters_kept, 1):.2%} |",
        f"| the model's form (lower case, `xxnum`): `clean_text(title, model options)` without the spaces "
        f"around brackets | {result.exact_model_form:,} | {result.exact_model_form / total:.2%} |",
        "",
        f"Causes of the {total - result.exact_raw:,} titles not reproduced (spacing: the first wrong gap):",
        "",
        "| cause | titles | share of all titles |",
        "|---|---:|---:|",
    ]
    for cause, count in result.causes.most_common(top):
        lines.append(f"| {cause} | {count:,} | {count / total:.2%} |")
    lines += ["", "How real titles space the gaps that the rules must guess:", ""]
    lines += ["| gap | joined | spaced | joined share |", "|---|---:|---:|---:|"]
    for name, _ in GAP_KINDS:
        joined, spaced = result.gaps[name]["joined"], result.gaps[name]["spaced"]
        lines.append(f"| {name} | {joined:,} | {spaced:,} | {joined / max(joined + spaced, 1):.0%} |")
    return "\n".join(lines)


# -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--model", type=Path, default=ROOT / "model", help="model directory: config and split")
    parser.add_argument("--top", type=int, default=40, help="rows per tag table and cause table")
    parser.add_argument("--examples", type=int, default=0, help="print this many mismatching titles per cause")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    print("## (a) Leading tags per source file\n")
    print(f"TITLE_TAGS ({len(TITLE_TAGS)}): {', '.join(TITLE_TAGS)}\n")
    all_counts: dict[str, TagCounts] = {}
    for name in FILES:
        path = args.data_dir / name
        if not path.is_file():
            print(f"{path}: missing, skipped\n")
            continue
        counts = count_tags(read_rows(path))
        all_counts[name] = counts
        print(f"### {name}: {counts.titles:,} titles\n")
        print(tag_table(counts, top_forms(counts, True, args.top), "bracketed tag") + "\n")
        print(tag_table(counts, top_forms(counts, False, args.top), "`word:` prefix") + "\n")
    words = [f"word {tag}" for tag in (*TITLE_TAGS, *CONTENT_WORDS)]
    print(f"### Tag words, all {len(all_counts)} files: TITLE_TAGS, then borderline words kept as content\n")
    print(tag_table(merge(list(all_counts.values())), words, "tag word (either form)") + "\n")

    print("## (b) Detokenizer round trip, GitHub test split\n")
    config = SummarizerConfig.load(args.model)
    split = RepositorySplit.load(args.model / "split.json")
    frame = select_rows(load_issues(args.data_dir / FILES[0]), "test", split)
    # The shipped model cleans titles as it was trained; a model trained now cleans them with
    # the configuration's defaults (titles as literal text, short punctuation runs kept).
    cleanings = (
        (f"as `{args.model.name}` cleans them", config.title_cleaning),
        ("as a model trained now cleans them (the default configuration)", SummarizerConfig().title_cleaning),
    )
    for description, cleaning in cleanings:
        result = round_trip(frame["title"].tolist(), cleaning, args.examples)
        print(
            f"### Titles cleaned {description}\n\n{result.titles:,} titles from {frame['repo'].nunique()} "
            "repositories, cleaned keeping case and numbers.\n"
        )
        print(round_trip_tables(result, args.top) + "\n")
        if args.examples:
            for cause, lines in result.examples.items():
                print(f"{cause}:\n" + "\n".join(f"    {line}" for line in lines) + "\n")

    print("## (c) Titles that start with a tag\n")
    print(share_table(all_counts) + "\n")
    print(f"Measured in {time.perf_counter() - started:.0f} s with `python bench/title_text.py`.")


if __name__ == "__main__":
    main()
