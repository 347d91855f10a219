"""Remove the leading template tags of a title (``[Bug]``, ``Feature request:``, ``fix(types):``).

Issue templates and commit conventions put a tag in front of many titles. The tag names the
*kind* of report or change, which the body's template already gave away, so it carries no
summary: a model that learns to write ``[bug]`` scores words without saying what is wrong.

The rule: a leading tag is removed when it names the kind of report (``bug``, ``feature
request``, ``question`` ...), the kind of change (the conventional-commit types ``fix``, ``feat``,
``chore``, ``docs`` ..., with any ``(scope)`` and ``!``), or a status (``wip``, ``draft``). A tag that
names a part of the project or a property of the problem is content and stays: components and
platforms (``[Windows]``, ``[Android]``, ``[RLlib]``, ``runtime:``, ``cmd/go:``), error names
(``AttributeError:``, ``ICE:``) and qualities such as ``regression``, ``performance``, ``security``
or ``typo``. Tags are removed in any case and form, bracketed (``[Bug]``, ``[ bug ]``) or as a
``word:`` / ``word -`` / ``type(scope)!:`` prefix, together with the separator after them; a run of
tags is scanned until the first prefix that is content, and bracketed content tags in the run
stay (``[Bug] [Windows] crash`` → ``[Windows] crash``). Leading emoji and gitmoji (``🐛``,
``:bug:``) go as well. The text after the tags is kept as it is, and a title that is only tags
is returned unchanged (stripped), so the result is never empty.

How TITLE_TAGS was chosen (``python bench/title_text.py``, all 267,617 titles of the five files
in ``../shared/data``): the kind words are the leading tags used by many unrelated repositories,
while component tags are used by one or a few. Bracketed ``[bug]`` leads 3,024 titles of
``github_issues`` and ``bug:`` 260 more (165 repositories in all), ``[feature request]`` 756,
``[feature]`` 409, ``[question]`` 213, ``[feat]`` 166. In pull-request titles the conventional-commit
types dominate: ``fix(...)`` 4,457 and ``feat(...)`` 3,729 in ``pull_requests_more``, with ``fix:``,
``docs:``, ``chore:``, ``ci:``, ``test:``, ``refactor:``, ``perf:`` each used by 50-140 repositories.
``other_trackers`` (JIRA) has almost no kind tags: its prefixes are platforms (``Android:`` 5,732,
``iOS:`` 4,524, ``Windows:``) and stay. Measured, not assumed, for the borderline tags:

* ``[RFC]`` / ``RFC:`` (257 titles, 20 repositories) and ``proposal:`` (286, 20) mark a kind of
  issue, and the tag word is rarely in the body (12% and 34%), so they go; ``wip`` (10 repositories)
  and ``draft`` are statuses and go.
* ``docs`` / ``doc`` (2,779 titles, 139 and 66 repositories) are conventional-commit types and go.
* ``performance`` (79 titles) says what is wrong and the body names it in 80% of cases, while
  ``perf`` (675, a commit type) is in only 7% of bodies: ``perf`` goes, ``performance`` stays.
* ``regression`` (113), ``security``, ``typo``, ``crash`` and ``installation`` say something about
  the problem and stay; ``epic``, ``umbrella`` and ``tracking issue`` describe the issue's scope
  and stay too. Tags that name a component along with the kind (``[DevTools Bug]``, ``Eval bug:``,
  ``[New Model]``, each from one repository's template) stay.

Share of titles that start with a tag (`starts_with_tag`), before → after `strip_title_tags`:
github_issues 10.8% → 2.8% (8.3% of titles change), github_issues_more 17.1% → 3.9%,
pull_requests 29.2% → 11.1% (ruff's ``[ty]`` and ``[red-knot]`` component tags stay),
pull_requests_more 37.5% → 5.3% (32.6% change), other_trackers 0.9% → 0.8%.
"""

from __future__ import annotations

import re

