"""Join title tokens back into English text: the inverse of spaCy's tokenizer, by rules.

The model writes a title as spaCy tokens (``["does", "n't", "work"]``), and joining them with
spaces gives ``does n't work``. `detokenize` decides, for each gap between two tokens, whether
the text had a space there. Known whitespace wins: ``spaces_after[i]``, when given and not None,
is the space after token i (for example, copied from the body the tokens came from). Every other
gap follows the first rule below that applies. The rules were chosen by measuring how real GitHub
titles are spaced (``bench/title_text.py``): cleaned as titles are cleaned now (keeping case and
numbers), tokenized and joined again, 91% of the GitHub test split's titles come back exactly,
against 41% for a plain ``" ".join``; of the titles whose characters cleaning keeps, 93% do.

* Words that spaCy splits attach again: clitics (``does n't`` → ``doesn't``, ``it 's``, ``I 'm``,
  ``we 've``, ``you 'll``, ``they 'd``, ``they 're``, also with ``’``), spaCy's exceptions written
  without an apostrophe (``do nt`` → ``dont``, ``can not`` → ``cannot``, ``gon na`` → ``gonna``;
  titles write ``cannot`` five to eight times as often as ``can not``), and units split off digits
  (``8 GB`` → ``8GB``, but ``xxnum gb`` stays spaced: the placeholder was a word of its own).
* Operators that spaCy splits into characters join, with a space before them: ``- >`` → ``->``,
  ``= >`` → ``=>``, ``< =``, ``> =``, ``= =``, ``! =``, ``: =``, ``+ =``, ``< -``, ``& &``, ``| |``.
* Quotes pair up, and so do the backticks that mark code (`` `foo_bar()` ``). A straight double
  quote or a backtick opens when the quotes before it (including those inside
  tokens, such as ``dtype="x``) are even, and closes otherwise. A bare straight single quote (the
  clitics are other tokens) closes an open one, opens when another follows, and is otherwise a
  plural possessive after an ``s`` (``users' data``) or an opening quote. A quote followed by
  ``static`` or by a lone lower-case letter with no quote after it is a Rust lifetime (``'a``).
  Opening quotes (also ``“ ‘``) take no space after them, closing ones (also ``” ’``) none before.
* ``<`` and ``>`` around a few type-like tokens are generics (``Vec<String>``, ``<T>``): no spaces
  inside, and ``<`` attaches to the word before it unless that is a function word (``with
  <C-o>``). Any other ``<`` or ``>`` is spaced, as a comparison.
* ``/`` and ``\\`` join both sides (``path/to/file``). ``_`` joins the word after it, and the word
  before it only when it ends an identifier (``init_``, and the closing ``__`` of ``__init__``);
  ``&`` joins ``_`` (``&_x``).
* A hyphen between two words or numbers joins them (``node-gyp``, ``64-bit``). Titles join such
  a hyphen about nine times in ten (86% in the test split, 91% in all GitHub titles); the rest
  are separators (``foo - bar``), which come out joined. ``—`` and ``–`` stay spaced.
* ``%`` attaches to a number before it (``50%``) and otherwise to the word after it (``%d``).
  ``&`` attaches to a Rust reference after it (``&mut``, ``&T``). ``#`` after ``C``, ``F`` or ``J``
  attaches to it (``C#``). ``+`` attaches to digits before it (``3.10+``). ``!`` joins ``(`` (a Rust
  macro, ``println!()``). ``:`` after a function word or at the start opens a command (``in
  :terminal``).
* A period that spaCy split off between a lower-case and an upper-case letter joins both sides
  (``tf.Module``, ``w.Close``); lower-case text has no such split, so there it ends a sentence.
* Brackets: empty ``( )`` and ``{ }`` attach to the word before them (``f.read()``) and ``[ ]``
  to the word after (Go's ``[]byte``); ``[`` attaches to a word before it when it holds a number
  (``args[0]``), and ``{`` when its ``}`` follows soon (``File{Conn}``).
* Closing punctuation ``. , ; : ? ! ) ] } ...`` takes no space before it; opening brackets
  ``( [ {`` and the prefixes ``# $ @ ~ *`` take no space after them (``#123``, ``$HOME``).
* Everything else is separated by a space, ``=`` included (``x = y``: titles write ``x=y`` more
  often, but that is code, and the spaced form reads better in prose).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CLITICS = frozenset(
    form.replace("'", apostrophe)
    for form in ("n't", "'s", "'m", "'ve", "'ll", "'d", "'re")
    for apostrophe in ("'", "\u2019")
)
# spaCy's tokenizer exceptions that split a word written without its apostrophe in two ("dont",
# "Id", "cannot"), as "left_right" in lower case.
_SPLIT_WORDS = frozenset(
    (
        "ai_nt are_nt ca_nt can_not could_nt could_ve dare_nt did_nt do_nt does_nt gon_na got_ta had_nt has_nt "
        "have_nt he_d he_s how_d how_ll how_re how_s how_ve i_d i_m i_ve is_nt it_d it_ll may_nt might_nt might_ve "
        "must_nt must_ve need_nt not_ve ought_nt sha_nt she_s should_nt should_ve that_d that_ll that_s there_d "
        "there_ll there_re there_s there_ve these_d these_ll these_re these_ve they_d they_ll they_re they_ve this_d "
        "this_ll this_s those_d those_ll those_re those_ve was_nt we_d we_ve were_nt what_d what_ll what_re what_s "
        "what_ve when_d when_ll when_re when_s when_ve where_d where_ll where_re where_s where_ve who_d who_ll who_s "
        "who_ve why_d why_ll why_re why_s why_ve wo_nt would_nt would_ve y_all y'_all you_d you_ll you_re you_ve"
    ).split()
)
# Units that spaCy splits off a number written without a space ("8GB", "6g"); words such as "in"
# are left out, since "3 in" is far more often two words.
_UNITS = frozenset("km m cm mm nm µm kg g mg µg t mb kb gb tb k hpa pa mph kmh".split())
_OPERATORS = frozenset(
    {
        ("-", ">"),
        ("=", ">"),
        ("<", "="),
        (">", "="),
        ("=", "="),
        ("!", "="),
        (":", "="),
        ("+", "="),
        ("-", "="),
        ("<", "-"),
        ("&", "&"),
        ("|", "|"),
    }
)
_CLOSING = frozenset({".", ",", ";", ":", "?", "!", ")", "]", "}", "...", "\u2026", "\u201d", "\u2019"})
_OPENING = frozenset({"(", "[", "{", "#", "$", "@", "~", "*", "\u201c", "\u2018"})
_JOINERS = frozenset({"/", "\\"})
_EMPTY_PAIRS = {"(": ")", "{": "}", "[": "]"}
_HYPHENS = frozenset({"-"})
# Words after which "<" starts markup or a key name (`with <C-o>`) rather than a type's parameters.
_FUNCTION_WORDS = frozenset(
    "a an and as at by for from in into is of on or the to when where which while with without".split()
)
_RUST_REFERENCES = frozenset({"mut", "self", "str", "static", "dyn", "_"})
_GENERIC_MAX_TOKENS = 8
_NUMBER = re.compile(r"[-+]?\d[\d.,]*|xxnum")
# Only a number written in digits: the model's "xxnum" placeholder stands for a number that was
# a word of its own, so "xxnum gb" was spaced.
_DIGITS = re.compile(r"\d[\d.,]*")
# A token holding an opening single quote that spaCy did not split off: `u'name`, `x='add`.
_OPENING_SINGLE_INSIDE = re.compile(r"(?:^[A-Za-z]?|[=(\[:,])'[^']+$")
_ATTACHED_PERIOD = re.compile(r"\w*[a-z]\.")
_ABBREVIATIONS = frozenset("co. dr. etc. inc. jr. ltd. mr. mrs. ms. no. st. vs.".split())
_TYPE_TOKEN = re.compile(r"[\w'.:]+|[,&*\[\]()<>]")


def _starts_word(token: str) -> bool:
    return token[:1].isalnum() or token[:1] == "_"


def _ends_word(token: str) -> bool:
    return token[-1:].isalnum() or token[-1:] == "_"


def _lifetimes(tokens: Sequence[str]) -> set[int]:
    """Positions of the `'` of Rust lifetimes such as `'static` or `'a`, which spaCy splits off.

    `'a` counts as a lifetime only when no other bare `'` follows, so that `'a'` stays a quotation.
    """
    found: set[int] = set()
    quote_after = False
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index] != "'":
            continue
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        if after == "static" or (len(after) == 1 and after.isalpha() and after.islower() and not quote_after):
            found.add(index)
        else:
            quote_after = True
    return found


def _quote_roles(tokens: Sequence[str]) -> dict[int, str]:
    """Whether each straight quote token opens ("open") or closes ("close") a quotation.

    Quotes inside other tokens count too: spaCy leaves `dtype="float16` and `u'name` whole and
    splits off only the closing quote.
    """
    roles: dict[int, str] = {}
    lifetimes = _lifetimes(tokens)
    singles = [index for index, token in enumerate(tokens) if token == "'" and index not in lifetimes]
    double_open = single_open = code_open = False
    for index, token in enumerate(tokens):
        if index in lifetimes:
            roles[index] = "open"
        elif token == '"':
            roles[index] = "close" if double_open else "open"
            double_open = not double_open
        elif token == "`":
            # Backticks mark code in a title (`foo_bar()`) and pair up like double quotes.
            roles[index] = "close" if code_open else "open"
            code_open = not code_open
        elif token == "'":
            if single_open:
                roles[index] = "close"
                single_open = False
            elif singles[-1] > index:
                roles[index] = "open"
                single_open = True
            else:
                # An unpaired quote after a plural is a possessive (`users'`); elsewhere it opens.
                roles[index] = "close" if index > 0 and tokens[index - 1][-1:] in ("s", "S") else "open"
        else:
            double_open ^= token.count('"') % 2 == 1
            code_open ^= token.count("`") % 2 == 1
            inside = token.lower() not in _CLITICS and _OPENING_SINGLE_INSIDE.search(token) is not None
            single_open = single_open or inside
    return roles


def _generic_pairs(tokens: Sequence[str]) -> set[int]:
    """Positions of the `<` and `>` tokens that enclose type parameters, such as `Vec < String >`."""
    found: set[int] = set()
    for start, token in enumerate(tokens):
        if token != "<" and token.count("<") > token.count(">"):
            # spaCy leaves `From<&str` whole and splits off only the `>` that closes it.
            closing = _closing_angle(tokens, start)
            if closing is not None:
                found.add(closing)
            continue
        if token != "<" or start in found or (start + 1 < len(tokens) and tokens[start + 1] in ("=", "-")):
            continue
        depth = 0
        for end in range(start + 1, min(len(tokens), start + 1 + _GENERIC_MAX_TOKENS)):
            inner = tokens[end]
            if inner == ">" and tokens[end - 1] not in ("-", "="):
                if depth == 0:
                    if end > start + 1:
                        found.update((start, end))
                    break
                depth -= 1
            elif inner == "<":
                depth += 1
            elif not _TYPE_TOKEN.fullmatch(inner) or (inner.lower() in _FUNCTION_WORDS and tokens[end - 1] != "'"):
                break
    return found


def _closing_underscores(tokens: Sequence[str]) -> set[int]:
    """Positions of the `_` tokens that close a dunder name (`_ _ init _ _` is `__init__`)."""
    found: set[int] = set()
    for index in range(1, len(tokens) - 1):
        word = tokens[index]
        if word == "_" or not _starts_word(word) or tokens[index - 1] != "_" or tokens[index + 1] != "_":
            continue
        end = index + 1
        while end < len(tokens) and tokens[end] == "_":
            found.add(end)
            end += 1
    return found


def _closing_angle(tokens: Sequence[str], start: int) -> int | None:
    """The position of the `>` token that closes a `<` opened inside token `start`, if one does."""
    for end in range(start + 1, min(len(tokens), start + 1 + _GENERIC_MAX_TOKENS)):
        if tokens[end] == ">":
            return end
        if not _TYPE_TOKEN.fullmatch(tokens[end]) or tokens[end].lower() in _FUNCTION_WORDS:
            return None
    return None


def _is_number(token: str) -> bool:
    return _NUMBER.fullmatch(token) is not None


def _split_at_period(tokens: Sequence[str], index: int) -> bool:
    """Whether token `index` ends where spaCy split `lower.Upper` (`tf . Module`, `w. Close`)."""
    left = tokens[index]
    if left == ".":
        return index > 0 and tokens[index - 1][-1:].islower()
    return _ATTACHED_PERIOD.fullmatch(left) is not None and left.lower() not in _ABBREVIATIONS


def _space_between(
    tokens: Sequence[str], index: int, quotes: dict[int, str], generics: set[int], dunders: set[int]
) -> bool:
    """Whether a space separates token `index` from token `index + 1`, by the rules above."""
    left, right = tokens[index], tokens[index + 1]
    left_lower, right_lower = left.lower(), right.lower()
    if right_lower in _CLITICS or f"{left_lower}_{right_lower}" in _SPLIT_WORDS or (left, right) in _OPERATORS:
        return False
    if right_lower in _UNITS and left[-1:].isdigit():
        return False
    if index + 2 < len(tokens) and (right, tokens[index + 2]) in _OPERATORS and right not in _HYPHENS:
        return True
    if left == "!" and right == "(":
        return False
    if quotes.get(index) == "open" or quotes.get(index + 1) == "close":
        return False
    if index + 1 in generics and right == "<":
        return not _ends_word(left) or left_lower in _FUNCTION_WORDS
    if (index in generics and left == "<") or (index + 1 in generics and right == ">"):
        return False
    if left in _JOINERS or right in _JOINERS:
        return False
    if left == "_":
        return index in dunders and right != "_" and _starts_word(right)
    if right == "_":
        if index + 1 in dunders:
            return False
        # Trailing underscores (`init_`, `__init__`) attach; a leading one (`a _private`) is spaced.
        after_run = index + 2
        while after_run < len(tokens) and tokens[after_run] == "_":
            after_run += 1
        after = tokens[after_run] if after_run < len(tokens) else ""
        return not (left == "&" or _ends_word(left) and not _starts_word(after))
    if left == ":" and right[:1].isalpha() and (index == 0 or tokens[index - 1].lower() in _FUNCTION_WORDS):
        # A command such as vim's `:terminal`, written after a function word or at the start.
        return False
    if right == ":" and left.lower() in _FUNCTION_WORDS and index + 2 < len(tokens) and tokens[index + 2][:1].isalpha():
        return True
    if right in _HYPHENS or left in _HYPHENS:
        hyphen = index + 1 if right in _HYPHENS else index
        before, after = tokens[hyphen - 1] if hyphen > 0 else "", tokens[hyphen + 1] if hyphen + 1 < len(tokens) else ""
        return not (_ends_word(before) and _starts_word(after))
    if right == "%":
        return not _is_number(left)
    if left == "%":
        return _is_number(tokens[index - 1]) if index > 0 else False
    if left == "&":
        # `&T` is a reference to a type parameter, while `Q & a` keeps its spaces.
        return not (right_lower in _RUST_REFERENCES or len(right) == 1 and right.isupper() or index == 0)
    if right == "#" and left in ("C", "F", "J", "c", "f", "j"):
        return False
    if left == "#" and index > 0 and tokens[index - 1] in ("C", "F", "J", "c", "f", "j"):
        return True
    if right[:1].isupper() and _split_at_period(tokens, index):
        return False
    if left in _EMPTY_PAIRS and right == _EMPTY_PAIRS[left]:
        return False
    if right in _EMPTY_PAIRS and index + 2 < len(tokens) and tokens[index + 2] == _EMPTY_PAIRS[right]:
        # `foo ( )` is a call and `{ }` an empty literal; `[ ]` is Go's slice prefix (`[]byte`).
        return right == "[" or not _ends_word(left)
    if left == "]" and index > 0 and tokens[index - 1] == "[":
        return not _starts_word(right)
    if right == "[" and _ends_word(left) and index + 3 < len(tokens) and tokens[index + 3] == "]":
        return not _is_number(tokens[index + 2])
    if right == "{" and _ends_word(left) and "}" in tokens[index + 2 : index + 2 + _GENERIC_MAX_TOKENS]:
        return False
    if right == "+" and _DIGITS.fullmatch(left):
        return False
    if right in _CLOSING or right.startswith(")"):
        return False
    if left in _OPENING:
        return False
    return True


def detokenize(tokens: Sequence[str], spaces_after: Sequence[bool | None] | None = None) -> str:
    """Join title tokens as English text.

    `spaces_after[i]`, when given and not None, says whether a space separates token i from
    token i + 1; it has one entry per token (the last is ignored) or one per gap. Every other gap
    follows the rules in this module's docstring. Pure and fast: no spaCy needed.
    """
    if spaces_after is not None and len(spaces_after) not in (len(tokens), max(len(tokens) - 1, 0)):
        raise ValueError(f"spaces_after has {len(spaces_after)} entries for {len(tokens)} tokens")
    tokens = list(tokens)
    if not tokens:
        return ""
    quotes = _quote_roles(tokens)
    generics = _generic_pairs(tokens)
    dunders = _closing_underscores(tokens)
    parts = [tokens[0]]
    for index in range(len(tokens) - 1):
        known = spaces_after[index] if spaces_after is not None else None
        space = known if known is not None else _space_between(tokens, index, quotes, generics, dunders)
        if space:
            parts.append(" ")
        parts.append(tokens[index + 1])
    return "".join(parts)
