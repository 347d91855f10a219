"""Cleaning rules that turn a raw issue body (markdown, HTML, logs) into plain text.

The rules follow the seed tutorials (lowercase, numbers to a placeholder, URLs reduced
to their domain) and add the markdown handling that GitHub issues need:

* Fenced code blocks (```...``` or ~~~...~~~) are long, and the first 70 tokens of a body
  are all the model reads, so by default a block is replaced by the marker ``xxcode``. Its
  first line is kept when it looks like an error message (``Error``, ``Exception``, ``panic``
  ...), because titles often quote the error. ``code_blocks="keep"`` keeps whole blocks,
  ``"drop"`` removes them without a trace.
* Inline code (`` `foo_bar()` ``) is kept as its text: identifiers are what a good title
  names, so only the backticks go.
* HTML comments (where issue templates hide their instructions) are dropped, HTML tags are
  removed while their text stays, and markdown links keep their text and images are dropped.
  Only the names of real HTML elements count as tags, so that generics such as
  ``Vec<String>`` survive, and entities such as ``&gt;`` become the character they stand for.
* Brackets attached to a word are split off (``error[E0382]`` becomes ``error [ e0382 ]``),
  so that the identifier inside is a token of its own that a title can copy.
* Lines of issue templates such as ``**Describe the bug**`` or ``### Steps to reproduce``
  are removed, so that boilerplate does not take the place of content.
* Runs of four or more equal punctuation marks (rulers, ``!!!!``) collapse to one; shorter
  runs are code or prose (``C++``, ``std::vec``, ``--flag``, ``...``) and stay.

Titles are cleaned with the same rules except the markdown ones (`SummarizerConfig.title_cleaning`):
GitHub shows a title's characters as typed.
"""

from __future__ import annotations

import html
import re

from issue_summarizer.config import CleaningOptions

NUMBER_TOKEN = "xxnum"
CODE_TOKEN = "xxcode"
EMAIL_TOKEN = "xxemail"
# Markers that stand for text the model never sees; none of them may reach a title a person reads.
PLACEHOLDERS = frozenset({NUMBER_TOKEN, CODE_TOKEN, EMAIL_TOKEN})


# Lines that issue templates put in every report. A line is template boilerplate when,
# stripped of markdown decoration, it starts with one of these phrases and is short.
TEMPLATE_PHRASES = (
    "describe the bug",
    "bug description",
    "bug report",
    "to reproduce",
    "steps to reproduce",
    "reproduction steps",
    "expected behavior",
    "expected behaviour",
    "expected result",
    "actual behavior",
    "actual behaviour",
    "actual result",
    "current behavior",
    "current behaviour",
    "describe the current behavior",
    "describe the expected behavior",
    "environment",
    "system information",
    "system info",
    "additional context",
    "additional information",
    "screenshots",
    "feature request",
    "is your feature request related to a problem",
    "describe the solution you'd like",
    "describe alternatives you've considered",
    "code to reproduce",
    "standalone code to reproduce the issue",
    "other info / logs",
    "motivation",
    "pitch",
    "alternatives",
    "checklist",
    "what steps will reproduce the problem",
    "what is the expected output",
    "what do you see instead",
    "please use labels and text to provide additional information",
    "what version of go are you using",
    "what operating system and processor architecture are you using",
    "does this issue reproduce with the latest release",
    "what did you do",
    "what did you expect to see",
    "what did you see instead",
    "what version of the product are you using",
    "please provide any additional information below",
    "which version are you using",
    "version information",
    "versions",
    "logs",
    "bug",
    "feature",
    "question",
    "summary",
    "description",
)
_TEMPLATE_SET = frozenset(TEMPLATE_PHRASES)
_TEMPLATE_PREFIX = re.compile("(?:" + "|".join(re.escape(phrase) for phrase in TEMPLATE_PHRASES) + ") ")
_TEMPLATE_MAX_WORDS = 12

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>\n]{0,200}>")
# The elements that issue bodies actually use. Anything else between angle brackets, such as
# "<String>" or "<T>", is far more often a type parameter than markup.
HTML_ELEMENTS = (
    "a abbr b blockquote br center code dd del details div dl dt em font h1 h2 h3 h4 h5 h6 hr i img "
    "input ins kbd li ol p picture pre s samp small source span strike strong sub summary sup table "
    "tbody td th thead tr tt u ul video"
).split()
_HTML_ELEMENT_TAG = re.compile(r"</?(?:" + "|".join(HTML_ELEMENTS) + r")(?![\w-])[^<>\n]{0,200}>", re.IGNORECASE)
# A bracket touching a word character, unless it is part of an arrow such as "->" or "=>".
_ATTACHED_BRACKET = re.compile(r"(?<=\w)[\[\]<>{}]|(?<![-=<>])[\[\]<>{}](?=\w)")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_INLINE_CODE = re.compile(r"`+([^`\n]*)`+")
_MAILTO = re.compile(r"mailto:\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?|ftp)://(?:www\.)?([^\s/:?#\"'<>)\]]+)[^\s\"'<>)\]]*", re.IGNORECASE)
_WWW = re.compile(r"\bwww\.([^\s/:?#\"'<>)\]]+)[^\s\"'<>)\]]*", re.IGNORECASE)
_HEADING_OR_QUOTE = re.compile(r"^[ \t]*(?:#{1,6}|>+|[-*+][ \t]+\[[ xX]\]|[-*+]|\d+\.)[ \t]+", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~)(?=\S)(.+?)(?<=\S)\1")
# A table's separator row, such as "|---|:--:|". It must hold a pipe, so that a line such as
# "----> 1 raw = f()" in a traceback is kept.
_TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+(?:[ \t]*:?-{3,}:?)?[ \t]*$", re.MULTILINE)
# Standalone numbers only: "x86_64", "utf8" and "v1.2.3" are identifiers and stay as they are.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,:]\d+)*(?![\w.]*\w)")
_PUNCT_RUN = re.compile(r"([^\w\s])\1+")
_LONG_PUNCT_RUN = re.compile(r"([^\w\s])\1{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_SPACES = re.compile(r"\s+")
_ERROR_LINE = re.compile(r"error|exception|panic|fatal|fail|traceback|warning", re.IGNORECASE)
_TEMPLATE_DECORATION = re.compile(r"[#*_>:?\-\[\]()`.!\s\U0001F300-\U0001FAFF\u2600-\u27BF]+")


def _replace_code_block(match: re.Match, mode: str) -> str:
    if mode == "drop":
        return "\n"
    first_line = next((line.strip() for line in match.group(2).splitlines() if line.strip()), "")
    if first_line and _ERROR_LINE.search(first_line):
        return f"\n{CODE_TOKEN} {first_line[:200]}\n"
    return f"\n{CODE_TOKEN}\n"


def _is_template_line(line: str) -> bool:
    # Cheap length checks first: almost every line is either too long or has no template shape.
    if len(line) > 160 or line.count(" ") > _TEMPLATE_MAX_WORDS:
        return False
    bare = _TEMPLATE_DECORATION.sub(" ", line).strip().lower()
    if not bare:
        return False
    if bare in _TEMPLATE_SET:
        return True
    # A longer line that starts like a template phrase is only boilerplate when it is shaped
    # like a prompt (a heading, bold text, or ending in ":" or "?"), so that a sentence such
    # as "To reproduce, run go test" keeps its content.
    stripped = line.strip()
    looks_like_prompt = stripped.startswith(("#", "**", "__")) or stripped.endswith((":", "?", "**"))
    return looks_like_prompt and _TEMPLATE_PREFIX.match(bare) is not None


def _strip_template_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _is_template_line(line))


