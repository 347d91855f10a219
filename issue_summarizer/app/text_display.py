"""How model inputs and outputs are shown in the app: escaped markdown and annotated tokens.

"What the model saw" renders the cleaned tokens of a body as HTML spans: words the body
vocabulary does not know are marked rare (the model reads them all as one id), and words
after the truncation point are greyed out (the model never reads them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pandas as pd

from issue_summarizer.config import CleaningOptions
from issue_summarizer.inference.summarizer import SeenToken
from issue_summarizer.text.cleaning import clean_text

SHOWN_TOKEN_CHARS = 60
# A title can copy a body token of any length; long words wrap rather than widen the page.
WRAP_LONG_WORDS = "<style>.st-key-generated_title h3, .st-key-real_title { overflow-wrap: anywhere; }</style>"
# Column headings of a static table that stay on one line: a narrow score column would otherwise
# break "ROUGE-1" at its hyphen. A Styler's table styles, for `st.table`.
NO_WRAP_HEADERS = [{"selector": "th.col_heading p", "props": [("white-space", "nowrap")]}]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
TOKEN_STYLES = """
<style>
.seen-tokens { line-height: 2.1; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9rem; }
.seen-tokens span { padding: 0.1rem 0.3rem; margin: 0 0.1rem; border-radius: 0.3rem;
  background: rgba(128, 128, 128, 0.12); overflow-wrap: anywhere; }
.seen-tokens span.rare { background: rgba(255, 159, 28, 0.35); }
.seen-tokens span.cut { opacity: 0.45; text-decoration: line-through; }
.seen-tokens span.truncation { background: #d33f49; color: white; font-weight: 600; }
</style>
"""


# The markdown and HTML rules of the model's cleaning, without the rules that change the words
# themselves (case, numbers, links, brackets): what is left reads as the body's author wrote it.
OPENING_CLEANING = CleaningOptions(
    lowercase=False, replace_numbers=False, urls_to_domain=False, code_blocks="drop", split_brackets=False
)
# Bodies are cleaned from their start only: the first words never need more, and a table of
# thousands of rows stays quick to prepare.
OPENING_CHARS = 1500
# Stands in for "@" while cleaning, which would otherwise read versions such as "react@18.2.0"
# as e-mail addresses and write a placeholder in their place; bodies (almost) never hold a private-use character.
_AT_SIGN_STAND_IN = "\ue000"


def escape_markdown(text: str) -> str:
    """Escape characters Streamlit's markdown would interpret, so model output shows as typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def seen_tokens_html(tokens: Sequence[SeenToken]) -> str:
    """The tokens as HTML spans, with a marker where the model stops reading."""
    parts = []
    for index, token in enumerate(tokens):
        if not token.kept and (index == 0 or tokens[index - 1].kept):
            parts.append('<span class="truncation" title="The model reads nothing after this point">✂ cut</span>')
        classes = " ".join(name for name, on in (("rare", token.rare), ("cut", not token.kept)) if on)
        tooltip = "not in the vocabulary: read as the rare-word id" if token.rare else ""
        # A token can be any length (a pasted log line, a base64 blob); the page shows its start.
        shown = token.text if len(token.text) <= SHOWN_TOKEN_CHARS else token.text[:SHOWN_TOKEN_CHARS] + "…"
        parts.append(f'<span class="{classes}" title="{tooltip}">{html.escape(shown)}</span>')
    return TOKEN_STYLES + '<div class="seen-tokens">' + " ".join(parts) + "</div>"


def seen_tokens_frame(tokens: Sequence[SeenToken]) -> pd.DataFrame:
    """The same tokens as a table: position, token, whether rare and whether read."""
    return pd.DataFrame(
        [
            {"position": position, "token": token.text, "rare": token.rare, "read by the model": token.kept}
            for position, token in enumerate(tokens, start=1)
        ],
        columns=["position", "token", "rare", "read by the model"],
    )


def seen_tokens_summary(tokens: Sequence[SeenToken]) -> str:
    """One sentence: how many tokens were read, how many of those were rare, whether the body was cut."""
    read = [token for token in tokens if token.kept]
    rare = sum(token.rare for token in read)
    sentence = f"The model read {len(read)} tokens; {rare} of them {'is' if rare == 1 else 'are'} rare."
    if len(read) < len(tokens):
        sentence += " The body is longer than that, so the rest was cut."
    return sentence


def _surface_words(text: str) -> list[str]:
    cleaned = clean_text(text.replace("@", _AT_SIGN_STAND_IN), OPENING_CLEANING, keep_surface=True)
    return cleaned.replace(_AT_SIGN_STAND_IN, "@").split()


def opening_words(body: str, count: int = 12) -> str:
    """The first `count` words of a body as its author wrote them, without markdown or template noise.

    Headings of issue templates ("### Describe the bug"), HTML comments, code blocks and markup
    characters are left out, so that the words are the ones a reader of the issue sees first.
    """
    words = _surface_words(body[:OPENING_CHARS])
    if len(words) < count and len(body) > OPENING_CHARS:
        # The start was all markup (a long template or code block): read the whole body instead.
        words = _surface_words(body)
    return " ".join(words[:count])


def no_repeat_label(size: int) -> str:
    """A no-repeat n-gram size as a person says it: 0 allows repeats, 1 forbids repeated words."""
    if size <= 0:
        return "Allowed"
    if size == 1:
        return "No repeated words"
    return f"No repeated {size}-word phrases"
