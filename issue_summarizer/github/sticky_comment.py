"""The title check's one comment on an issue: what it says, and the state it keeps hidden in itself.

The action (and the webhook) keep one comment per issue, found again by a hidden marker and
updated in place, never duplicated. The marker also carries the check's memory of the issue,
because a workflow run has no other: whether it changed the title (and from what), and whether a
person has changed the title since, after which the check never changes it again.

Nothing a person wrote is rendered. The comment quotes at most the old title and the suggested
title (whose words come from the body), each inside a code span, where GitHub renders no
@mention (no one is pinged), no link, no image, no HTML and no #reference.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

MARKER = "<!-- issue-summarizer:title-check"
_STATE = re.compile(re.escape(MARKER) + r" (\{.*?\}) -->", re.DOTALL)
# A quoted title is cut here: the comment stays short, whatever the title.
QUOTE_LIMIT = 120
SIGNATURE = (
    "<sub>Issue Summarizer checks titles from the issue's own text. "
    "Edit the title and this note follows; the check never changes a title a person has edited.</sub>"
)


@dataclass
class CommentState:
    """What the check remembers about an issue between runs."""

    verdict: str = "fine"
    suggested_title: str = ""
    # Set when the check changed the title: the author's title and the one the check wrote.
    edited_from: str | None = None
    edited_to: str | None = None
    # Set once a person changes the title; from then on the check never changes it.
    human_edited: bool = False

    def to_marker(self) -> str:
        # "<", ">" and "-" are escaped so that no title can close the HTML comment early ("-->").
        text = json.dumps(asdict(self), ensure_ascii=True, sort_keys=True)
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("-", "\\u002d")
        return f"{MARKER} {text} -->"

    @classmethod
    def from_comment(cls, body: str) -> CommentState | None:
        """The state in a comment's marker, or None when the comment has none (or a broken one)."""
        match = _STATE.search(body or "")
        if not match:
            return None
        try:
            data = json.loads(match.group(1))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        try:
            return cls(**known)
        except TypeError:
            return None


def code_span(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` as one Markdown code span: on one line, cut to `limit` characters, and fenced with
    more backticks than it holds, so that nothing in it is rendered or closes the span."""
    flat = " ".join("".join(character if character.isprintable() else " " for character in text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    if not flat:
        return "(empty)"
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end of a span, so a span that starts or ends with a
    # backtick gets a space on both sides.
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _verdict_words(verdict: str) -> str:
    return {"vague": "looks vague", "off_topic": "may not match the issue"}.get(verdict, "looks fine")


def _confidence_words(confidence: float | None) -> str:
    return "" if confidence is None else f" (confidence {confidence:.0%})"


def flagged_comment(
    state: CommentState, verdict: str, reasons: list[str], suggestion: str, confidence: float | None
) -> str:
    """The comment for a title the check flags, with the suggestion when there is one."""
    lines = [state.to_marker(), f"**Title check:** this title {_verdict_words(verdict)}: {'; '.join(reasons)}."]
    if suggestion:
        lines += ["", f"Suggested title: {code_span(suggestion)}{_confidence_words(confidence)}"]
    else:
        lines += ["", "A clearer title would help maintainers find and triage this issue."]
    lines += ["", SIGNATURE]
    return "\n".join(lines)


def edited_comment(state: CommentState, reasons: list[str], confidence: float | None) -> str:
    """The comment after the check changed the title (the action's `edit` mode)."""
    lines = [
        state.to_marker(),
        f"**Title check:** changed the title from {code_span(state.edited_from or '')} to "
        f"{code_span(state.edited_to or '')}{_confidence_words(confidence)}. The old title: {'; '.join(reasons)}.",
        "",
        "Edit the title back or to anything else at any time: the check will not change it again.",
        "",
        SIGNATURE,
    ]
    return "\n".join(lines)


def resolved_comment(state: CommentState) -> str:
    """The comment once the title is fine, or once a person has taken the title over."""
    if state.human_edited and state.edited_to is not None:
        said = "The title was edited by hand after the check changed it; the check will leave it as it is."
    else:
        said = "The title now says what the issue is about. Thank you!"
    return "\n".join([state.to_marker(), f"**Title check:** {said}", "", SIGNATURE])