def clean_text(text: str, options: CleaningOptions = CleaningOptions(), keep_surface: bool = False) -> str:
    """Return the cleaned form of one issue body or title as a single line of text.

    The function is pure and never raises on strings: empty, binary or non-Latin input
    gives a (possibly empty) cleaned string.

    `keep_surface=True` gives the same text as the body wrote it: its case, and its numbers
    where the model reads `xxnum`, set apart by the same spaces. Its tokens line up one to one
    with the model's, which is how a title word is written back as the body wrote it.
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects a str, got {type(text).__name__}")
    text = _CONTROL.sub(" ", text)
    # Each rule runs only when its trigger character occurs: most bodies have no HTML, no
    # links and no e-mail addresses, and skipping those passes doubles the throughput.
    if options.code_blocks != "keep" and ("```" in text or "~~~" in text):
        text = _FENCE.sub(lambda match: _replace_code_block(match, options.code_blocks), text)
    if options.strip_html and "<" in text:
        text = _HTML_COMMENT.sub(" ", text)
        text = (_HTML_ELEMENT_TAG if options.html_element_names_only else _HTML_TAG).sub(" ", text)
    # Entities are decoded only after tags are gone, so that "&lt;div&gt;" stays visible text.
    if options.unescape_entities and "&" in text:
        text = html.unescape(text)
    if options.strip_templates:
        text = _strip_template_lines(text)
    if options.strip_markdown:
        if "](" in text:
            text = _IMAGE.sub(" ", text)
            text = _LINK.sub(r"\1", text)
        if "`" in text:
            text = _INLINE_CODE.sub(r" \1 ", text)
        if "|" in text:
            text = _TABLE_RULE.sub(" ", text).replace("|", " ")
        text = _HEADING_OR_QUOTE.sub("", text)
        if "*" in text or "_" in text or "~" in text:
            text = _EMPHASIS.sub(r"\2", text)
    if "@" in text or "mailto:" in text:
        text = _MAILTO.sub(f" {EMAIL_TOKEN} ", text)
        text = _EMAIL.sub(f" {EMAIL_TOKEN} ", text)
    if options.urls_to_domain and ("://" in text or "www." in text):
        text = _URL.sub(r" \1 ", text)
        text = _WWW.sub(r" \1 ", text)
    if options.split_brackets:
        text = _ATTACHED_BRACKET.sub(r" \g<0> ", text)
    if options.replace_numbers:
        text = _NUMBER.sub(r" \g<0> " if keep_surface else f" {NUMBER_TOKEN} ", text)
    text = (_LONG_PUNCT_RUN if options.keep_short_punctuation_runs else _PUNCT_RUN).sub(r"\1", text)
    if options.lowercase and not keep_surface:
        text = text.lower()
    return _SPACES.sub(" ", text).strip()
