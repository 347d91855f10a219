"""The Title check page's logic: one issue's verdict, and the triage of a repository's open issues.

The page (`app_pages/title_check.py`) only lays these out. `check_titles` (`inference/title_check.py`)
gives the verdicts; `github/listing.py` lists a repository's open issues. A triage is kept for
`TRIAGE_MINUTES` minutes per repository, model and GitHub settings, for every session of the
process, so that visitors who triage the same repository one after another spend GitHub's rate
limit (60 requests an hour without a token) and the model's time once. A triage that stopped
early (the rate limit) is not kept, so that the next try lists the repository again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import pandas as pd

from issue_summarizer.github.client import GitHubSettings
from issue_summarizer.github.listing import DEFAULT_LIMIT, OpenIssues, fetch_open_issues, parse_repository
from issue_summarizer.inference.confidence import Calibration
from issue_summarizer.inference.summarizer import Summarizer
from issue_summarizer.inference.title_check import CheckSettings, TitleVerdict, check_titles

VERDICT_WORDS = {"fine": "Fine", "vague": "Vague", "off_topic": "Off topic"}
VERDICT_MEANINGS = {
    "fine": "the title says what the issue is about.",
    "vague": "the title says too little about the issue.",
    "off_topic": "the title says something the body does not.",
}
FLAGGED = ("vague", "off_topic")
TRIAGE_MINUTES = 10
TRIAGE_ENTRIES = 16
# The CSV of a triage: every checked issue, with the check's columns as the `check` command writes them.
CSV_COLUMNS = ["number", "title", "verdict", "reasons", "suggested_title", "confidence", "problem", "author", "url"]
# The page's table of flagged titles.
TABLE_COLUMNS = ["issue", "title", "verdict", "reasons", "suggested title", "confidence", "link"]


def verdict_in_words(verdict: str) -> str:
    """ "Fine", "Vague" or "Off topic"."""
    return VERDICT_WORDS.get(verdict, verdict.replace("_", " ").capitalize())


def check_one(
    summarizer: Summarizer,
    title: str,
    body: str,
    calibration: Calibration | None,
    settings: CheckSettings | None = None,
) -> TitleVerdict:
    """The verdict on one issue's title (an empty or unreadable body: judged on the title alone)."""
    return check_titles(summarizer, [title], [body], calibration, settings)[0]


def no_suggestion_reason(
    verdict: TitleVerdict, calibration_problem: str | None, settings: CheckSettings | None = None
) -> str | None:
    """Why a flagged title comes without a suggested title, in plain words; None when it has one or
    needs none (a fine title)."""
    settings = settings or CheckSettings()
    if verdict.verdict not in FLAGGED or verdict.suggested_title:
        return None
    if verdict.problem:
        first = verdict.problem.split(". ")[0].rstrip(".")
        return f"No suggested title: {first[:1].lower()}{first[1:]}, so the title was judged on its own."
    if verdict.confidence is None:
        why = calibration_problem or "the model has no confidence.json"
        return (
            "No suggested title: the model's titles have no confidence, and a title is suggested only when "
            f"its confidence is known ({why})."
        )
    if verdict.confidence < settings.min_confidence:
        return (
            f"No suggested title: the model's own title has {verdict.confidence:.0%} confidence, below the "
            f"{settings.min_confidence:.0%} a suggestion needs; a wrong suggestion would cost more than none."
        )
    return "No suggested title: the model's own title is the same as this one."