TITLE_TAGS: tuple[str, ...] = (
    # The kind of report, from issue templates.
    "bug",
    "bugs",
    "bug report",
    "feature",
    "feature request",
    "new feature",
    "feature idea",
    "question",
    "enhancement",
    "enh",
    "improvement",
    "idea",
    "suggestion",
    "request",
    "usage",
    "misc",
    "help wanted",
    "discussion",
    "discuss",
    "proposal",
    "rfc",
    "issue",
    # The kind of change: conventional-commit types and their common variants.
    "fix",
    "feat",
    "chore",
    "docs",
    "doc",
    "documentation",
    "refactor",
    "refactoring",
    "ref",
    "perf",
    "test",
    "tests",
    "ci",
    "build",
    "style",
    "revert",
    "breaking",
    "bugfix",
    "bug fix",
    "hotfix",
    "cleanup",
    "minor",
    "nit",
    # A status.
    "wip",
    "draft",
    "solved",
)
_TAG_SET = frozenset(TITLE_TAGS)

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d"
_LEADING_EMOJI = re.compile(rf"(?:[{_EMOJI}]|:[a-z0-9_+-]+:)+\s*")
_BRACKET = re.compile(r"\[\s*([^\[\]]{1,40}?)\s*\]")
# What may follow a bracketed tag: a colon, or a dash or bar standing alone.
_SEPARATOR = re.compile(r"\s*(?::|[|\-\u2013\u2014]+(?=\s|$))?\s*")
# `word:`, `type(scope)!:` or `word - `, in raw (`fix(types):`) or tokenized (`fix(types ) ! :`) form.
_PREFIX = re.compile(
    r"(?P<tag>[^\W\d][\w .-]{0,30}?)\s*(?:\(\s*[^()]{0,60}?\s*\)\s*)?(?:!\s*)?"
    r"(?::(?=\s|$)|\s[|\-\u2013\u2014](?=\s))\s*"
)
_TAG_NOISE = re.compile(rf"[`*_\s{_EMOJI}-]+")


def _tag_name(text: str) -> str:
    """A tag in the form TITLE_TAGS lists: lower case, without backticks, emoji or extra spaces."""
    return _TAG_NOISE.sub(" ", text).strip().lower()


def _strip_once(text: str) -> tuple[str, str] | None:
    """Remove one leading tag: (kept text, the rest), or None when `text` starts with no tag."""
    emoji = _LEADING_EMOJI.match(text)
    if emoji and emoji.end() > 0:
        return "", text[emoji.end() :]
    bracket = _BRACKET.match(text)
    if bracket:
        after = text[bracket.end() :]
        if _tag_name(bracket.group(1)) in _TAG_SET:
            return "", after[_SEPARATOR.match(after).end() :]
        # A content tag such as `[Windows]` stays, but tags after it are still looked at.
        return text[: bracket.end()], after.lstrip()
    prefix = _PREFIX.match(text)
    if prefix and _tag_name(prefix.group("tag")) in _TAG_SET:
        return "", text[prefix.end() :]
    return None


def strip_title_tags(title: str) -> str:
    """Remove leading tags such as [Bug], [BUG], Bug:, [Feature Request], [Question], [Enhancement],
    fix(types):, feat: ...

    Only the tags in TITLE_TAGS go (see the module docstring); content tags such as `[Windows]`
    stay. Works on raw titles and on tokenized lower-case ones (`[ bug ] foo`, `feat ( x ) : foo`).
    Never returns an empty string: a title that is only tags comes back stripped.
    """
    original = title.strip()
    rest = original
    kept: list[str] = []
    removed = False
    while rest:
        step = _strip_once(rest)
        if step is None:
            break
        kept_text, rest = step
        if kept_text:
            kept.append(kept_text)
        else:
            removed = True
    if not removed:
        return original
    result = " ".join([*kept, rest]).strip()
    return result if any(character.isalnum() for character in result) else original


def starts_with_tag(title: str) -> bool:
    """True when the title starts with a bracketed tag or a `word:` / `type(scope):` prefix of the kind
    strip_title_tags removes, or any bracketed [..] prefix — used to measure the share of titles that
    start with a tag."""
    stripped = title.strip()
    if _BRACKET.match(stripped):
        return True
    step = _strip_once(stripped)
    return step is not None and step[0] == ""
