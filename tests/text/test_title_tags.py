import pytest

from issue_summarizer.text.title_tags import TITLE_TAGS, starts_with_tag, strip_title_tags

# (title, the title with its template tags removed)
STRIPPED = [
    # Bracketed kind tags, any case, with or without a separator.
    ("[Bug] Parser crashes on empty input", "Parser crashes on empty input"),
    ("[BUG] Parser crashes", "Parser crashes"),
    ("[bug]: parser crashes", "parser crashes"),
    ("[Bug] - Parser crashes", "Parser crashes"),
    ("[Feature Request] Add a dark theme", "Add a dark theme"),
    ("[Question] How do I export a model?", "How do I export a model?"),
    ("[Enhancement] Faster startup", "Faster startup"),
    ("[WIP] Rework the cache", "Rework the cache"),
    ("[RFC] A plugin API", "A plugin API"),
    ("[Proposal] A plugin API", "A plugin API"),
    ("[docs] Fix the install guide", "Fix the install guide"),
    # `word:` and `word -` prefixes.
    ("Bug: parser crashes", "parser crashes"),
    ("Feature request: add a dark theme", "add a dark theme"),
    ("Feature Request - add a dark theme", "add a dark theme"),
    ("Question: how do I export a model?", "how do I export a model?"),
    # Conventional commits.
    ("fix: handle empty input", "handle empty input"),
    ("feat(types): add Vec<T> support", "add Vec<T> support"),
    ("chore(deps): bump serde to 1.0.200", "bump serde to 1.0.200"),
    ("docs: explain the cache", "explain the cache"),
    ("refactor!: drop the old API", "drop the old API"),
    ("fix(parser)!: reject trailing commas", "reject trailing commas"),
    ("perf(io): read files in one call", "read files in one call"),
    # Runs of tags: kind tags go, content tags stay.
    ("[Bug] [Windows] Crash on start", "[Windows] Crash on start"),
    ("[Windows][Bug] Crash on start", "[Windows] Crash on start"),
    ("[Bug][Feature] Odd mix", "Odd mix"),
    ("Proposal: spec: allow generics", "spec: allow generics"),
    ("[cli] fix: handle empty input", "[cli] handle empty input"),
    # Emoji and gitmoji.
    ("🐛 Bug: parser crashes", "parser crashes"),
    (":bug: parser crashes", "parser crashes"),
    ("[🐛 Bug] parser crashes", "parser crashes"),
    # Tokenized lower-case titles, as the model writes them.
    ("[ bug ] foo crashes", "foo crashes"),
    ("[ feature request ] add x", "add x"),
    ("bug : foo crashes", "foo crashes"),
    ("feat ( types ) : foo", "foo"),
    ("feat(types ): foo", "foo"),
    ("fix(scope ) ! : bar", "bar"),
    ("[ bug ] : [ windows ] crash", "[ windows ] crash"),
    # What follows the tags is kept as it is.
    ("  [Bug]   Parser  CRASHES  ", "Parser  CRASHES"),
]

# Titles that keep their start: content tags, sentences, and prefixes that are not tags.
UNCHANGED = [
    "[Windows] Crash on start",
    "[Android] Back button ignored",
    "[RLlib] PPO diverges",
    "runtime: crash in the scheduler",
    "cmd/go: build cache is wrong",
    "AttributeError: 'NoneType' object has no attribute 'x'",
    "Regression: startup is slow again",
    "Bug in the parser: empty input",
    "Fix crash on empty input",
    "Question about exporting models",
    "Feature flags are ignored",
    "fixture: loads twice",
]

# Titles that are only tags stay as they are (stripped), so the result is never empty.
ONLY_TAGS = ["[Bug]", "Bug:", "[bug] [wip]", " [ bug ] ", "feat:", "🐛", "[BUG] -"]


@pytest.mark.parametrize(("title", "expected"), STRIPPED)
def test_kind_tags_are_removed(title, expected):
    assert strip_title_tags(title) == expected


@pytest.mark.parametrize("title", UNCHANGED)
def test_content_is_kept(title):
    assert strip_title_tags(title) == title


@pytest.mark.parametrize("title", ONLY_TAGS)
def test_never_returns_an_empty_title(title):
    assert strip_title_tags(title) == title.strip()


def test_stripping_twice_changes_nothing_more():
    for title, expected in STRIPPED:
        assert strip_title_tags(strip_title_tags(title)) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("[Bug] crash", True),
        ("[Windows] crash", True),
        ("[ bug ] crash", True),
        ("fix(types): foo", True),
        ("Bug:", True),
        ("feat ( types ) : foo", True),
        ("runtime: crash", False),
        ("Crash when [x] is set", False),
        ("Fix crash", False),
        ("", False),
    ],
)
def test_starts_with_tag(title, expected):
    assert starts_with_tag(title) is expected


def test_title_tags_are_lower_case_and_unique():
    assert all(tag == tag.lower().strip() for tag in TITLE_TAGS)
    assert len(set(TITLE_TAGS)) == len(TITLE_TAGS)
    assert {"bug", "feature request", "question", "enhancement", "fix", "feat", "docs", "wip"} <= set(TITLE_TAGS)
    assert not {"windows", "android", "regression", "performance", "runtime", "error"} & set(TITLE_TAGS)
