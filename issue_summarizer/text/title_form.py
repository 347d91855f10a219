"""Whether a title reads as finished text: its last word, its paired marks and its leading prefix.

Three flaws that a maintainer would not accept in a title, each measured by a pure function:

* **Unfinished** (`ends_on_function_word`): the title stops on a word that needs another after it,
  an article, preposition, conjunction, auxiliary, possessive or negation (`app crashes when the`,
  `build does not`, `log file that has the`). Real titles almost never do (0.3% of the test
  split's), while a model that learned to stop after ten words does whenever the tenth is one.
* **Unbalanced** (`is_unbalanced`): a double quote, backtick, single quote, `(`, `[` or `{` opens
  and never closes, or a closing mark has nothing to close.
* **Stray prefix** (`stray_prefix`): the title starts with a component prefix, `word:`, `a/b:` or
  `type(scope):`, naming something the body never names (`ios:` on an Electron issue). Kind tags
  such as `Bug:` or `fix(types):` are not components; `title_tags` removes them.

Decoding (`inference/decoding.py`) holds titles to the same rules token by token: it reads the
word lists, `may_end_after`, `advance_marks` and `leading_prefix` from here, so that what it
prevents is exactly what these measures count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from issue_summarizer.text.title_tags import strip_title_tags

# Words after which a title cannot stop. Words that often end a real title as a particle or an
# adverb are left out ("turn off", "log out", "see below", "worked before", "not working yet"):
# with this list 0.3% of the real titles of the test split end on one.
FUNCTION_WORDS = frozenset(
    (
        # Articles and determiners that need a noun.
        "a an the every "
        # Prepositions.
        "about across after against among amongst at between by during except for from in into of on onto per "
        "than to toward towards until unto upon via vs versus with within without "
        # Conjunctions, and pronouns and adverbs that start a clause.
        "and or but nor because although unless whereas whether while if when where that which who whom whose "
        # Auxiliaries.
        "am is are was were be been being has have had do does did can could shall should will would may might "
        "must "
        # Possessives and negation.
        "my your his her its our their not no"
    ).split()
)
# Contracted endings that are auxiliaries ("doesn't", "we're", "you'll"), as words and as the
# tokens spaCy splits them into ("does", "n't").
_AUXILIARY_CLITICS = ("n't", "'re", "'ll", "'ve", "'d", "'m")
# "'s" is an auxiliary only after these words ("it's", "let's"); after a name it is a possessive
# or, in GitHub titles, often a plural ("TODO's").
_PRONOUNS_BEFORE_IS = frozenset("it that there here what who where he she let".split())
# Marks after which a title cannot stop ("foo -", "a, b,", "x =").
DANGLING_MARKS = frozenset(", : ; - / \\ & | = + * ~ ^ @ # <".split())
# Marks that end a sentence: a title may stop after one only where it could stop before it
# ("create a ?" is as unfinished as "create a").
SENTENCE_MARKS = frozenset(". ? ! … ...".split())

# Characters that can open or close a quote, backtick or bracket; a token without one leaves them as they are.
MARK_CHARACTERS = frozenset("\"'`()[]{}\u201c\u201d\u2018\u2019")
OPENING = {"(": ")", "[": "]", "{": "}"}
CLOSING = {")": "(", "]": "[", "}": "{"}
_APOSTROPHES = "'\u2019"
_SINGLE_QUOTES = ("'", "\u2018")
# The last word of a title, a whole word written after a space, a bracket or a quote, before any
# sentence punctuation the title ends with (`BUILD_EXAMPLES=ON` and `libzlib.a` end on no word).
_LAST_WORD = re.compile(r"(?:^|(?<=[\s(\[{\"'`\u201c\u2018]))([^\W\d_]+(?:['\u2019][^\W\d_]+)?)[.,;:!?\u2026]*\s*$")
# A single quote at a word start that is a clitic written apart (`egs2/ 's`), not a quote.
_CLITIC_AFTER_QUOTE = re.compile(r"(?:s|t|m|d|re|ll|ve)(?![^\W\d_])", re.IGNORECASE)
# A leading component prefix: `word:`, `a/b:`, `type(scope):`, with `!` allowed before the colon.
# Spaces around the marks are allowed so that the model's tokens (`cmd / gc :`) are read too.
_PREFIX = re.compile(
    r"^\s*(?P<path>[\w.+#-]+(?:\s*/\s*[\w.+#-]+)*)(?:\s*\(\s*(?P<scope>[^()]*?)\s*\))?\s*!?\s*:(?=\s|$)"
)
_WORDS = re.compile(r"\w+")


def _normal(word: str) -> str:
    return word.lower().replace("\u2019", "'")


def is_function_word(word: str) -> bool:
    """Whether a title may not stop on `word` (a word as written, or one of the model's tokens)."""
    word = _normal(word)
    if word in FUNCTION_WORDS or word.endswith(_AUXILIARY_CLITICS):
        return True
    return word.endswith("'s") and word[:-2] in _PRONOUNS_BEFORE_IS


def may_end_after(token: str, previous: str | None = None) -> bool:
    """Whether a title of tokens may stop after `token` (`previous` is the token before it, if any).

    Not after a function word, a contracted auxiliary (`n't`, or `'s` after `it`) or a mark that
    joins to what follows (`,`, `-`, `/`).
    """
    if token in DANGLING_MARKS or is_function_word(token):
        return False
    return not (_normal(token) == "'s" and previous is not None and _normal(previous) in _PRONOUNS_BEFORE_IS)


def ends_on_function_word(title: str) -> bool:
    """Whether the title's last word, before any full stop, comma, colon or question mark, is a function word.

    A title that ends on a closing bracket, quote or code (`add support for \\`x\\``) is not counted.
    """
    match = _LAST_WORD.search(title)
    return match is not None and is_function_word(match.group(1))


# Paired marks.


def _closes_single_quote(text: str, index: int) -> bool:
    after = text[index + 1 : index + 2]
    return index > 0 and not text[index - 1].isspace() and not after.isalnum()


def _opens_single_quote(text: str, index: int) -> bool:
    before = text[index - 1 : index]
    after = text[index + 1 : index + 2]
    if _CLITIC_AFTER_QUOTE.match(text, index + 1):
        return False
    return (not before or before.isspace() or before in OPENING or before in '"`') and bool(after.strip())


def _scan(text: str, stack: tuple[str, ...], single_quotes: bool) -> tuple[tuple[str, ...], bool]:
    """The marks still open after `text`, starting from `stack`, and whether a closing mark had nothing to close.

    Inside backticks nothing else counts (code may hold any mark). A straight double quote closes
    an open one on top of the stack and otherwise opens. With `single_quotes`, a single quote opens
    at a word start and closes an open one at a word end (`‘` always opens, and `’` or `'` closes
    either); elsewhere it is an apostrophe.
    """
    stray = False
    index = 0
    while index < len(text):
        character = text[index]
        if stack and stack[-1] == "`":
            if character == "`":
                stack = stack[:-1]
            index += 1
            continue
        if character == "`":
            stack = (*stack, "`")
        elif character == '"':
            stack = stack[:-1] if stack and stack[-1] == '"' else (*stack, '"')
        elif character == "\u201c":
            stack = (*stack, "\u201c")
        elif character == "\u201d":
            if stack and stack[-1] == "\u201c":
                stack = stack[:-1]
            else:
                stray = True
        elif character == "\u2018" and single_quotes:
            stack = (*stack, "\u2018")
        elif character in _APOSTROPHES and single_quotes:
            if stack and stack[-1] in _SINGLE_QUOTES and _closes_single_quote(text, index):
                stack = stack[:-1]
            elif character == "'" and _opens_single_quote(text, index):
                stack = (*stack, "'")
        elif character in OPENING:
            stack = (*stack, character)
        elif character in CLOSING:
            if stack and stack[-1] == CLOSING[character]:
                stack = stack[:-1]
            else:
                stray = True
        index += 1
    return stack, stray


def unclosed_marks(title: str) -> tuple[str, ...]:
    """The quotes, backticks and brackets that `title` opens and never closes, outermost first."""
    return _scan(title, (), single_quotes=True)[0]


def is_unbalanced(title: str) -> bool:
    """Whether a quote, backtick or bracket opens and never closes, or a closing one has nothing to close.

    Apostrophes are not quotes: a single quote counts only where it opens at a word start
    (`'foo'`), so `doesn't` and `users' data` are balanced while `fails on 'foo` is not.
    """
    stack, stray = _scan(title, (), single_quotes=True)
    return bool(stack) or stray


def advance_marks(stack: tuple[str, ...], token: str, previous: str | None = None) -> tuple[str, ...]:
    """The marks open after one more title token, as `is_unbalanced` reads the joined title.

    A lone `‘` opens. A lone `'` closes an open `'`, and `’` either; otherwise `’` is an apostrophe
    and `'` after a word ending in `s` a plural possessive (`users '` → `users'`), and else it opens,
    as the detokenizer joins it. Inside a token a single quote is an apostrophe. A closing mark with
    nothing to close leaves the stack as it is.
    """
    if token in ("'", "\u2019", "\u2018") and not (stack and stack[-1] == "`"):
        if token == "\u2018":
            return (*stack, "\u2018")
        if stack and (stack[-1] == "'" or (stack[-1] == "\u2018" and token == "\u2019")):
            return stack[:-1]
        if token == "\u2019" or (previous is not None and previous[-1:].lower() == "s"):
            return stack
        return (*stack, "'")
    return _scan(token, stack, single_quotes=False)[0]


def last_complete_phrase(tokens: Sequence[str]) -> int:
    """How many of a title's tokens make its longest prefix that may end a title, 0 when none does.

    A prefix may end the title when it leaves no mark open and its last token may end one
    (`may_end_after`; a full stop or question mark only where the title could end before it):
    `parser crashes when the` → 2, `error in (` → 1.
    """
    stack: tuple[str, ...] = ()
    complete = 0
    previous = None
    for length, token in enumerate(tokens, start=1):
        if MARK_CHARACTERS.intersection(token):
            stack = advance_marks(stack, token, previous)
        if token in SENTENCE_MARKS:
            can_end = length > 1 and complete == length - 1
        else:
            can_end = may_end_after(token, previous)
        if can_end and not stack:
            complete = length
        previous = token
    return complete


def closing_mark(opened: str) -> str:
    """The token that closes an open mark (`(` → `)`, `"` → `"`)."""
    return {"\u201c": "\u201d", "\u2018": "\u2019", **OPENING}.get(opened, opened)


# Leading prefixes.


@dataclass(frozen=True)
class Prefix:
    """A title's leading component prefix: its text up to and with the colon, and its words (lower case)."""

    text: str
    words: tuple[str, ...]


def _is_kind_tag(path: str, scope: str | None) -> bool:
    """Whether the prefix is a kind tag (`Bug:`, `fix(types):`) that `strip_title_tags` removes."""
    written = f"{path}({scope}): x" if scope is not None else f"{path}: x"
    return strip_title_tags(written) == "x"


def leading_prefix(title: str) -> Prefix | None:
    """The component prefix a title starts with once its kind tags are removed (`cmd/gc:`), or None.

    `[Bug] ios: crash` starts with `ios:`; `Bug: crash` and `fix(types): x` start with none.
    """
    rest = strip_title_tags(title)
    match = _PREFIX.match(rest)
    if match is None or _is_kind_tag(match.group("path"), match.group("scope")):
        return None
    words = _WORDS.findall(match.group("path") + " " + (match.group("scope") or ""))
    return Prefix(match.group(0).strip(), tuple(_normal(word) for word in words)) if words else None


def body_words(body: str) -> frozenset[str]:
    """The words (runs of letters, digits and `_`) a body holds, in lower case."""
    return frozenset(_normal(word) for word in _WORDS.findall(body))


def names_all(words: Iterable[str], known: frozenset[str]) -> bool:
    """Whether every word is among `known` (a body's `body_words`)."""
    return all(word in known for word in words)


def stray_prefix(title: str, body: str | frozenset[str]) -> str | None:
    """The title's leading component prefix when the body does not name it, else None.

    The body names a prefix when it holds each of the prefix's words, in any case (`net/http:`
    needs `net` and `http`; `runtime(gc):` needs `runtime` and `gc`). `body` is the text or its
    `body_words`.
    """
    prefix = leading_prefix(title)
    if prefix is None:
        return None
    known = body if isinstance(body, frozenset) else body_words(body)
    return None if names_all(prefix.words, known) else prefix.text