@dataclass
class Triage:
    """The open issues of a repository, each with its title's verdict."""

    listing: OpenIssues
    verdicts: list[TitleVerdict]
    limit: int
    checked_at: float = field(default_factory=time.time)

    @property
    def repository(self) -> str:
        return self.listing.repository

    @property
    def counts(self) -> Counter[str]:
        return Counter(verdict.verdict for verdict in self.verdicts)

    @property
    def flagged(self) -> int:
        return sum(self.counts[name] for name in FLAGGED)

    @property
    def suggested(self) -> int:
        return sum(bool(verdict.suggested_title) for verdict in self.verdicts)

    def summary(self) -> str:
        """One paragraph: how many issues were fetched and checked, and how many titles were flagged."""
        listing, counts = self.listing, self.counts
        fetched = f"Fetched {len(listing.issues):,} open issues of {self.repository}"
        if listing.pull_requests_skipped:
            plural = "s" if listing.pull_requests_skipped != 1 else ""
            fetched += f" (and skipped {listing.pull_requests_skipped:,} pull request{plural})"
        if not self.verdicts:
            return fetched + "."
        flagged = (
            f"{self.flagged:,} of their titles flagged: {counts['vague']:,} vague, {counts['off_topic']:,} off topic"
        )
        if self.flagged:
            flagged += f"; {self.suggested:,} with a suggested title"
        return f"{fetched}. {flagged}."

    def frame(self) -> pd.DataFrame:
        """Every checked issue, with `CSV_COLUMNS`."""
        rows = [
            {
                "number": issue.number,
                "title": issue.title,
                "verdict": verdict.verdict,
                "reasons": verdict.reasons_text,
                "suggested_title": verdict.suggested_title,
                "confidence": None if verdict.confidence is None else round(verdict.confidence, 4),
                "problem": verdict.problem or "",
                "author": issue.user,
                "url": issue.html_url,
            }
            for issue, verdict in zip(self.listing.issues, self.verdicts, strict=True)
        ]
        return pd.DataFrame(rows, columns=CSV_COLUMNS).astype({"confidence": "float64"})

    def flagged_table(self) -> pd.DataFrame:
        """The vague and off-topic titles, newest issue first, with `TABLE_COLUMNS` (the verdict in words)."""
        frame = self.frame()
        frame = frame[frame["verdict"].isin(FLAGGED)]
        return pd.DataFrame(
            {
                "issue": frame["number"],
                "title": frame["title"],
                "verdict": frame["verdict"].map(verdict_in_words),
                "reasons": frame["reasons"],
                "suggested title": frame["suggested_title"],
                "confidence": frame["confidence"],
                "link": frame["url"],
            },
            columns=TABLE_COLUMNS,
        ).reset_index(drop=True)

    def csv_bytes(self) -> bytes:
        return self.frame().to_csv(index=False).encode("utf-8")

    def file_name(self) -> str:
        return self.repository.replace("/", "_") + "_title_check.csv"


class ResultCache:
    """At most `entries` results, each for `seconds` after it was stored; safe to share between sessions."""

    def __init__(self, seconds: float, entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.entries = entries
        self.clock = clock
        self._items: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if self.clock() - item[0] > self.seconds:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = (self.clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


TRIAGE_CACHE = ResultCache(TRIAGE_MINUTES * 60, TRIAGE_ENTRIES)


def triage_key(repository: str, model_identity: str, github: GitHubSettings, limit: int) -> tuple:
    """What a kept triage is looked up by: the repository (as GitHub compares names, ignoring case),
    the model, where the issues come from and whether a token read them, and the limit."""
    owner, repo = parse_repository(repository)
    return (f"{owner}/{repo}".lower(), model_identity, github.api_url, bool(github.token), limit)


def run_triage(
    summarizer: Summarizer,
    repository: str,
    github: GitHubSettings,
    calibration: Calibration | None,
    model_identity: str,
    limit: int = DEFAULT_LIMIT,
    fetch_progress: Callable[[int], None] | None = None,
    start_checking: Callable[[int], Callable[[int], None]] | None = None,
    settings: CheckSettings | None = None,
    cache: ResultCache | None = TRIAGE_CACHE,
) -> Triage:
    """List the open issues of `repository` and check their titles, or give the triage kept from
    the last `TRIAGE_MINUTES` minutes. Raises `GitHubError` when nothing could be listed.

    `fetch_progress(n)` counts the issues listed; `start_checking(total)`, called once the listing
    is done, returns the callback that counts the titles checked.
    """
    key = triage_key(repository, model_identity, github, limit)
    if cache is not None:
        kept = cache.get(key)
        if isinstance(kept, Triage):
            return kept
    listing = fetch_open_issues(repository, github, progress=fetch_progress, limit=limit)
    verdicts: list[TitleVerdict] = []
    if listing.issues:
        titles = [issue.title for issue in listing.issues]
        bodies = [issue.body for issue in listing.issues]
        progress = None if start_checking is None else start_checking(len(titles))
        verdicts = check_titles(summarizer, titles, bodies, calibration, settings, progress=progress)
    triage = Triage(listing, verdicts, limit)
    if cache is not None and listing.stopped is None:
        cache.put(key, triage)
    return triage
